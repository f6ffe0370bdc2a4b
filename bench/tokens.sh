#!/usr/bin/env bash
# The cost of verified identity: the same purchase storm in header mode and in jwt mode with HS256,
# RS256 and ES256 tokens, against a release build (wrk pinned to core 0, the server to core 1).
#   bench/tokens.sh            (embedded mode)
# BUYERS buyers (default 2000) each hold one token and press "Buy" over and over, all against one
# sale with more stock than buyers: each buyer's first request buys, the rest are ALREADY_PURCHASED.
# Prints one RESULT line per scenario and each jwt scenario's throughput as a share of header mode's;
# the issue's bound is RS256 >= 0.8 x header. Every 2xx must be a purchase answer, never a 401.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-18182}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-100}
buyers=${BUYERS:-2000}
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
node bench/mint-tokens.mjs header - "$buyers" >"$work/header.txt"
node bench/mint-tokens.mjs hs256 "$secret" "$buyers" >"$work/hs256.txt"
node bench/mint-tokens.mjs rs256 "$work/rsa.pem" "$buyers" >"$work/rs256.txt"
node bench/mint-tokens.mjs es256 "$work/ec.pem" "$buyers" >"$work/es256.txt"

stop() {
  [ -n "$server" ] || return 0
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
}
trap 'stop; rm -rf "$work"' EXIT

# scenario name, then the server's auth flags
scenario() {
  local name=$1 data="$work/data-$1" sku="BENCH-TOKENS-$1-$$" auth=jwt
  shift
  [ "$name" = header ] && auth=header
  mkdir -p "$data"
  taskset -c 1 ./build-release/flashsale serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$data" \
    "$@" 2>"$work/server-$name.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$sku\",\"productName\":\"bench\",\"initialStock\":$((buyers * 2)),\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null
  # warm-up: every buyer once (their purchase, and their token into the cache)
  SKU=$sku AUTH=$auth TOKENS="$work/$name.txt" taskset -c 0 wrk -t1 -c"$connections" -d2s -s bench/token-storm.lua "$url" >/dev/null
  printf '%-8s ' "$name"
  SKU=$sku AUTH=$auth TOKENS="$work/$name.txt" taskset -c 0 wrk -t1 -c"$connections" -d"$duration" \
    -s bench/token-storm.lua "$url" | grep RESULT | tee "$work/result-$name"
  local sold
  sold=$(curl -sf "$url/api/v1/products/$sku" -H "X-Admin-Key: $key" | sed -E 's/.*"totalPurchases":([0-9]+).*/\1/')
  echo "         sold=$sold (expected $buyers: each buyer once)"
  stop
}

rps() { sed -E 's/.*rps=([0-9]+).*/\1/' "$work/result-$1"; }

scenario header
scenario hs256 --auth jwt --jwt-secret "$secret"
scenario rs256 --auth jwt --jwt-public-key "$work/rsa.pub"
scenario es256 --auth jwt --jwt-public-key "$work/ec.pub"
for name in hs256 rs256 es256; do
  awk -v jwt="$(rps "$name")" -v header="$(rps header)" -v name="$name" \
    'BEGIN { printf "%-8s %.2f x header mode\n", name, jwt / header }'
done
