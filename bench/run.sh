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
# Distributed mode: the engine's counters so far (Redis commands, answers from the sold-out cache) and
# the orders still waiting in the streams for PostgreSQL.
engine_metrics() {
  [ "$mode" = distributed ] || return 0
  curl -sf "$url/metrics" | awk '
    $1 == "flashsale_redis_commands_total" { commands = $2 }
    $1 == "flashsale_sold_out_cache_answers_total" { cached = $2 }
    $1 == "flashsale_outbox_length" { waiting = $2 }
    END { printf "             redis_commands=%d sold_out_cache_answers=%d outbox_length=%d\n", commands, cached, waiting }'
}

# A suffix per run, so that runs against the same Redis and PostgreSQL do not collide.
storm=BENCH-STORM-$$
all=BENCH-ALL-$$
create "$storm" 100
create "$all" 100000000
# warm up: connections, page cache, allocator
SKU=$storm taskset -c 0 wrk -t1 -c"$connections" -d2s -s bench/status.lua "$url" >/dev/null
run storm purchase.lua "$storm"
echo "             storm after: $(sold "$storm") (expected stock=0 sold=100)"
engine_metrics
run all-success purchase.lua "$all"
echo "             all-success after: $(sold "$all")"
engine_metrics
run status status.lua "$storm"
