#!/usr/bin/env bash
# The live events under a purchase storm: one server instance holds SUBSCRIBERS event streams of
# one sale (bench/sse_client.c, one process, epoll) while wrk buys that sale as fast as it can.
#   bench/events.sh [embedded|distributed]    (distributed: REDIS_URL and DATABASE_URL, as run.sh)
# Prints one RESULT line per storm and a SUMMARY: the subscribers held, the server's memory per
# subscriber, the storm's throughput without and with them (and their ratio), and the delay from a
# purchase to its event at the subscribers (p50, p99, max over every 10th stream and a probe
# purchase every 100 ms, each timed from the moment its request left) during the storm, and again
# under a paced load of RATE purchases a second (flashsale loadtest --rate), which leaves the server
# time to spare: the delay a sale's subscribers see when purchases do not saturate it.
# SUBSCRIBERS (10000), DURATION (10 s), CONNECTIONS (100, wrk's), RATE (1000), PORT (18182); the
# server runs with --threads THREADS (1) on SERVER_CPU (1), wrk on LOAD_CPU (0), the subscribers on
# CLIENT_CPU (default LOAD_CPU: on two cores the subscribers' client takes its CPU from wrk, which
# lowers the second storm for reasons outside the server; give it a core of its own where there is
# one). FLASHSALE (build-release/flashsale, built first) is the server, for before/after runs.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-embedded}
port=${PORT:-18182}
duration=${DURATION:-10}
connections=${CONNECTIONS:-100}
subscribers=${SUBSCRIBERS:-10000}
threads=${THREADS:-1}
rate=${RATE:-1000}
server_cpu=${SERVER_CPU:-1}
load_cpu=${LOAD_CPU:-0}
client_cpu=${CLIENT_CPU:-$load_cpu}
key=bench-admin-key
url=http://127.0.0.1:$port
data=$(mktemp -d)

# The server and the client each hold one socket per stream (each process has its own limit).
need=$((subscribers + 1024))
[ "$(ulimit -n)" -ge "$need" ] || ulimit -n "$need" ||
  { echo "the open file limit is below $need and cannot be raised" >&2; exit 1; }

