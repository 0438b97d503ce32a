#!/usr/bin/env bash
# Installs what is missing (tools/setup.sh), then configures and builds the project into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build-configure.log 2>&1 || { cat build-configure.log >&2; exit 1; }
rm -f build-configure.log
cmake --build build --parallel "$(nproc)" "$@"
