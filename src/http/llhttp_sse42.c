/* src/http/llhttp_sse42.c — llhttp's generated parser (Debian's llhttp.c, not copied here)
 * compiled a second time, with -msse4.2 (cmake/llhttp.cmake), so that its __SSE4_2__ paths scan
 * header names and values 16 bytes at a time. Every function llhttp.c defines is renamed with a
 * coreio_sse42_ prefix (coreio_llhttp_sse42_names.h, made at configure time from llhttp.c), so
 * this copy links beside the baseline one; llhttp_dispatch.c calls its execute only on a CPU with
 * SSE4.2. Both copies are one state machine working on the same llhttp_t: llhttp_init (the
 * baseline copy) prepares the state either copy then runs. */
#include "coreio_llhttp_sse42_names.h"

#include COREIO_LLHTTP_C
