# llhttp, the HTTP/1.1 parser of Node.js and aiohttp, from Debian's node-llhttp (which provides
# llhttp-dev): it ships llhttp's generated C sources under /usr/share/llhttp and the header under
# /usr/share/include/llhttp. They are built here, never copied into the repository.
#
# Strict mode (LLHTTP_STRICT_MODE=1) makes llhttp reject what the lenient build lets through (bare
# LF line endings, missing CR after chunk data, garbage in chunk sizes). src/http/parser.cpp adds the
# checks llhttp has not got even in strict mode.
#
# Defines coreio_llhttp: an OBJECT library (position independent, so the objects fit a shared or a
# static coreio_http) whose objects coreio_http takes as its own sources: no link dependency, so
# nothing extra needs exporting. COREIO_LLHTTP_INCLUDE_DIR holds llhttp.h.
#
# Included from the top-level CMakeLists.txt; needs the C language enabled in project().

find_path(COREIO_LLHTTP_INCLUDE_DIR llhttp.h
  PATHS /usr/share/include/llhttp /usr/include/llhttp /usr/local/include/llhttp
  DOC "Directory holding llhttp.h (Debian: node-llhttp)")
find_path(COREIO_LLHTTP_SOURCE_DIR llhttp.c
  PATHS /usr/share/llhttp
  NO_DEFAULT_PATH
  DOC "Directory holding llhttp's generated C sources llhttp.c, api.c, http.c (Debian: node-llhttp)")

if(NOT COREIO_LLHTTP_INCLUDE_DIR OR NOT COREIO_LLHTTP_SOURCE_DIR
   OR NOT EXISTS "${COREIO_LLHTTP_SOURCE_DIR}/api.c" OR NOT EXISTS "${COREIO_LLHTTP_SOURCE_DIR}/http.c")
  message(FATAL_ERROR
    "coreio: llhttp's C sources were not found (looked for /usr/share/llhttp/{llhttp,api,http}.c "
    "and llhttp.h under /usr/share/include/llhttp). Install the Debian package node-llhttp "
    "(`tools/dev setup` does), or set COREIO_LLHTTP_SOURCE_DIR and COREIO_LLHTTP_INCLUDE_DIR.")
endif()

