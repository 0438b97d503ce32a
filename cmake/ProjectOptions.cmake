# Warnings and sanitizers for the project's own targets.
function(mpi_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor -Wold-style-cast)
  if(MPI_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(MPI_SANITIZE)
  add_compile_options(-fsanitize=${MPI_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${MPI_SANITIZE})
endif()

# A GoogleTest executable registered with ctest.
function(mpi_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  mpi_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${T_LABELS}")
endfunction()
