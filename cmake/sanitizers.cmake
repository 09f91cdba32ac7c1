# Sanitizer builds, chosen with the cache variable COREIO_SANITIZE:
#   ''       no sanitizer
#   thread   ThreadSanitizer
#   address  AddressSanitizer + UndefinedBehaviorSanitizer (UB is fatal)
# The flags are applied to the whole directory tree (library, tests, examples,
# benchmarks) with add_compile_options/add_link_options, so include this file
# from the top-level CMakeLists.txt before any target is defined.
#
# Code may scale stress sizes down with COREIO_SANITIZE_THREAD /
# COREIO_SANITIZE_ADDRESS, which are defined to 1 in the matching build.
#
# COREIO_SANITIZE_FLAGS (a ;-list of flags) and COREIO_SANITIZE_DEFINITION
# (NAME=1) are left set, empty without a sanitizer, so that a test building a
# separate project (tests/install) can build it the same way.

set_property(CACHE COREIO_SANITIZE PROPERTY STRINGS "" thread address)
string(TOLOWER "${COREIO_SANITIZE}" _coreio_sanitize)
set(COREIO_SANITIZE_FLAGS "")
set(COREIO_SANITIZE_DEFINITION "")

if(_coreio_sanitize STREQUAL "")
  # nothing
elseif(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  message(FATAL_ERROR "COREIO_SANITIZE=${COREIO_SANITIZE} needs GCC or Clang, not ${CMAKE_CXX_COMPILER_ID}")
elseif(_coreio_sanitize STREQUAL "thread")
  set(COREIO_SANITIZE_FLAGS -fsanitize=thread)
  set(COREIO_SANITIZE_DEFINITION COREIO_SANITIZE_THREAD=1)
elseif(_coreio_sanitize STREQUAL "address")
  set(COREIO_SANITIZE_FLAGS
      -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  set(COREIO_SANITIZE_DEFINITION COREIO_SANITIZE_ADDRESS=1)
else()
  message(FATAL_ERROR "COREIO_SANITIZE must be '', 'thread' or 'address', not '${COREIO_SANITIZE}'")
endif()

if(COREIO_SANITIZE_FLAGS)
  # Reports need at least line tables: -g for the configurations without debug information (a
  # RelWithDebInfo or Debug build keeps the level its flags chose: tools/dev uses -g1).
  add_compile_options(${COREIO_SANITIZE_FLAGS}
                      "$<$<NOT:$<CONFIG:RelWithDebInfo,Debug>>:-g>")
  add_link_options(${COREIO_SANITIZE_FLAGS})
  add_compile_definitions(${COREIO_SANITIZE_DEFINITION})
  # Coroutine symmetric transfer relies on tail calls, which GCC emits only
  # when optimising: a chain of resumptions at -O0 grows the stack without
  # bound. Optimised configurations already have -O2/-Os; give every other
  # configuration (Debug, or none) -O1. Compile options come after
  # CMAKE_CXX_FLAGS_<CONFIG> on the command line, so this -O1 wins over -O0.
  add_compile_options("$<$<NOT:$<CONFIG:Release,RelWithDebInfo,MinSizeRel>>:-O1>")
  message(STATUS "coreio: sanitizer '${_coreio_sanitize}': ${COREIO_SANITIZE_FLAGS}")
endif()

# mimalloc frees a frame that ended on another thread through its own lock-free lists, which
# neither sanitizer can see: TSan reports every reused frame as a race and ASan cannot see a use
# after free inside mimalloc's pages. Sanitizer builds allocate frames with operator new. (Tested
# before the unset: an unset variable compares as its own name, which is not empty, and that once
# turned mimalloc off in every build; tests/cmake/default_allocator.cmake guards it.)
if(NOT _coreio_sanitize STREQUAL "" AND COREIO_MIMALLOC)
  message(STATUS "coreio: COREIO_SANITIZE=${COREIO_SANITIZE} turns COREIO_MIMALLOC off")
  set(COREIO_MIMALLOC OFF CACHE BOOL "Allocate coroutine frames with mimalloc" FORCE)
endif()
unset(_coreio_sanitize)
