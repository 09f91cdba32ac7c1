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

add_library(coreio_llhttp OBJECT
  "${COREIO_LLHTTP_SOURCE_DIR}/llhttp.c"
  "${COREIO_LLHTTP_SOURCE_DIR}/api.c"
  "${COREIO_LLHTTP_SOURCE_DIR}/http.c")
target_include_directories(coreio_llhttp PRIVATE "${COREIO_LLHTTP_INCLUDE_DIR}")
target_compile_definitions(coreio_llhttp PUBLIC LLHTTP_STRICT_MODE=1)
# Generated code: not ours to warn about (it has unused labels and parameters by design).
target_compile_options(coreio_llhttp PRIVATE -w)
set_target_properties(coreio_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 99)
message(STATUS "coreio: llhttp from ${COREIO_LLHTTP_SOURCE_DIR} (strict mode)")
