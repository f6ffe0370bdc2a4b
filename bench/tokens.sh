#!/usr/bin/env bash
# The cost of verified identity: the same purchase storm in header mode and in jwt mode with HS256,
# RS256 and ES256 tokens, against a release build (`flashsale loadtest` pinned to core 0, the server
# to core 1), embedded mode.
#   bench/tokens.sh            (BUYERS=2000 ATTEMPTS=50 CONNECTIONS=100 ROUNDS=3 by default)
# BUYERS buyers each hold one token and press "Buy" ATTEMPTS times, against one sale with more stock
# than buyers: each buyer's first attempt buys, the rest are ALREADY_PURCHASED, decided from memory,
# so the runs differ only in how the buyer is identified; a token is verified once per loop thread
# and then answered from the loop's cache. The modes run in turn, ROUNDS times; each run's rate and
# the median of each mode's are printed, then each jwt mode's median as a share of header mode's
# (the bound: RS256 >= 0.8 x header). A run that saw an error or a 401 fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-18182}
buyers=${BUYERS:-2000}
attempts=${ATTEMPTS:-50}
connections=${CONNECTIONS:-100}
rounds=${ROUNDS:-3}
key=bench-admin-key
secret=bench-secret-of-at-least-thirty-two-bytes
url=http://127.0.0.1:$port
work=$(mktemp -d)
server=

[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-release >/dev/null

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa.pem" 2>/dev/null
openssl pkey -in "$work/rsa.pem" -pubout -out "$work/rsa.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ec.pem" 2>/dev/null
openssl pkey -in "$work/ec.pem" -pubout -out "$work/ec.pub"

stop() {
  [ -n "$server" ] || return 0
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
}
trap 'stop; rm -rf "$work"' EXIT

server_flags() {
  case $1 in
    header) ;;
    hs256) echo --auth jwt --jwt-secret "$secret" ;;
    rs256) echo --auth jwt --jwt-public-key "$work/rsa.pub" ;;
    es256) echo --auth jwt --jwt-public-key "$work/ec.pub" ;;
  esac
}
client_flags() {
  case $1 in
    header) ;;
    hs256) echo --jwt-secret "$secret" ;;
    rs256) echo --jwt-private-key "$work/rsa.pem" ;;
    es256) echo --jwt-private-key "$work/ec.pem" ;;
  esac
}

# mode round: one server, one storm; prints the rate
run() {
  local mode=$1 round=$2 data="$work/data-$1-$2" json="$work/$1-$2.json"
  mkdir -p "$data"
  # shellcheck disable=SC2046
  taskset -c 1 ./build-release/flashsale serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$data" \
    $(server_flags "$mode") 2>"$work/server-$mode-$round.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
  # shellcheck disable=SC2046
  taskset -c 0 ./build-release/flashsale loadtest --url "$url" --create --sku "BENCH-TOKENS-$mode-$round-$$" \
    --stock $((buyers * 2)) --admin-key "$key" --buyers "$buyers" --attempts-per-buyer "$attempts" \
    --connections "$connections" --threads 1 --no-verify --max-error-rate 0 $(client_flags "$mode") \
    --json "$json" >"$work/loadtest-$mode-$round.txt"
  stop
  python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['errors'] == 0 and d['passed'], d
print(round(d['requestsPerSecond']))" "$json"
}

declare -A rates
for round in $(seq "$rounds"); do
  for mode in header hs256 rs256 es256; do
    rate=$(run "$mode" "$round")
    rates[$mode]="${rates[$mode]:-} $rate"
    printf 'RESULT mode=%s round=%d rps=%s\n' "$mode" "$round" "$rate"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
header=$(echo "${rates[header]}" | median)
for mode in header hs256 rs256 es256; do
  m=$(echo "${rates[$mode]}" | median)
  awk -v m="$m" -v h="$header" -v name="$mode" 'BEGIN { printf "%-8s median %d req/s, %.2f x header mode\n", name, m, m / h }'
done
