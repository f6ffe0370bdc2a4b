#!/usr/bin/env bash
# Before and after: the same wrk scenarios against two or more flashsale binaries, in alternating
# rounds (A B A B ...), so that a machine that drifts during the run drifts for every binary alike.
#   bench/compare.sh [embedded|distributed] BIN_A BIN_B [BIN_C ...]
# (distributed: REDIS_URL and DATABASE_URL, as run.sh; every round uses skus of its own.)
# Each round starts each binary afresh (serve --threads 1 on SERVER_CPU, default 1) and drives it with
# `wrk -t1 -c100` on LOAD_CPU (default 0) for DURATION seconds (10) after a 2 s warm-up, in three
# scenarios: storm (stock 100, every request a new buyer), all-success (stock 10^8), status (GET of
# the sale). Prints every run's RESULT line, then per scenario each binary's median rate and p99 and
# its ratio to the first binary. ROUNDS (3). wrk rather than `flashsale loadtest`, so that binaries
# from before the tool existed are driven exactly like the newer ones.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=$1
shift
[ $# -ge 2 ] || { echo "usage: bench/compare.sh embedded|distributed BIN_A BIN_B [BIN...]" >&2; exit 2; }
bins=("$@")
rounds=${ROUNDS:-3}
duration=${DURATION:-10}
port=${PORT:-18183}
server_cpu=${SERVER_CPU:-1}
load_cpu=${LOAD_CPU:-0}
key=bench-admin-key
url=http://127.0.0.1:$port
work=$(mktemp -d)
server=
trap '[ -z "$server" ] || kill $server 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

start() { # binary, round -> starts it, waits for /health
  local args=(serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$work/data-$2")
  [ "$mode" = distributed ] &&
    args+=(--redis "${REDIS_URL:?set REDIS_URL}" --postgres "${DATABASE_URL:?set DATABASE_URL}" --with-worker)
  taskset -c "$server_cpu" "$1" "${args[@]}" 2>>"$work/server.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && return; sleep 0.1; done
  echo "the server did not start: $(tail -3 "$work/server.log")" >&2
  exit 1
}
stop() {
  kill "$server"
  wait "$server" || true
  server=
}
create() { # sku, stock
  curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$1\",\"productName\":\"bench\",\"initialStock\":$2,\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null
}
drive() { # seconds, script, sku -> RESULT line
  SKU=$3 USER_PREFIX="$3-$RANDOM" taskset -c "$load_cpu" wrk -t1 -c100 -d"$1s" -s "bench/$2" "$url" | grep RESULT
}

for round in $(seq "$rounds"); do
  for i in "${!bins[@]}"; do
    start "${bins[$i]}" "$round-$i"
    for scenario in storm all-success status; do
      sku=CMP-$$-$round-$i-$scenario
      case $scenario in
        storm) create "$sku" 100; script=purchase.lua ;;
        all-success) create "$sku" 100000000; script=purchase.lua ;;
        status) create "$sku" 100; script=status.lua ;;
      esac
      drive 2 "$script" "$sku" >/dev/null
      line=$(drive "$duration" "$script" "$sku")
      echo "round=$round bin=$i scenario=$scenario $line" | tee -a "$work/results"
    done
    stop
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { # scenario, bin, field
  grep "bin=$2 scenario=$1 " "$work/results" | sed -E "s/.* $3=([0-9.]+).*/\1/" | median
}
echo
for i in "${!bins[@]}"; do echo "bin $i: ${bins[$i]}"; done
for scenario in storm all-success status; do
  base=$(field "$scenario" 0 rps)
  for i in "${!bins[@]}"; do
    rps=$(field "$scenario" "$i" rps)
    printf 'SUMMARY %s scenario=%s bin=%d median_rps=%s median_p99_ms=%s ratio=%.3f\n' "$mode" "$scenario" "$i" \
      "$rps" "$(field "$scenario" "$i" p99_ms)" "$(awk -v a="$rps" -v b="$base" 'BEGIN { print a / b }')"
  done
done