# Fixes to llhttp 8.1.0's state machine, made on a copy in the build tree (the package's file is
# not touched, and nothing of it enters the repository). Both copies of the machine in llhttp.c
# (strict and lenient) have each faulty transition; a package whose llhttp.c has none of them is
# compiled as it is.
#
# 1. After an unquoted chunk-extension value, its ';' is consumed and the parser then goes back to
#    the state that expects a ';' or the line's CR, so a second extension ("5;a=1;b=2") fails as an
#    invalid chunk size (llhttp 9 peeks at the ';' instead). The fix sends that path where a quoted
#    value's ';' goes: to the next extension's name. (The same state's resumption after a pause,
#    pause_9, still leads to chunk_size_otherwise: unreachable here, as src/http/parser.cpp's
#    extension callbacks never pause.)
# 2. Whitespace after a Content-Length's digits may be SP or HTAB (OWS, RFC 9112 section 5: it is
#    not part of the field value); llhttp skips SP only and refuses "Content-Length: 5\t" as an
#    invalid character. The fix skips HTAB there as well.
file(READ "${COREIO_LLHTTP_SOURCE_DIR}/llhttp.c" _llhttp_c)
set(_faulty_1 "      switch (llhttp__on_chunk_extension_value_complete(state, p, endp)) {
        case 0:
          goto s_n_llhttp__internal__n_chunk_size_otherwise;")
string(REPLACE "chunk_size_otherwise;" "chunk_extensions;" _fixed_1 "${_faulty_1}")
set(_faulty_2 "        case ' ': {
          p++;
          goto s_n_llhttp__internal__n_header_value_content_length_ws;")
set(_fixed_2 "        case 9:\n${_faulty_2}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             "${COREIO_LLHTTP_SOURCE_DIR}/llhttp.c")
set(_fixes 0)
foreach(_i 1 2)
  string(FIND "${_llhttp_c}" "${_faulty_${_i}}" _at)
  if(NOT _at EQUAL -1)
    string(REPLACE "${_faulty_${_i}}" "${_fixed_${_i}}" _llhttp_c "${_llhttp_c}")
    math(EXPR _fixes "${_fixes} + 1")
  endif()
  unset(_faulty_${_i})
  unset(_fixed_${_i})
endforeach()
if(_fixes EQUAL 0)
  set(COREIO_LLHTTP_C "${COREIO_LLHTTP_SOURCE_DIR}/llhttp.c")
  message(STATUS "coreio: llhttp.c has none of the faults fixed here; compiled as shipped")
else()
  set(COREIO_LLHTTP_C "${CMAKE_CURRENT_BINARY_DIR}/coreio_llhttp_fixed.c")
  # Written only when the text changed, so that a reconfigure does not rebuild llhttp.
  set(_text "/* Made by cmake/llhttp.cmake from ${COREIO_LLHTTP_SOURCE_DIR}/llhttp.c. */\n${_llhttp_c}")
  set(_old "")
  if(EXISTS "${COREIO_LLHTTP_C}")
    file(READ "${COREIO_LLHTTP_C}" _old)
  endif()
  if(NOT _old STREQUAL _text)
    file(WRITE "${COREIO_LLHTTP_C}" "${_text}")
  endif()
  unset(_text)
  unset(_old)
endif()
unset(_llhttp_c)
unset(_fixes)
unset(_at)

add_library(coreio_llhttp OBJECT
  "${COREIO_LLHTTP_C}"
  "${COREIO_LLHTTP_SOURCE_DIR}/api.c"
  "${COREIO_LLHTTP_SOURCE_DIR}/http.c")
target_include_directories(coreio_llhttp PRIVATE "${COREIO_LLHTTP_INCLUDE_DIR}")
target_compile_definitions(coreio_llhttp PUBLIC LLHTTP_STRICT_MODE=1)
# Generated code: not ours to warn about (it has unused labels and parameters by design).
target_compile_options(coreio_llhttp PRIVATE -w)
set_target_properties(coreio_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 99)

# llhttp's SSE4.2 paths. llhttp.c scans header names and values 16 bytes at a time when built for
# SSE4.2 (its __SSE4_2__ blocks), byte by byte otherwise; Debian's baseline (x86-64) has no SSE4.2.
# So on x86-64 llhttp.c is compiled a second time with -msse4.2 (src/http/llhttp_sse42.c, its
# external functions renamed by a header made here from llhttp.c's own definitions), and
# src/http/llhttp_dispatch.c picks that copy at run time when the CPU has SSE4.2 (as httparse,
# hyper's parser, picks its SIMD paths). Both copies are the same state machine on the same state.
# Measured (callgrind, a keep-alive GET of a 1 KiB page from nginx): llhttp's own instructions per
# response head 3,143 -> 2,569. COREIO_LLHTTP_SSE42=OFF keeps the baseline copy only.
include(CheckCCompilerFlag)
check_c_compiler_flag(-msse4.2 COREIO_CC_HAS_MSSE42)
set(_coreio_llhttp_sse42_default OFF)
if(COREIO_CC_HAS_MSSE42 AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_coreio_llhttp_sse42_default ON)
endif()
option(COREIO_LLHTTP_SSE42 "Also build llhttp for SSE4.2, chosen at run time (x86-64)"
       ${_coreio_llhttp_sse42_default})
set(_coreio_llhttp_dir "${CMAKE_CURRENT_LIST_DIR}/../src/http")
target_sources(coreio_llhttp PRIVATE "${_coreio_llhttp_dir}/llhttp_dispatch.c")
if(COREIO_LLHTTP_SSE42)
  # The renames: every function llhttp.c defines (llhttp__internal*), given a coreio_sse42_ prefix.
  file(STRINGS "${COREIO_LLHTTP_SOURCE_DIR}/llhttp.c" _defs
       REGEX "^int llhttp__internal[A-Za-z0-9_]*\\(")
  set(_renames "/* Made by cmake/llhttp.cmake from ${COREIO_LLHTTP_SOURCE_DIR}/llhttp.c. */\n")
  set(_seen "")
  foreach(_line IN LISTS _defs)
    string(REGEX MATCH "llhttp__internal[A-Za-z0-9_]*" _name "${_line}")
    if(NOT _name IN_LIST _seen)
      list(APPEND _seen "${_name}")
      string(APPEND _renames "#define ${_name} coreio_sse42_${_name}\n")
    endif()
  endforeach()
  if(NOT "llhttp__internal_execute" IN_LIST _seen)
    message(FATAL_ERROR "coreio: no llhttp__internal_execute definition found in llhttp.c; "
                        "configure with -DCOREIO_LLHTTP_SSE42=OFF")
  endif()
  file(CONFIGURE OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/coreio_llhttp_sse42_names.h"
       CONTENT "${_renames}")
  target_sources(coreio_llhttp PRIVATE "${_coreio_llhttp_dir}/llhttp_sse42.c")
  set_source_files_properties("${_coreio_llhttp_dir}/llhttp_sse42.c" PROPERTIES
    COMPILE_OPTIONS "-msse4.2"
    COMPILE_DEFINITIONS "COREIO_LLHTTP_C=\"${COREIO_LLHTTP_C}\"")
  set_source_files_properties("${_coreio_llhttp_dir}/llhttp_dispatch.c" PROPERTIES
    COMPILE_DEFINITIONS "COREIO_LLHTTP_SSE42=1")
  target_include_directories(coreio_llhttp PRIVATE "${CMAKE_CURRENT_BINARY_DIR}")
  unset(_defs)
  unset(_renames)
  unset(_seen)
endif()
message(STATUS "coreio: llhttp from ${COREIO_LLHTTP_SOURCE_DIR} (strict mode; SSE4.2 copy: "
               "${COREIO_LLHTTP_SSE42})")
