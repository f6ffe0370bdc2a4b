#!/usr/bin/env bash
# Issue 8 item 8: conflicting Content-Length, Transfer-Encoding with Content-Length (a smuggled request
# behind it), a NUL in a query value. Prints the status of every answer: one 400 each, nothing smuggled.
set -euo pipefail
source "$(dirname "$0")/common.sh"
start_server "" --threads 2 "$@"
node "$HERE/faults.mjs" framing "$PORT"
