#!/usr/bin/env bash
# Runs the fuzz targets: tools/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 300); TARGET: frame_decoder_fuzz, command_handler_fuzz (default: both).
# Configures build-fuzz with clang-14 (MPI_FUZZ=ON: libFuzzer, ASan, UBSan; the board's side only) if it
# is not there yet, builds the targets, and runs each on a copy of its committed corpus (tools/fuzz/corpus/
# stays as it is) in a temporary directory. Prints per target the executions per second and whether it
# found a crash, a leak or a timeout; exits non-zero if any target did, leaving the reproducer and the
# log in the temporary directory it names. Environment: MPI_FUZZ_JOBS (build jobs, default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-300}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(frame_decoder_fuzz command_handler_fuzz)
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -eq 0 ]]; then
  echo "usage: $0 [SECONDS] [TARGET...]" >&2
  exit 2
fi

build=build-fuzz
if [[ ! -f $build/CMakeCache.txt ]]; then
  log=$(mktemp)
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DMPI_FUZZ=ON -DMPI_EMBEDDED_ONLY=ON >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi
cmake --build "$build" -j"${MPI_FUZZ_JOBS:-2}" --target "${targets[@]}"

failed=0
for target in "${targets[@]}"; do
  corpus=tools/fuzz/corpus/$target
  [[ -d $corpus ]] || { echo "$target: no corpus at $corpus" >&2; exit 2; }
  work=$(mktemp -d "/tmp/$target.XXXXXX")
  cp -r "$corpus" "$work/corpus"
  mkdir "$work/artifacts"
  status=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tools/sanitizers/lsan.supp \
    "$build/tools/fuzz/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1 || status=$?
  execs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/log" | grep -o '[0-9]*$' || true)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' || true)
  found=$(cd "$work/artifacts" && ls 2>/dev/null | sed 's/-.*//' | sort -u | tr '\n' ' ')
  if [[ $status -eq 0 && -z $found ]]; then
    echo "$target: ${execs:-?} execs/s, ${runs:-?} runs in ${seconds} s, nothing found"
    rm -rf "$work"
  else
    failed=1
    echo "$target: ${execs:-?} execs/s, ${runs:-?} runs: FOUND ${found:-a failure (exit $status)}; reproducer and log in $work"
    for artifact in "$work"/artifacts/*; do
      [[ -e $artifact ]] && echo "  reproduce: $build/tools/fuzz/$target $artifact"
    done
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz: |^ *#[0-9]+ ' "$work/log" | head -40 | sed 's/^/  /'
  fi
done
exit $failed
