#!/usr/bin/env bash
# Issue 8 item 6: SIGTERM during a purchase storm on 64 keep-alive connections. Prints the answers, the
# answers that said Connection: close, requests left unanswered (the keep-alive race: sent as the server
# closed an idle connection) and TCP resets (must be 0), then the server's exit status (must be 0).
set -euo pipefail
source "$(dirname "$0")/common.sh"
start_server "" --threads 2 "$@"
node "$HERE/faults.mjs" storm "$PORT" "$PID"
status=0
wait "$PID" || status=$?
echo "exit=$status"
grep -E "shutdown timeout" "$LOG" || true
