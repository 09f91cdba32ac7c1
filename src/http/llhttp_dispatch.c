/* src/http/llhttp_dispatch.c — coreio_llhttp_execute: llhttp_execute through the SSE4.2 copy of
 * llhttp's parser when the build has one (llhttp_sse42.c, COREIO_LLHTTP_SSE42) and the CPU has
 * SSE4.2, else through the baseline copy. The choice is made once, before main (a constructor, so
 * no thread races its first use); coreio_llhttp_use_sse42 changes it for the tests that compare
 * the two copies.
 *
 * Thread safety: coreio_llhttp_execute from any thread, on parsers that thread owns;
 * coreio_llhttp_use_sse42 only while no parser runs (tests). */
#include <llhttp.h>

#include "llhttp_dispatch.h"

#if defined(COREIO_LLHTTP_SSE42) && COREIO_LLHTTP_SSE42
int coreio_sse42_llhttp__internal_execute(llhttp__internal_t* s, const char* p, const char* endp);

static int coreio_llhttp_sse42_in_use = 0; /* written before main and by tests only */

int coreio_llhttp_use_sse42(int on) {
  __builtin_cpu_init(); /* needed before __builtin_cpu_supports in a constructor */
  coreio_llhttp_sse42_in_use = on && __builtin_cpu_supports("sse4.2") ? 1 : 0;
  return coreio_llhttp_sse42_in_use;
}

__attribute__((constructor)) static void coreio_llhttp_pick(void) {
  (void)coreio_llhttp_use_sse42(1);
}

llhttp_errno_t coreio_llhttp_execute(llhttp_t* parser, const char* data, size_t len) {
  if (coreio_llhttp_sse42_in_use) {
    return (llhttp_errno_t)coreio_sse42_llhttp__internal_execute(parser, data, data + len);
  }
  return llhttp_execute(parser, data, len);
}
#else
int coreio_llhttp_use_sse42(int on) {
  (void)on;
  return 0;
}

llhttp_errno_t coreio_llhttp_execute(llhttp_t* parser, const char* data, size_t len) {
  return llhttp_execute(parser, data, len);
}
#endif
