#!/usr/bin/env bash
# Runs the benchmark scenarios against a release build: `flashsale loadtest` pinned to core 0, the
# server to core 1.
#   bench/run.sh [embedded|distributed]     (distributed needs scripts/services.sh's Redis + PostgreSQL)
# Prints one RESULT line per scenario; each run is verified through the API by the tool (PASS/FAIL),
# and leaves its report, JSON and charts in $OUT (default bench/results/MODE/): SCENARIO.html,
# SCENARIO.json, SCENARIO.txt and SCENARIO/{throughput,latency,histogram}.svg. CHARTS=DIR also copies
# the storm's charts to DIR/MODE-storm/ (docs/benchmarks.md embeds docs/benchmarks/MODE-storm/).
# Distributed mode, WORKER=inline (default): the worker runs inside the server (serve --with-worker),
# persisting while the scenarios run. WORKER=after: no worker during the scenarios (orders wait in
# the streams, as during a burst the persistence lags behind); after the all-success run a
# `flashsale worker` drains them and its rate into PostgreSQL is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-embedded}
port=${PORT:-18181}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-100}
key=bench-admin-key
url=http://127.0.0.1:$port
data=$(mktemp -d)
out=${OUT:-bench/results/$mode}
mkdir -p "$out"

[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-release >/dev/null

worker=${WORKER:-inline}
args=(serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$data")
if [ "$mode" = distributed ]; then
  args+=(--redis "${REDIS_URL:?set REDIS_URL}" --postgres "${DATABASE_URL:?set DATABASE_URL}")
  case $worker in
    inline) args+=(--with-worker) ;;
    after) ;;
    *) echo "WORKER must be inline or after" >&2; exit 2 ;;
  esac
fi
taskset -c 1 ./build-release/flashsale "${args[@]}" 2>"$data/server.log" &
server=$!
worker_pid=
trap 'kill $server $worker_pid 2>/dev/null; wait $server $worker_pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done

create() { # sku stock
  curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$1\",\"productName\":\"bench\",\"initialStock\":$2,\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null
}
# One scenario with the tool: every purchase a buyer never seen before (distinct ids per run), or only
# status polls. The RESULT line is read from the run's JSON.
run() { # name sku [loadtest options]
  local name=$1 sku=$2 status=0
  shift 2
  printf '%-12s ' "$name"
  taskset -c 0 ./build-release/flashsale loadtest --url "$url" --sku "$sku" "${admin[@]}" --threads 1 \
    --connections "$connections" --duration "$duration" --buyers 1000000000 --verify-timeout 300s \
    --json "$out/$name.json" --report "$out/$name.html" --svg-dir "$out/$name" "$@" >"$out/$name.txt" 2>&1 || status=$?
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`RESULT requests=${j.requests} duration_s=${j.durationSeconds.toFixed(3)} rps=${Math.round(j.requestsPerSecond)}` +
      ` p50_ms=${j.latencyMs.p50.toFixed(3)} p99_ms=${j.latencyMs.p99.toFixed(3)} errors=${j.errors}` +
      ` verification=${j.passed ? "PASS" : "FAIL"}`);' "$out/$name.json" ||
    echo "loadtest exit $status: see $out/$name.txt"
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

# Distributed mode: Redis' own record of the moments its one thread stalled for 2 ms or more
# (LATENCY LATEST: event, worst and latest stall in ms), such as an fsync of the append-only file
# or the fork of a rewrite. Every request in flight waits for such a stall.
redis_stalls_reset() {
  [ "$mode" = distributed ] || return 0
  redis-cli -u "$REDIS_URL" config set latency-monitor-threshold 2 >/dev/null
  redis-cli -u "$REDIS_URL" latency reset >/dev/null
}
redis_stalls() {
  [ "$mode" = distributed ] || return 0
  redis-cli -u "$REDIS_URL" --raw latency latest | awk '
    NR % 4 == 1 { event = $0 }
    NR % 4 == 3 { latest = $0 }
    NR % 4 == 0 { printf " %s (worst %s ms, latest %s ms)", event, $0, latest }
    END { print "" }' | sed 's/^/             redis stalls >= 2 ms:/'
}
outbox_length() {
  curl -sf "$url/metrics" | awk '$1 == "flashsale_outbox_length" { print $2 }'
}
# Distributed mode: how long after the run the last order reached PostgreSQL. With WORKER=after the
# worker starts only now, so this is its rate on a backlog. The gauge is sampled about once a second.
outbox_drain() {
  [ "$mode" = distributed ] || return 0
  local waiting start=$SECONDS
  waiting=$(outbox_length)
  if [ "$worker" = after ]; then
    taskset -c 1 ./build-release/flashsale worker --redis "$REDIS_URL" --postgres "$DATABASE_URL" \
      2>"$data/worker.log" &
    worker_pid=$!
  fi
  until [ "$(outbox_length)" = 0 ]; do
    [ $((SECONDS - start)) -lt 600 ] || { echo "             outbox not drained after 600 s"; return 0; }
    sleep 0.2
  done
  local took=$((SECONDS - start)) rate=
  [ "$worker" = inline ] || rate=" (~$((waiting / (took > 0 ? took : 1))) orders/s into PostgreSQL)"
  echo "             outbox: $waiting orders waiting at the end, all in PostgreSQL ${took} s later$rate"
}

admin=(--admin-key "$key")
# A suffix per run, so that runs against the same Redis and PostgreSQL do not collide.
storm=BENCH-STORM-$$
all=BENCH-ALL-$$
create "$storm" 100
create "$all" 100000000
# warm up: connections, page cache, allocator
taskset -c 0 ./build-release/flashsale loadtest --url "$url" --sku "$storm" --connections "$connections" \
  --duration 2s --mix status=100,purchase=0 --no-verify >/dev/null 2>&1
run storm "$storm"
if [ -n "${CHARTS:-}" ]; then
  mkdir -p "$CHARTS/$mode-storm"
  cp "$out/storm/"*.svg "$CHARTS/$mode-storm/"
fi
echo "             storm after: $(sold "$storm") (expected stock=0 sold=100)"
engine_metrics
redis_stalls_reset
# WORKER=after: no worker until the drain below, so the orders list cannot fill during the
# verification: that run keeps to the public check (the admin checks are SKIPPED).
[ "$mode" = distributed ] && [ "$worker" = after ] && admin=()
run all-success "$all"
admin=(--admin-key "$key")
echo "             all-success after: $(sold "$all")"
engine_metrics
redis_stalls
outbox_drain
run status "$storm" --mix status=100,purchase=0
