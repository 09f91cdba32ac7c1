# Every public header compiles on its own (Seastar's checkheaders; STYLE.md, "Proposed layout").
#
# For each include/coreio/**/*.hpp this generates a translation unit holding nothing but
# `#include <coreio/that.hpp>` (twice, for the include guard) and registers a CTest test
# `header.<path>` (labels unit, headers) that compiles it with -fsyntax-only (no object, no link:
# about a second) and the project's warnings as errors. A header that leans on something its
# includer happened to include first, or that warns, fails its test. The flags are the ones a
# user's build sees: C++20, the include directory and coreio's public compile definitions; the
# compiler is the build's (g++ in build/rel, clang++-19 in build/asan and build/clang).
#
# The tests are labelled nosan too: a sanitizer changes nothing a syntax check can see, so the
# tsan and asan runs (ctest -LE nosan) skip them. Run them alone with `ctest -L headers`.
#
# Included from the top-level CMakeLists.txt when tests are built, after the `coreio` target.

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  return()  # the flags below are GCC/Clang ones
endif()

file(GLOB_RECURSE _coreio_public_headers CONFIGURE_DEPENDS
  RELATIVE ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_SOURCE_DIR}/include/coreio/*.hpp)
list(SORT _coreio_public_headers)

# The public definitions, each prefixed with -D; COMMAND_EXPAND_LISTS splits them into arguments.
set(_coreio_header_flags
  -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror
  -I${PROJECT_SOURCE_DIR}/include
  "-D$<JOIN:$<TARGET_PROPERTY:coreio,INTERFACE_COMPILE_DEFINITIONS>,$<SEMICOLON>-D>")

foreach(_hdr IN LISTS _coreio_public_headers)
  # coreio/sync/mutex.hpp -> header.coreio/sync/mutex.hpp, TU check_headers/coreio/sync/mutex.cpp
  string(REGEX REPLACE "\\.hpp$" ".cpp" _tu "${_hdr}")
  set(_tu "${PROJECT_BINARY_DIR}/check_headers/${_tu}")
  # Included twice: a missing #pragma once shows as a redefinition.
  file(CONFIGURE OUTPUT "${_tu}" CONTENT "#include <${_hdr}>\n#include <${_hdr}>\n")
  add_test(NAME header.${_hdr}
    COMMAND ${CMAKE_CXX_COMPILER} ${_coreio_header_flags} "${_tu}"
    COMMAND_EXPAND_LISTS)
  set_tests_properties(header.${_hdr} PROPERTIES LABELS "unit;headers;nosan" TIMEOUT 120)
endforeach()

unset(_coreio_public_headers)
unset(_coreio_header_flags)
unset(_hdr)
unset(_tu)
