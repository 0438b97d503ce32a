# Included by the top-level CMakeLists.txt when MPI_FUZZ is on, before any target is made: every target
# is instrumented for libFuzzer's coverage feedback and built with AddressSanitizer and
# UndefinedBehaviorSanitizer; tools/fuzz links the fuzz targets with libFuzzer's driver. Only clang
# has libFuzzer (tools/fuzz/run.sh configures build-fuzz with clang-14).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "MPI_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
                      "configure with -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14")
endif()
if(MPI_SANITIZE)
  message(FATAL_ERROR "MPI_FUZZ brings its own sanitizers (address, undefined): leave MPI_SANITIZE empty")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
                    -fsanitize-coverage-ignorelist=${CMAKE_CURRENT_LIST_DIR}/coverage_ignorelist.txt)
add_link_options(-fsanitize=address,undefined)
