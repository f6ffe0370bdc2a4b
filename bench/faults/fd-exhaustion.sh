#!/usr/bin/env bash
# Issue 8 item 5: under `ulimit -n 1024`, 1,100 connections held open. Prints the server's CPU time over
# 5 s (2 loop threads spinning would show ~10 s) and how long a new GET /health took. Run it with
# --max-connections 5000 as the first argument to force EMFILE (accept back-off) instead of the limit.
set -euo pipefail
source "$(dirname "$0")/common.sh"
start_server 1024 --threads 2 "$@"
node "$HERE/faults.mjs" hold "$PORT" "$PID" 1100
grep -E 'descriptor limit|accept' "$LOG" || true
