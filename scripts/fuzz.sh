#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz, each for SECONDS (default 20), in build-fuzz (clang,
# ASan + UBSan + libFuzzer). New inputs go to a scratch directory, never into the repository's
# corpus; a crash stops the run with the input saved as build-fuzz/artifacts/<target>-crash-*.
#
#   scripts/fuzz.sh                       every target, 20 s each (make test: 18 s each)
#   scripts/fuzz.sh http1_head 3600       one target for an hour
#   FUZZ_JOBS=2 scripts/fuzz.sh redis_url 600   two processes on one target (logs in build-fuzz/)
#   FUZZ_PARALLEL=1 scripts/fuzz.sh           one target at a time (default: two at a time)
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

# One target's run; its status and last words go to its log.
fuzz_one() {
  local t=$1 scratch
  scratch=$(mktemp -d)
  (cd "$build" && "./tests/fuzz/fuzz_$t" "$scratch" "../tests/fuzz/corpus/$t" -max_total_time="$seconds" \
    -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 "${parallel[@]}" \
    -artifact_prefix="artifacts/$t-") >"$build/fuzz-$t.log" 2>&1
  local status=$?
  rm -rf "$scratch"
  return $status
}

# FUZZ_PARALLEL targets at a time (default 2, one per core of the machines this runs on).
failed=()
pids=()
names=()
for t in $targets; do
  echo "== fuzz $t for ${seconds}s"
  fuzz_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ ${#pids[@]} -ge "${FUZZ_PARALLEL:-2}" ]; then
    wait "${pids[0]}" || failed+=("${names[0]}")
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
for t in $targets; do
  echo "$t: $(grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/fuzz-$t.log" | tr -s ' ' | tr '\n' ' ')"
done
for t in ${failed[@]+"${failed[@]}"}; do
  tail -n 60 "$build/fuzz-$t.log"
  echo "fuzz: $t failed; the input is in $build/artifacts/ (add it to tests/fuzz/corpus/$t once fixed)"
done
[ ${#failed[@]} -eq 0 ]
