#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz, each for SECONDS (default 20), in build-fuzz (clang,
# ASan + UBSan + libFuzzer). New inputs go to a scratch directory, never into the repository's
# corpus; a crash stops the run with the input saved as build-fuzz/artifacts/<target>-crash-*.
#
#   scripts/fuzz.sh                       every target, 20 s each (what make test runs)
#   scripts/fuzz.sh http1_head 3600       one target for an hour
#   FUZZ_JOBS=2 scripts/fuzz.sh redis_url 600   two processes in parallel (logs in build-fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-all}
seconds=${2:-20}
build=build-fuzz

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debug >/dev/null
fi
targets=$(ls tests/fuzz/corpus)
[ "$target" = all ] || targets=$target
ninja -C "$build" $(for t in $targets; do echo "tests/fuzz/fuzz_$t"; done) >/dev/null

mkdir -p "$build/artifacts"
parallel=()
[ -z "${FUZZ_JOBS:-}" ] || parallel=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in $targets; do
  scratch=$(mktemp -d)
  echo "== fuzz $t for ${seconds}s"
  if ! (cd "$build" && "./tests/fuzz/fuzz_$t" "$scratch" "../tests/fuzz/corpus/$t" -max_total_time="$seconds" \
      -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 "${parallel[@]}" \
      -artifact_prefix="artifacts/$t-") >"$build/fuzz-$t.log" 2>&1; then
    tail -n 60 "$build/fuzz-$t.log"
    echo "fuzz: $t failed; the input is in $build/artifacts/ (add it to tests/fuzz/corpus/$t once fixed)"
    rm -rf "$scratch"
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/fuzz-$t.log" | tr '\n' ' '
  echo
  rm -rf "$scratch"
done
