#!/usr/bin/env bash
# Issue 8 item 7: two HTTP/2 connections opening and resetting streams for 15 s while GET /health is timed.
# Default: HTTP/2 is refused, nothing to flood. With --http2: h2o 2.2.5 takes the flood (CVE-2023-44487).
#   bench/faults/http2-rapid-reset.sh            # default
#   bench/faults/http2-rapid-reset.sh --http2    # opted in
set -euo pipefail
source "$(dirname "$0")/common.sh"
start_server "" --threads 2 "$@"
node "$HERE/faults.mjs" rapid-reset "$PORT" 15
echo "server RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/$PID/status")"
