# Warnings and sanitizers for the project's own targets.
function(mpi_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor -Wold-style-cast)
  if(MPI_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

set(MPI_TEST_PROPERTIES "")
if(MPI_SANITIZE)
  # Every sanitizer report fails the test (no recovery); third-party caches that live as long as the
  # process are suppressed for LeakSanitizer (tools/sanitizers/lsan.supp).
  add_compile_options(-fsanitize=${MPI_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${MPI_SANITIZE})
  if(MPI_SANITIZE MATCHES "thread")
    # g++ warns (-Wtsan) that TSan cannot see the atomic_thread_fence inside Boost.Asio's handlers; the
    # warning is about the library, not about us, and -Werror would stop the build.
    add_compile_options(-Wno-tsan)
  endif()
  set(MPI_TEST_PROPERTIES ENVIRONMENT "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tools/sanitizers/lsan.supp")
endif()

# A GoogleTest executable registered with ctest.
function(mpi_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  mpi_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${T_LABELS}" ${MPI_TEST_PROPERTIES})
endfunction()
