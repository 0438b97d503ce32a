#!/usr/bin/env bash
# The whole test suite: builds everything and runs every test through ctest, then cross-builds the
# board's side (protocol, drivers, config, firmware) for its aarch64 target and runs those tests under
# qemu (tools/cross-test.sh; MPI_SKIP_CROSS=1 leaves that out). Every build replays the fuzz corpus through
# the link's frame decoder and the board's command handling as unit tests; MPI_FUZZ_SECONDS=N adds a
# bounded libFuzzer run of N seconds per target (tools/fuzz/run.sh, a clang build of the board's side of
# its own, some 3 minutes). Arguments go to the native ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh >/dev/null
(cd build && ctest --output-on-failure --parallel 2 "$@")
if [[ "${MPI_SKIP_CROSS:-0}" != 1 ]]; then
  mkdir -p build-aarch64
  tools/cross-test.sh --output-on-failure >build-aarch64/test.log 2>&1 || { cat build-aarch64/test.log >&2; exit 1; }
  echo "aarch64 under qemu: $(grep -o "[0-9]*% tests passed.*" build-aarch64/test.log)"
fi
if [[ "${MPI_FUZZ_SECONDS:-0}" != 0 ]]; then
  mkdir -p build-fuzz
  tools/fuzz/run.sh "${MPI_FUZZ_SECONDS}" >build-fuzz/run.log 2>&1 || { cat build-fuzz/run.log >&2; exit 1; }
  grep -E "execs/s" build-fuzz/run.log | sed 's/^/fuzz: /'
fi
