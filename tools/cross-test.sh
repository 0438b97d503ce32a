#!/usr/bin/env bash
# Cross-builds the board's side (protocol, drivers, config, firmware) for aarch64 Linux with Debian's
# cross compiler and runs its unit tests under qemu-aarch64 (CMake preset "aarch64", build-aarch64/).
# Installs what is missing first: idempotent and quiet when everything is there; needs root only then.
# Extra arguments go to ctest, e.g. tools/cross-test.sh -R Drive.
# Tests that start the firmware executable start it through the same emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake pkg-config protobuf-compiler     # the host's protoc generates the link code
  g++-aarch64-linux-gnu qemu-user
  libprotobuf-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64
  libgtest-dev:arm64 libgmock-dev:arm64 libtomlplusplus-dev:arm64
  libssl-dev:arm64                       # libcrypto: the link's authentication (protocol library)
  libcli11-dev                           # header-only, architecture-independent
  libboost1.81-dev                       # Asio is header-only: the host's headers and CMake package serve
)

missing=()
for p in "${packages[@]}"; do
  # One status line per installed architecture (a -dev package may be there for amd64 and arm64 both).
  status=$(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null || true)
  grep -qx 'install ok installed' <<<"$status" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "cross-test: missing Debian packages: ${missing[*]}" >&2
    echo "cross-test: run as root (needs dpkg --add-architecture arm64 and apt-get install)" >&2
    exit 1
  fi
  echo "cross-test: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  added_arch=0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    added_arch=1
  fi
  if [[ $added_arch -eq 1 ]] ||
     ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/mpi-cross-apt.log 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/mpi-cross-apt.log 2>&1 || {
      echo "cross-test: apt-get install failed, see /tmp/mpi-cross-apt.log" >&2
      exit 1
    }
  fi
fi

cmake --preset aarch64 >build-aarch64-configure.log 2>&1 || { cat build-aarch64-configure.log >&2; exit 1; }
rm -f build-aarch64-configure.log
cmake --build --preset aarch64 --parallel "$(nproc)"

ctest --preset aarch64 --parallel "$(nproc)" "$@"
