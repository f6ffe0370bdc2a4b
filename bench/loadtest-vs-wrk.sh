#!/usr/bin/env bash
# Is `flashsale loadtest` ever the bottleneck? It and `wrk -t1` drive the same server, one after the
# other, from the same core, with the same connections and duration, and each prints its rate.
#   bench/loadtest-vs-wrk.sh            (ROUNDS, DURATION, CONNECTIONS, PORT override the defaults)
# The server (release build, embedded mode, --threads 1) runs on core 1, the load generators on core 0.
# Two scenarios, alternating the tools each round so that drifts of the machine hit both alike:
#   storm   POST /api/v1/purchases, every request a new buyer, on a sale of stock 100 (bench/purchase.lua)
#   status  GET /api/v1/sales?sku= (bench/status.lua; the tool's --mix status=100,purchase=0)
# The target is loadtest >= 0.8 x wrk; the last lines print each tool's median and the ratio. Each
# run also prints the tool's own CPU time per request (user + system, from the shell's `time`), which
# says the same more steadily on a machine that is busy with other work.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-18182}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-100}
rounds=${ROUNDS:-3}
key=bench-admin-key
url=http://127.0.0.1:$port
data=$(mktemp -d)

[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-release >/dev/null
bin=./build-release/flashsale

taskset -c 1 "$bin" serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$data" 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done

create() { # sku stock
  curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$1\",\"productName\":\"bench\",\"initialStock\":$2,\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null
}

TIMEFORMAT='%U %S'

# Each prints "RATE REQUESTS USER_SECONDS SYSTEM_SECONDS".
wrk_run() { # scenario sku
  local lua=purchase.lua cpu
  [ "$1" = status ] && lua=status.lua
  cpu=$({ time SKU=$2 USER_PREFIX="wrk-$RANDOM$RANDOM" taskset -c 0 wrk -t1 -c"$connections" -d"$duration" \
    -s "bench/$lua" "$url" >"$data/wrk.out"; } 2>&1)
  echo "$(sed -nE 's/^RESULT requests=([0-9]+) .* rps=([0-9]+) .*/\2 \1/p' "$data/wrk.out") $cpu"
}

loadtest_run() { # scenario sku
  local mix=() cpu
  [ "$1" = status ] && mix=(--mix status=100,purchase=0)
  cpu=$({ time taskset -c 0 "$bin" loadtest --url "$url" --sku "$2" --threads 1 --connections "$connections" \
    --duration "$duration" --buyers 1000000000 --no-verify "${mix[@]}" --json "$data/run.json" >/dev/null 2>&1; } 2>&1)
  echo "$(sed -nE 's/^  "requestsPerSecond": ([0-9]+).*/\1/p' "$data/run.json")" \
    "$(sed -nE 's/^  "requests": ([0-9]+).*/\1/p' "$data/run.json") $cpu"
}

median() { # column
  awk -v c="$1" '{ print $c }' | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

create BENCH-VS-STORM 100
# warm-up: connections, page cache, allocator
SKU=BENCH-VS-STORM taskset -c 0 wrk -t1 -c"$connections" -d2s -s bench/status.lua "$url" >/dev/null

for scenario in storm status; do
  : >"$data/wrk.$scenario"
  : >"$data/loadtest.$scenario"
  for round in $(seq "$rounds"); do
    # alternate which tool goes first
    if [ $((round % 2)) = 1 ]; then order="wrk loadtest"; else order="loadtest wrk"; fi
    for tool in $order; do
      read -r rate requests user system < <("${tool}_run" "$scenario" BENCH-VS-STORM)
      cost=$(awk -v u="$user" -v s="$system" -v n="$requests" 'BEGIN { printf "%.1f", (u + s) * 1e6 / n }')
      echo "$rate $cost" >>"$data/$tool.$scenario"
      printf '%-7s round %d  %-9s %8s req/s  %6s us CPU per request\n' "$scenario" "$round" "$tool" "$rate" "$cost"
    done
  done
done
echo
for scenario in storm status; do
  w=$(median 1 <"$data/wrk.$scenario")
  l=$(median 1 <"$data/loadtest.$scenario")
  wc=$(median 2 <"$data/wrk.$scenario")
  lc=$(median 2 <"$data/loadtest.$scenario")
  awk -v s="$scenario" -v w="$w" -v l="$l" -v wc="$wc" -v lc="$lc" 'BEGIN {
    printf "%-7s median  wrk -t1 %8d req/s (%5.1f us CPU/req)   flashsale loadtest --threads 1 %8d req/s (%5.1f us CPU/req)   ratio %.2f\n",
      s, w, wc, l, lc, l / w }'
done
