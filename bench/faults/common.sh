# Sourced by the fault scripts: starts `flashsale serve --demo` on a free port with extra arguments
# (and an optional ulimit -n), sets PORT and PID, and stops it on exit.
BIN=${FLASHSALE_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/flashsale}
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=${PORT:-18480}
DATA=$(mktemp -d)
LOG=$DATA/server.log

start_server() { # [ulimit -n value] -- args...
  local nofile=$1
  shift
  (if [ -n "$nofile" ]; then ulimit -n "$nofile"; fi; exec "$BIN" serve --demo --port "$PORT" --data-dir "$DATA" "$@") \
    2>"$LOG" &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return 0; sleep 0.1; done
  echo "the server did not start:"; cat "$LOG"; exit 1
}

stop_server() {
  kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$DATA"
}
trap stop_server EXIT
