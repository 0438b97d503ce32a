#!/usr/bin/env bash
# The demo: builds what is needed, then runs one simulated 1D scan end to end (plant, firmware and the
# mpi command as three processes on loopback) and prints where the image is. Extra arguments go to
# mpi-demo (see build/tools/mpi-demo --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh --target mpi-demo >/dev/null
exec build/tools/mpi-demo --scanner configs/scanners/demo-1d.toml --plan configs/plans/demo-1d-two-points.toml --out demo-output "$@"
