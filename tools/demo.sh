#!/usr/bin/env bash
# The demo: builds what is needed, then runs one simulated 1D scan end to end (plant, firmware and the
# mpi command as three processes on loopback) through `mpi demo`, and prints where the image is. Extra
# arguments go to it (see build/host/mpi demo --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh --target mpi mpi-demo >/dev/null
exec build/host/mpi demo --scanner configs/scanners/demo-1d.toml --plan configs/plans/demo-1d-two-points.toml --out demo-output "$@"
