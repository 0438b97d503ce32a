# Cross-compiles for the scanner board (aarch64 Linux) with Debian's cross compiler and Debian's arm64
# -dev packages installed in the build machine's own root (dpkg --add-architecture arm64).
# tools/cross-test.sh installs all of it; CMakePresets.json's "aarch64" preset uses this file.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Multiarch: the arm64 libraries live under /usr/lib/aarch64-linux-gnu of the build machine's root.
# Libraries, headers and CMake packages are searched there only; programs (protoc) come from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (toml++) reads the arm64 .pc files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# The host's protoc generates the code; it must be the same protobuf version as libprotobuf-dev:arm64,
# which Debian guarantees (one source package).
set(Protobuf_PROTOC_EXECUTABLE /usr/bin/protoc CACHE FILEPATH "protoc of the build machine")

# The project needs only Boost's header-only libraries (Asio), and Boost's CMake package for them
# is architecture-independent: use the build machine's rather than installing libboost1.81-dev:arm64.
cmake_host_system_information(RESULT _mpi_host_arch QUERY OS_PLATFORM)
if(NOT DEFINED Boost_DIR AND EXISTS /usr/lib/${_mpi_host_arch}-linux-gnu/cmake/Boost-1.81.0)
  set(Boost_DIR /usr/lib/${_mpi_host_arch}-linux-gnu/cmake/Boost-1.81.0 CACHE PATH
      "Boost's header-only CMake package (architecture-independent)")
endif()

# ctest (and gtest_discover_tests) run the arm64 test executables through qemu's user-mode emulator.
# The loader and libraries at run time are the multiarch ones in / (libc6:arm64, pulled in by the arm64
# -dev packages), not those of /usr/aarch64-linux-gnu: the cross toolchain's libc6-arm64-cross can be a
# different glibc build, and its ld-linux with the multiarch libc.so.6 hangs in the first pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
