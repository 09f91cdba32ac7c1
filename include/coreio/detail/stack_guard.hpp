// coreio/detail/stack_guard.hpp — keeps chains of symmetric transfers off the stack in builds where
// the compiler does not make them tail calls.
//
// Returning a handle from await_suspend (symmetric transfer) is meant to be a tail call, so that a
// child that completes and resumes its parent, which completes and resumes its own, and so on,
// runs in constant stack ([coroutine.handle.resumption], P0913). Clang emits that tail call when
// optimising; GCC only with -foptimize-sibling-calls, which -O2, -O3 and -Os turn on but -O1 and
// -Og do not (nor does a user who turns it off), and no macro says which. Neither emits it under
// ThreadSanitizer (every function ends with __tsan_func_exit), nor under AddressSanitizer with
// g++ (a frame's stack redzones are unpoisoned after the call), nor at -O0. There each link costs
// a frame: a hundred thousand spawn/join levels unwound by a cancel overflowed an 8 MiB worker
// stack, and so did a client reading a response of 30,000 one-byte chunks (each read_chunk
// completes at once and resumes its reader) built with g++ -O1. In those builds `transfer(next)`
// checks how far the stack has grown since the worker began the poll, and past
// `transfer_stack_limit` bytes it queues `next` behind the ready tasks (yield_to_back) instead, so
// the chain goes on from a fresh stack. Elsewhere it is the identity: with optimising Clang, and
// with GCC where COREIO_SIBLING_CALLS is defined, which the CMake target `coreio` does for the
// configurations whose flags turn the tail call on (Release -O3, RelWithDebInfo -O2, MinSizeRel
// -Os). (The check costs a few instructions per transfer: 12% more on fib, 4% on skynet, by
// callgrind with g++ -O3.)
//
// Thread safety: t_poll_stack_base is thread-local; the worker writes it before each poll.
#pragma once

#include <coroutine>
#include <cstddef>

#include <coreio/detail/sched_hooks.hpp>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || \
    defined(__SANITIZE_HWADDRESS__) || !defined(__OPTIMIZE__) ||     \
    (!defined(__clang__) && !defined(COREIO_SIBLING_CALLS))
#define COREIO_DETAIL_TRANSFER_MAY_GROW_STACK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer) || \
    __has_feature(hwaddress_sanitizer)
#define COREIO_DETAIL_TRANSFER_MAY_GROW_STACK 1
#endif
#endif

namespace coreio::detail {

/// Where the worker's stack stood when it began the running poll; null on other threads.
inline thread_local const char* t_poll_stack_base = nullptr;

/// Stack a chain of transfers may use within one poll before it continues from the run queue.
inline constexpr std::ptrdiff_t transfer_stack_limit = 512 * 1024;

/// The handle an await_suspend or final suspend returns to run next: next itself, or, where
/// transfers grow the stack and this poll has used more than transfer_stack_limit, noop after
/// queuing next behind the ready tasks.
inline std::coroutine_handle<> transfer(std::coroutine_handle<> next) noexcept {
#ifdef COREIO_DETAIL_TRANSFER_MAY_GROW_STACK
  const char* base = t_poll_stack_base;
  const char* here = static_cast<const char*>(__builtin_frame_address(0));
  if (base != nullptr && base - here > transfer_stack_limit && next != std::noop_coroutine()) {
    yield_to_back(next);
    return std::noop_coroutine();
  }
#endif
  return next;
}

}  // namespace coreio::detail
