#!/usr/bin/env bash
# Runs the benchmark scenarios against a release build: wrk pinned to core 0, the server to core 1.
#   bench/run.sh [embedded|distributed]     (distributed needs scripts/services.sh's Redis + PostgreSQL)
# Prints one RESULT line per scenario and checks the sale invariants afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-embedded}
port=${PORT:-18181}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-100}
key=bench-admin-key
url=http://127.0.0.1:$port
data=$(mktemp -d)

[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-release >/dev/null

args=(serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$data")
if [ "$mode" = distributed ]; then
  args+=(--redis "${REDIS_URL:?set REDIS_URL}" --postgres "${DATABASE_URL:?set DATABASE_URL}" --with-worker)
fi
taskset -c 1 ./build-release/flashsale "${args[@]}" 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done

create() { # sku stock
  curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$1\",\"productName\":\"bench\",\"initialStock\":$2,\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null
}
run() { # name lua sku
  printf '%-12s ' "$1"
  SKU=$3 USER_PREFIX="$1-$RANDOM" taskset -c 0 wrk -t1 -c"$connections" -d"$duration" -s "bench/$2" "$url" | grep RESULT
}
sold() {
  curl -sf "$url/api/v1/products/$1" -H "X-Admin-Key: $key" |
    sed -E 's/.*"currentStock":([0-9]+),"totalPurchases":([0-9]+).*/stock=\1 sold=\2/'
}

create BENCH-STORM 100
create BENCH-ALL 100000000
# warm up: connections, page cache, allocator
SKU=BENCH-STORM taskset -c 0 wrk -t1 -c"$connections" -d2s -s bench/status.lua "$url" >/dev/null
run storm purchase.lua BENCH-STORM
echo "             storm after: $(sold BENCH-STORM) (expected stock=0 sold=100)"
run all-success purchase.lua BENCH-ALL
echo "             all-success after: $(sold BENCH-ALL)"
run status status.lua BENCH-STORM
