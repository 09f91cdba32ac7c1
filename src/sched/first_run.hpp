// sched/first_run.hpp — a frame's first run out of a queue, and the cancellation check made there.
//
// A spawned task (spawned_task_start) and a gather child forked onto the fork deque (push_fork)
// reach a worker through a queue for their first run. Their queue entries carry a mark: the low
// bit of the frame's address (frames are 16-byte aligned, frame_alloc). The mark travels with the
// entry through every queue (run queue, fork deque, global queue, steals, overflows); only
// worker::execute reads it, before it resumes the frame:
//   * a frame whose own cancel scope was cancelled while it waited, and that was not made with
//     must_start (task.hpp), does not run its body (asyncio: a task cancelled before its first
//     step raises CancelledError there, before its first statement). It ends at once with
//     cancelled_error as if its body had thrown it: its final step (promise_base::on_final)
//     completes the join cell or the gather's countdown as for any end, and whoever that step
//     hands control to (a joiner, the gather's parent) runs as this poll, traced and timed;
//   * any other frame runs.
// The other first runs (an awaited task, a gather's child 0, the body of wait_for or
// timeout_scope) start by symmetric transfer the moment their starter decides to start them, as
// asyncio runs an awaited coroutine inline: nothing is checked, nothing is added on those paths.
//
// Memory ordering: must_start_ is written before the push that publishes the entry; the queue's
// hand-off orders it before the check. The scope's flag is read with acquire
// (cancel_scope::cancelled).
//
// Thread safety: marking by the pushing thread; the check by the worker that took the entry.
#pragma once

#include <coroutine>
#include <cstdint>

#include <coreio/detail/promise_base.hpp>

namespace coreio::detail {

/// The queue entry of h's first run: its address with the mark bit set.
inline void* first_run_entry(std::coroutine_handle<> h) noexcept {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(h.address()) | 1u);
}

/// Whether a queue entry is a first run (see the file comment).
inline bool is_first_run(void* entry) noexcept {
  return (reinterpret_cast<std::uintptr_t>(entry) & 1u) != 0;
}

/// The frame a first-run entry stands for.
inline std::coroutine_handle<> first_run_frame(void* entry) noexcept {
  return std::coroutine_handle<>::from_address(
      reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(entry) & ~std::uintptr_t{1}));
}

/// Whether h, taken from a queue for its first run, must not run its body.
inline bool cancelled_before_start(std::coroutine_handle<> h) noexcept {
  const promise_base& p = promise_of(h);
  return p.own_scope_.cancelled() && !p.must_start_;  // the flag first: it is nearly always clear
}

/// Ends h, which never ran, with cancelled_error; returns whom its end hands control to (the join
/// handle's awaiter, the gather's parent), or std::noop_coroutine(): the caller resumes it as a
/// poll of its own (traced, timed and watched as any). Worker only. Out of line and cold: inlined,
/// its exception_ptr code cost worker::execute two saved registers on every poll.
[[gnu::cold, gnu::noinline]] std::coroutine_handle<> end_unstarted(
    std::coroutine_handle<> h) noexcept;

}  // namespace coreio::detail
