#!/usr/bin/env bash
# Is `flashsale loadtest` ever the bottleneck? It and `wrk -t1` drive the same server, one after the
# other, from the same core, with the same connections and duration, and each prints its rate.
#   bench/loadtest-vs-wrk.sh            (ROUNDS, DURATION, CONNECTIONS, PORT override the defaults)
# The server (release build, embedded mode, --threads 1) runs on core 1, the load generators on core 0.
# Two scenarios, alternating the tools each round so that drifts of the machine hit both alike:
#   storm   POST /api/v1/purchases, every request a new buyer, on a sale of stock 100 (bench/purchase.lua)
#   status  GET /api/v1/sales?sku= (bench/status.lua; the tool's --mix status=100,purchase=0)
# The target is loadtest >= 0.8 x wrk; the last lines print each tool's median and the ratio.
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

wrk_rate() { # scenario sku
  local lua=purchase.lua
  [ "$1" = status ] && lua=status.lua
  SKU=$2 USER_PREFIX="wrk-$RANDOM$RANDOM" taskset -c 0 wrk -t1 -c"$connections" -d"$duration" -s "bench/$lua" "$url" |
    sed -nE 's/^RESULT .* rps=([0-9]+) .*/\1/p'
}

loadtest_rate() { # scenario sku
  local mix=()
  [ "$1" = status ] && mix=(--mix status=100,purchase=0)
  taskset -c 0 "$bin" loadtest --url "$url" --sku "$2" --threads 1 --connections "$connections" --duration "$duration" \
    --buyers 1000000000 --no-verify "${mix[@]}" --json "$data/run.json" >/dev/null 2>&1 || true
  sed -nE 's/^  "requestsPerSecond": ([0-9]+).*/\1/p' "$data/run.json"
}

median() {
  sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
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
      rate=$("${tool}_rate" "$scenario" BENCH-VS-STORM)
      echo "$rate" >>"$data/$tool.$scenario"
      printf '%-7s round %d  %-9s %8s req/s\n' "$scenario" "$round" "$tool" "$rate"
    done
  done
done
echo
for scenario in storm status; do
  w=$(median <"$data/wrk.$scenario")
  l=$(median <"$data/loadtest.$scenario")
  awk -v s="$scenario" -v w="$w" -v l="$l" \
    'BEGIN { printf "%-7s median  wrk -t1 %8d req/s   flashsale loadtest --threads 1 %8d req/s   ratio %.2f\n", s, w, l, l / w }'
done