[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-release >/dev/null
flashsale=${FLASHSALE:-./build-release/flashsale}

args=(serve --port "$port" --admin-key "$key" --threads "$threads" --data-dir "$data" --max-subscribers $((subscribers + 100)))
[ "$mode" = distributed ] &&
  args+=(--redis "${REDIS_URL:?set REDIS_URL}" --postgres "${DATABASE_URL:?set DATABASE_URL}" --with-worker)
taskset -c "$server_cpu" "$flashsale" "${args[@]}" 2>"$data/server.log" &
server=$!
client=
pacer=
trap 'kill $server $client $pacer 2>/dev/null; wait $server $client $pacer 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done

sku=BENCH-EVENTS-$$
curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
  -d "{\"sku\":\"$sku\",\"productName\":\"bench\",\"initialStock\":100000000,\"startTime\":\"2020-01-01T00:00:00Z\",\"endTime\":\"2099-01-01T00:00:00Z\"}" >/dev/null

cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$server/stat"
}
storm() { # name -> prints its RESULT line, sets rps and us_per_request (the server's CPU time a request)
  local line before requests
  before=$(cpu_ticks)
  line=$(SKU=$sku USER_PREFIX="$1-$$" taskset -c "$load_cpu" wrk -t1 -c"$connections" -d"${duration}s" \
    -s bench/purchase.lua "$url" | grep RESULT)
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  us_per_request=$(awk -v t=$(($(cpu_ticks) - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  printf '%-18s %s server_cpu_us_per_request=%s\n' "$1" "$line" "$us_per_request"
  rps=$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$line")
}
rss_kib() {
  awk '$1 == "VmRSS:" { print $2 }' "/proc/$server/status"
}

# warm up: connections, page cache, allocator
SKU=$sku USER_PREFIX="warm-$$" taskset -c "$load_cpu" wrk -t1 -c"$connections" -d2s -s bench/purchase.lua "$url" >/dev/null
storm "without-streams"
rps_without=$rps
us_without=$us_per_request
rss_before=$(rss_kib)

subscribe() { # seconds -> the client's streams are open ($client is its pid)
  taskset -c "$client_cpu" ./build-release/sse-client subscribe "$port" "/api/v1/sales/events?sku=$sku" \
    "$subscribers" "$1" "$sku" 100 >"$data/client.out" 2>"$data/client.err" &
  client=$!
  until grep -q '^READY' "$data/client.out"; do
    kill -0 "$client" 2>/dev/null || { cat "$data/client.err" >&2; exit 1; }
    sleep 0.2
  done
}
subscribed() { # -> sets $subscribed, the client's RESULT line, once it is done (not in a subshell: wait)
  wait "$client"
  client=
  subscribed=$(grep '^RESULT' "$data/client.out")
}
metric() {
  curl -sf "$url/metrics" | awk -v name="$1" '$1 == name { print $2 }'
}

subscribe $((duration + 1))
held=$(awk '$1 == "READY" { print $2 }' "$data/client.out")
rss_after=$(rss_kib)
storm "with-streams"
rps_with=$rps
us_with=$us_per_request
subscribed
result=$subscribed
echo "subscribers        $result"
open_now=$(metric flashsale_event_streams)
lagged=$(metric flashsale_event_streams_lagged_total)
window=$(metric flashsale_event_window_seconds)

# The paced load: the same number of subscribers again, RATE purchases a second. The server learns
# that the first client's streams are gone at its next write to them: one purchase. The load starts
# first, so that the window has settled from the storm's when the subscribers measure.
curl -sf -X POST "$url/api/v1/purchases" -H "X-User-Id: gone-$$" -H 'Content-Type: application/json' \
  -d "{\"sku\":\"$sku\"}" >/dev/null
for _ in $(seq 100); do [ "$(metric flashsale_event_streams)" = 0 ] && break; sleep 0.1; done
taskset -c "$load_cpu" ./build-release/flashsale loadtest --url "$url" --sku "$sku" --rate "$rate/s" \
  --duration "$((duration + 8))s" --buyers 1000000000 --user-prefix "paced-$$" --connections 32 \
  >"$data/paced.out" 2>&1 &
pacer=$!
sleep 3
subscribe "$duration"
subscribed
paced=$subscribed
paced_window=$(metric flashsale_event_window_seconds)
# its checks of the sale count wrk's buyers too: the delay is the measure here
wait "$pacer" || true
echo "paced ($rate/s)     $paced window_s=$paced_window"

field() { sed -nE "s/.*$1=([0-9.]+).*/\\1/p" <<<"$result"; }
paced_field() { sed -nE "s/.*$1=([0-9.]+).*/\\1/p" <<<"$paced"; }
awk -v held="$held" -v before="$rss_before" -v after="$rss_after" -v without="$rps_without" -v with="$rps_with" \
  -v p50="$(field delay_p50_ms)" -v p99="$(field delay_p99_ms)" -v max="$(field delay_max_ms)" \
  -v lagged="$lagged" -v window="$window" -v mode="$mode" -v us_without="$us_without" -v us_with="$us_with" \
  -v threads="$threads" -v rate="$rate" -v paced_p50="$(paced_field delay_p50_ms)" \
  -v paced_p99="$(paced_field delay_p99_ms)" -v paced_window="$paced_window" 'BEGIN {
    printf "SUMMARY mode=%s threads=%d subscribers=%d memory_per_subscriber_kib=%.1f rps_without=%d rps_with=%d ratio=%.2f server_cpu_us_per_request_without=%s with=%s cpu_ratio=%.2f delay_p50_ms=%s delay_p99_ms=%s delay_max_ms=%s lagged=%d window_s=%s paced_rate=%d paced_delay_p50_ms=%s paced_delay_p99_ms=%s paced_window_s=%s\n",
      mode, threads, held, (after - before) / held, without, with, with / without, us_without, us_with, us_without / us_with, p50, p99, max, lagged, window, rate, paced_p50, paced_p99, paced_window
  }'
echo "                   (streams still open at the server after the client left: ${open_now:-?})"
