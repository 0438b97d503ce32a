#!/usr/bin/env bash
# The whole test suite: builds everything, then runs every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh >/dev/null
cd build
ctest --output-on-failure --parallel 2 "$@"
