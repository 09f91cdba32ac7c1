# default_allocator.cmake — configures the project with its defaults (tests, benchmarks and
# examples off, which do not bear on the library) and fails unless COREIO_MIMALLOC came out ON.
# A plain configure once cached it OFF for every build (cmake/sanitizers.cmake tested a variable
# after unsetting it), so every figure was measured with glibc malloc without anyone noticing.
#
# Usage: cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DCXX=... -P default_allocator.cmake
file(REMOVE_RECURSE "${BINARY_DIR}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -DCMAKE_CXX_COMPILER=${CXX}
          -DCOREIO_BUILD_TESTS=OFF -DCOREIO_BUILD_BENCH=OFF -DCOREIO_BUILD_EXAMPLES=OFF
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "default configure failed (${rc}):\n${out}\n${err}")
endif()
file(STRINGS "${BINARY_DIR}/CMakeCache.txt" line REGEX "^COREIO_MIMALLOC:BOOL=")
if(NOT line STREQUAL "COREIO_MIMALLOC:BOOL=ON")
  message(FATAL_ERROR "a default configure gives '${line}', not COREIO_MIMALLOC:BOOL=ON:\n${out}")
endif()
file(REMOVE_RECURSE "${BINARY_DIR}")
message(STATUS "a default configure allocates frames with mimalloc")
