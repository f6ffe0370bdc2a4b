#!/usr/bin/env bash
# Instructions per request: the server's work, counted by callgrind, for binaries to compare.
#   bench/instructions.sh BIN_A [BIN_B ...]     MODE=distributed: with REDIS_URL and DATABASE_URL
# A virtual machine's request rate swings by a third from run to run with its neighbours' load
# (see docs/benchmarks.md); an instruction count does not: the same binary and the same requests
# give the same count whatever else the machine does. So a change that must not cost anything
# (a new layout, a new transport) is compared here, and the rates say the rest.
#
# Each binary runs `serve --threads 1` (embedded, a fresh data directory; or distributed with the
# worker inside the server) under
# `valgrind --tool=callgrind`; after a warm-up the counters are zeroed, one scenario runs with
# `flashsale loadtest` (LOADTEST, default build-release's), and the counters are dumped: every
# thread of the server counts (loops, ledger, audit). Scenarios: storm (stock 100, REQUESTS distinct
# buyers), all-success (stock 10^8, REQUESTS buyers), status (GET of the sale for 8 s). Prints one
# line per binary and scenario: requests answered and instructions per request.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { echo "usage: bench/instructions.sh BIN [BIN...]" >&2; exit 2; }
requests=${REQUESTS:-20000}
port=${PORT:-18184}
key=bench-admin-key
url=http://127.0.0.1:$port
loadtest=${LOADTEST:-build-release/flashsale}
work=$(mktemp -d)
server=
trap '[ -z "$server" ] || kill $server 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

run() { # bin, scenario
  local out=$work/callgrind.out
  rm -f "$out"*
  local args=(serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$work/data-$RANDOM")
  [ "${MODE:-embedded}" = distributed ] &&
    args+=(--redis "${REDIS_URL:?set REDIS_URL}" --postgres "${DATABASE_URL:?set DATABASE_URL}" --with-worker)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$1" "${args[@]}" 2>>"$work/server.log" &
  server=$!
  for _ in $(seq 300); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
  local sku=INS-$$-$RANDOM stock=100 load=(--buyers "$requests")
  [ "$2" = all-success ] && stock=100000000
  [ "$2" = status ] && load=(--mix status=100,purchase=0 --duration 8s)
  curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$sku\",\"productName\":\"bench\",\"initialStock\":$stock,\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null
  # warm-up on a sale of its own: connections, allocator, page cache, SQLite's statements
  curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$sku-WARM\",\"productName\":\"bench\",\"initialStock\":100000000,\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null
  "$loadtest" loadtest --url "$url" --sku "$sku-WARM" --buyers 2000 --connections 50 --no-verify >/dev/null 2>&1
  callgrind_control --zero "$server" >/dev/null 2>&1
  "$loadtest" loadtest --url "$url" --sku "$sku" --connections 50 --no-verify --json "$work/run.json" \
    "${load[@]}" >/dev/null 2>&1
  callgrind_control --dump "$server" >/dev/null 2>&1
  kill "$server"
  wait "$server" || true
  server=
  local count instructions
  count=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/run.json")
  instructions=$(cat "$out".* | awk '$1 == "totals:" || $1 == "summary:" { n = $2 } END { print n }')
  printf 'RESULT bin=%s scenario=%s requests=%s instructions_per_request=%.0f\n' "$1" "$2" "$count" \
    "$(awk -v i="$instructions" -v n="$count" 'BEGIN { print i / n }')"
}

for scenario in storm all-success status; do
  for bin in "$@"; do run "$bin" "$scenario"; done
done
