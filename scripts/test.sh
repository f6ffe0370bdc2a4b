#!/usr/bin/env bash
# The whole test suite: the layout and style check, unit tests (plain and under ASan+UBSan), the
# fuzz targets for a short while, then the black-box and browser suites against the sanitized
# binary, once per storage mode. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/check-layout.sh
ulimit -n 20000 2>/dev/null || true
# The tests' npm packages (package.json: ajv, playwright-core), when missing or older than the lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
meson test -C build --suite unit --print-errorlogs

[ -f build-asan/build.ninja ] ||
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug >/dev/null
ninja -C build-asan
ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs

# Every parser of untrusted bytes under libFuzzer for a short, fixed time (tests/fuzz/README.md).
# Two at a time, 18 s each: the eleven targets take six rounds, under two minutes.
./scripts/fuzz.sh all "${FUZZ_SECONDS:-18}"

# Leak checking stays with the unit tests: at exit the server leaves its event loops to the OS.
export FLASHSALE_BIN="$PWD/build-asan/flashsale"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
modes=${FLASHSALE_MODES:-embedded distributed}
# The distributed mode's black-box runs share one PostgreSQL (tests/blackbox/lib/mode-distributed.mjs).
export FLASHSALE_BB_POSTGRES_DIR=${FLASHSALE_BB_POSTGRES_DIR:-/tmp/flashsale-bb-postgres-$$}
trap 'SERVICES_DIR=$FLASHSALE_BB_POSTGRES_DIR PG_PORT=${FLASHSALE_BB_POSTGRES_PORT:-55433} ./scripts/services.sh destroy postgres >/dev/null 2>&1 || true' EXIT
for mode in $modes; do
  echo "== black-box suite, $mode mode"
  FLASHSALE_MODE=$mode node --test tests/blackbox/
  # Debian's chromium through playwright-core; screenshots land in build/screenshots/<mode>/
  echo "== browser suite, $mode mode"
  FLASHSALE_MODE=$mode node --test tests/browser/
done
