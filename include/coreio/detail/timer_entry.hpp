// coreio/detail/timer_entry.hpp — one pending deadline in a worker's timer queue, and the hooks
// (src/time/timer.cpp) that insert, claim, erase and cancel it.
//
// An entry lives in the frame (or state) of whoever waits on it: a sleep (coreio/time.hpp), wait_for's
// timer share (coreio/wait_for.hpp), a timeout_scope's deadline (detail/timeout_state.hpp). The queue only
// points at it.
//
// Protocol (src/time/timer.cpp has the queue side):
//   1. The owner fills deadline (and waiter or on_done) while the entry is in no queue, sets it
//      pending, and inserts it (timer_insert / timer_insert_on). From then on it is visible to the
//      queue's worker, the runtime's monitor (which fires entries of a worker stuck in a long poll)
//      and any canceller.
//   2. Exactly one of pending -> fired (a firer: the deadline passed) and pending -> cancelled (a
//      canceller, or the owner taking it back: timer_claim_cancelled) wins, by an acq_rel
//      compare-exchange on `state`. The winner removes the entry from its queue and finishes it:
//      resumes the waiter, or calls on_done(e, fired).
//   3. A sleeper's resumption hand-shake (`shares`): the winner and the sleeper's await_suspend each
//      drop one share; the last resumes the sleeper, so a firing that lands while await_suspend is
//      still running never resumes the sleeper early.
//   Entries with on_done (wait_for, timeout_scope) keep whatever they touch alive through their own
//   countdown (detail/child_join.hpp).
//
// Memory ordering: the entry's fields are written before the insert and published by the queue's
// lock; `state`'s acq_rel compare-exchange orders the winner's finish after both claims; `shares`
// is acq_rel on both sides (see there).
//
// Thread safety: see each hook.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>

#include <coreio/detail/cancel_scope.hpp>
#include <coreio/detail/sched_hooks.hpp>

namespace coreio::detail {

using steady_clock = std::chrono::steady_clock;

/// A deadline as the argument of a wait record (detail/wait_site.hpp): steady_clock nanoseconds.
inline std::int64_t deadline_ns(steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

class timer_queue;  // src/time/timer_queue.hpp: one worker's heap of pending sleeps

/// One pending sleep. Lives in the sleeping coroutine's frame; held by one worker's timer queue.
/// Its life (src/time/timer.cpp): inserted pending; then exactly one of pending -> fired (the
/// deadline passed) or pending -> cancelled (a canceller), by an acq_rel compare-exchange; the
/// winner finishes the entry (resumes the waiter or calls on_done).
struct timer_entry : cancel_node {
  enum : std::uint8_t { pending, fired, cancelled };
  timer_entry() noexcept = default;
  /// Movable until inserted (an awaitable is movable until first awaited): a fresh entry.
  timer_entry(timer_entry&& o) noexcept
      : cancel_node(std::move(o)), deadline(o.deadline), on_done(o.on_done) {}

  steady_clock::time_point deadline{};
  std::coroutine_handle<> waiter{};
  /// The queue that holds the entry and the runtime to resume the waiter on. Set by timer_insert;
  /// read by any canceller or firer.
  timer_queue* queue = nullptr;
  runtime_impl* rt = nullptr;
  /// Position in the queue's heap, npos when not in it. Guarded by the queue's lock.
  std::uint32_t heap_index = static_cast<std::uint32_t>(-1);
  /// pending -> fired or pending -> cancelled, once; see above.
  std::atomic<std::uint8_t> state{pending};
  /// A sleeper's resumption hand-shake (entries without on_done): the thread that wins the entry
  /// and the sleeper's await_suspend each drop one share; whoever drops the last resumes the
  /// sleeper (the winner schedules it; await_suspend returns false). The entry is visible to
  /// other threads (the monitor, cancellers) from timer_insert on, so a firing may land before
  /// await_suspend has finished with the awaiter; this keeps it from resuming the sleeper early.
  /// acq_rel fetch_sub on both sides: each side's writes are visible to the one that resumes.
  std::atomic<std::uint8_t> shares{2};
  /// Drops one share; true for the last.
  bool drop_share() noexcept { return shares.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  /// If set, called instead of resuming `waiter`, once the entry has left the queue (fired: true,
  /// or cancelled: false), on the thread that won the entry: the owner worker, a canceller, or the
  /// runtime's monitor (for a worker stuck in a long poll). Used by wait_for, whose timer interrupts
  /// a child instead of resuming a sleeper.
  void (*on_done)(timer_entry*, bool fired) noexcept = nullptr;
};

/// Adds e to the calling worker's timer queue. Worker only.
void timer_insert(timer_entry* e);
/// Adds e to the timer queue of worker `index` of rt, then wakes that worker so that, if it is
/// parked, it re-arms its wake-up for e's deadline (timeout_scope::reschedule from a thread that is
/// not one of rt's workers). Any thread, while rt runs a task that keeps it from shutting down.
void timer_insert_on(runtime_impl* rt, std::uint32_t index, timer_entry* e);
/// pending -> cancelled, the caller's claim on an entry that has not fired; true if it won. The
/// caller then removes it (timer_erase) and finishes it itself, or (in await_suspend) does not
/// suspend. Any thread.
bool timer_claim_cancelled(timer_entry* e) noexcept;
/// Removes e from its queue if it is still there. Any thread.
void timer_erase(timer_entry* e) noexcept;
/// The cancel_node::fn of a timer_entry: claim it as cancelled, remove it and finish it (resume
/// the waiter, or on_done(e, false)) on the calling thread. A no-op if it fired first. Any thread.
void timer_cancel(cancel_node* n) noexcept;

}  // namespace coreio::detail
