#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds and tests with.
# Idempotent and quiet when everything is present; needs root only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libboost1.81-dev          # Asio (Boost 1.74's Asio does not build under C++20 with g++ 12)
  libfftw3-dev libeigen3-dev
  libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libtomlplusplus-dev
  libcairo2-dev             # profile plots (PNG with text)
  python3-h5py python3-numpy  # tools/mdf: MDF checker and reference files
  python3-protobuf          # tools/link/mpi_link_client.py: the Python example client of the link
  libhdf5-dev               # MDF files (HDF5 C API)
  libssl-dev                # the link's authentication: HMAC-SHA256 and random nonces (libcrypto)
  clang-14 libclang-rt-14-dev  # tools/fuzz: libFuzzer with ASan and UBSan (the bounded fuzz run of tools/test.sh)
  chromium python3-websocket  # hil_console_test: tools/console/console_e2e.py drives the web console in headless Chromium (DevTools protocol)
)

missing=()
for p in "${packages[@]}"; do
  # One status line per installed architecture (a -dev package may be there for amd64 and arm64 both).
  status=$(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null || true)
  grep -qx 'install ok installed' <<<"$status" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/mpi-setup-apt.log 2>&1; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/mpi-setup-apt.log 2>&1 || {
    echo "setup: apt-get install failed, see /tmp/mpi-setup-apt.log" >&2
    exit 1
  }
fi
