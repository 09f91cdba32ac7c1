/* src/http/llhttp_dispatch.h — llhttp_execute through the fastest copy of llhttp's parser this
 * build and CPU have (llhttp_dispatch.c). Included by C (the dispatcher) and C++ (parser.cpp). */
#pragma once

#include <stddef.h>

#include <llhttp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* llhttp_execute, the same contract (llhttp.h), run by the SSE4.2 copy of the parser when the
 * build has it and the CPU supports SSE4.2, else by the baseline copy. */
llhttp_errno_t coreio_llhttp_execute(llhttp_t* parser, const char* data, size_t len);

/* For tests: 1 runs the SSE4.2 copy from now on if the build has it and the CPU supports it, 0
 * the baseline copy. Returns 1 if the SSE4.2 copy is now in use. Only while no parser runs. */
int coreio_llhttp_use_sse42(int on);

#ifdef __cplusplus
}
#endif
