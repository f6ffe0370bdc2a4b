#!/usr/bin/env bash
# Memory of the rate limiter under a flood of distinct client addresses: the server's resident size
# before and after CLIENTS (default 1,000,000) purchases from as many addresses (X-Forwarded-For
# through a trusted proxy), with --rate-limit-ip set. The limiter's table is allocated once at start
# (2^20 slots of 16 bytes, docs/api.md) and its pages become resident as clients first land on them,
# so the growth is at most those 16 MiB plus the server's own buffers, whatever the count: run it with
# CLIENTS=2000000 to see that doubling the addresses does not change the growth.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-18183}
clients=${CLIENTS:-1000000}
key=bench-admin-key
url=http://127.0.0.1:$port
data=$(mktemp -d)

[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Db_ndebug=true >/dev/null
ninja -C build-release >/dev/null
./build-release/flashsale serve --port "$port" --admin-key "$key" --threads 1 --data-dir "$data" \
  --trusted-proxy 127.0.0.1 --rate-limit-ip 1/min 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "$url/api/v1/products" -H "X-Admin-Key: $key" -H 'Content-Type: application/json' \
  -d '{"sku":"BENCH-IPS","productName":"bench","initialStock":1,"startTime":"2020-01-01T00:00:00Z","endTime":"2099-01-01T00:00:00Z"}' >/dev/null

rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }
# one request per address: wrk stops after about `clients` requests
before=$(rss)
wrk -t1 -c64 -d600s -s bench/distinct-ips.lua "$url" --timeout 10s >/dev/null &
load=$!
until [ "$(curl -sf "$url/metrics" | awk '$1 ~ /^flashsale_http_requests_total/ && /purchases/ { n += $2 } END { print n + 0 }')" -ge "$clients" ]; do
  sleep 1
done
kill $load 2>/dev/null; wait $load 2>/dev/null || true
after=$(rss)
echo "RESULT clients=$clients rss_before_kib=$before rss_after_kib=$after growth_kib=$((after - before))"
curl -sf "$url/metrics" | grep -E '^flashsale_rate_limit' || true
