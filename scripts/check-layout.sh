#!/usr/bin/env bash
# Checks that the code keeps its shape (docs/architecture.md, "The map"); runs first in `make test`.
#
#   1. Include rules: each room under src/ includes only what its line below allows ("room/" is a
#      whole room, "room/x.h" one header), and project headers are included by their path from
#      src/ ("core/sale.h", never "sale.h").
#   2. Every room has a README.md.
#   3. Nothing but the logger (core/log.c) and the command line's cli_print (app/main.c) writes to
#      stderr.
#   4. One style: `sizeof(x)`, cleanup labels named Exit (every path) or Error (failures only), and
#      clang-format --dry-run --Werror over every .c and .h.
#
# Prints every violation as file:line: what, and exits 1 if there was any.
set -uo pipefail
cd "$(dirname "$0")/.."

# room: what it may include besides its own files. Sub-rooms are named by their path.
declare -A allowed=(
  [core]=""
  [http]="core/strbuf.h core/clock.h core/log.h core/ascii.h"
  [api]="core/ http/ auth/"
  [app]="core/ http/ api/ auth/ embedded/ distributed/ loadtest/"
  [embedded]="core/"
  [distributed]="core/ distributed/"
  [distributed/redis]="core/ distributed/outbox.h"
  [distributed/postgres]="core/"
  [distributed/worker]="core/ distributed/outbox.h distributed/redis/ distributed/postgres/"
  [loadtest]="core/"
  [auth]="core/"
)
# The rooms every quoted include must start with.
rooms="core http api app embedded distributed loadtest auth"

failed=0
fail() {
  echo "$1" >&2
  failed=1
}

# The room of a file: the deepest key of `allowed` its directory is in.
room_of() {
  local dir=${1#src/}
  dir=${dir%/*}
  while [ -n "$dir" ]; do
    [ -n "${allowed[$dir]+set}" ] && { echo "$dir"; return; }
    [[ $dir == */* ]] || break
    dir=${dir%/*}
  done
}

sources=$(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done)

for file in $(echo "$sources" | grep '^src/'); do
  room=$(room_of "$file")
  if [ -z "$room" ]; then
    fail "$file: in no room the checker knows (add it to scripts/check-layout.sh and docs/architecture.md)"
    continue
  fi
  while IFS=: read -r line include; do
    include=${include#*\"}
    include=${include%%\"*}
    top=${include%%/*}
    if [[ " $rooms " != *" $top "* || $include != */* ]]; then
      fail "$file:$line: \"$include\" is not a path from src/ (write \"room/file.h\")"
      continue
    fi
    ok=0
    [[ $include == "$room"/* ]] && ok=1
    for rule in ${allowed[$room]}; do
      if [[ $rule == */ && $include == "$rule"* ]] || [[ $include == "$rule" ]]; then
        ok=1
      fi
    done
    [ "$ok" = 1 ] || fail "$file:$line: $room may not include \"$include\""
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file")
done

for dir in $(find src -mindepth 1 -type d | sort); do
  [ -f "$dir/README.md" ] || fail "$dir: no README.md (one paragraph: what lives here, what it may include)"
done

# report PATTERN MESSAGE FILES...: every line of FILES matching PATTERN is a violation.
report() {
  local pattern=$1 message=$2 hits
  shift 2
  hits=$(grep -nE "$pattern" "$@" | cut -d: -f1-2) || return 0
  while IFS= read -r hit; do fail "$hit: $message"; done <<<"$hits"
}

# shellcheck disable=SC2046
report '\bstderr\b|STDERR_FILENO|\bperror[[:space:]]*\(' "writes to stderr outside the logger (core/log.h)" \
  $(echo "$sources" | grep '^src/' | grep -vx 'src/core/log\.[ch]\|src/app/main\.c')
# shellcheck disable=SC2086
report '\bsizeof[[:space:]]+[^([:space:]]' "write sizeof(x)" $sources
# shellcheck disable=SC2086
labels=$(grep -nE '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*:[[:space:]]*$' $sources |
  grep -vE '^[^:]*:[0-9]+:[[:space:]]*(Exit|Error|default):[[:space:]]*$' | cut -d: -f1-2) || true
[ -z "$labels" ] || while IFS= read -r hit; do fail "$hit: a label other than Exit or Error"; done <<<"$labels"

# shellcheck disable=SC2086
clang-format --dry-run --Werror $sources || { echo "clang-format: run make format" >&2; failed=1; }

[ "$failed" = 0 ] && echo "check-layout: ok"
exit "$failed"
