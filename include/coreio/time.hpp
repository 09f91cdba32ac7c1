// coreio/time.hpp — sleep_for and sleep_until (asyncio.sleep).
//
// A sleep is an entry in the timer queue of the worker the task runs on; that worker fires it
// between polls and its event loop wakes for the earliest entry when it parks. If that worker is
// stuck in a long poll, the runtime's monitor fires it instead, so a sleep never ends late behind
// a busy worker. Cancelling the task removes the entry at once, from any thread, and the sleep
// throws cancelled_error. A deadline already due yields once, as asyncio.sleep(0) does.
// sleep_for's deadline is computed by detail::deadline_after (detail/saturating_time.hpp): it
// saturates at time_point::max(), "never", instead of overflowing into the past.
//
// Thread safety: may only be awaited from a task running on a worker.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>

#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/saturating_time.hpp>
#include <coreio/errors.hpp>

namespace coreio {

namespace detail {

using steady_clock = std::chrono::steady_clock;

class timer_queue;  // src/time/timer_queue.hpp: one worker's heap of pending sleeps

/// One pending sleep. Lives in the sleeping coroutine's frame; held by one worker's timer queue.
/// Its life (src/time/timer.cpp): inserted pending; then exactly one of pending -> fired (the
/// deadline passed) or pending -> cancelled (a canceller), by an acq_rel compare-exchange; the
/// winner finishes the entry (resumes the waiter or calls on_done).
struct timer_entry : cancel_node {
  enum : std::uint8_t { pending, fired, cancelled };
  timer_entry() noexcept = default;
  /// Movable until inserted (an awaitable is movable until first awaited): a fresh entry.
  timer_entry(timer_entry&& o) noexcept : cancel_node(std::move(o)), deadline(o.deadline), on_done(o.on_done) {}

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

class sleep_awaiter : timer_entry {
 public:
  explicit sleep_awaiter(steady_clock::time_point d) noexcept { deadline = d; }
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    scope_ = scope_of(h);
    if (scope_->cancelled()) {
      state.store(cancelled, std::memory_order_relaxed);
      return false;
    }
    if (deadline <= steady_clock::now()) {
      // A deadline already due is asyncio.sleep(0): go behind the ready tasks, then return (or
      // throw cancelled_error if cancelled meanwhile). It never fires late, it never spins.
      yielded_ = true;
      yield_to_back(h);
      return true;
    }
    waiter = h;
    fn = &timer_cancel;
    timer_insert(this);  // from here a firer or a canceller may win the entry (see `shares`)
    if (scope_->arm(this)) {
      armed_ = true;
    } else if (timer_claim_cancelled(this)) {
      // Cancelled before we armed, and the entry is still ours: take it back, do not suspend.
      timer_erase(this);
      return false;
    }
    // (Else the monitor fired it first: the sleep is over, the sticky cancel hits the next
    // suspension point.) Our share last: if the winner has finished already, go on inline.
    return !drop_share();
  }
  void await_resume() {
    if (yielded_) {
      if (scope_->cancelled()) throw_cancelled();
      return;
    }
    if (armed_) scope_->disarm(this);
    // Relaxed: the resumption (queue push/pop) orders the writer's exchange before this load.
    if (state.load(std::memory_order_relaxed) == cancelled) throw_cancelled();
  }

 private:
  cancel_scope* scope_ = nullptr;
  bool armed_ = false;
  bool yielded_ = false;
};

}  // namespace detail

/// Suspends the calling task until `deadline` (asyncio.sleep). A deadline already past, down to
/// time_point::min(), yields once (asyncio.sleep(0)); time_point::max() is "never": the sleep ends
/// only when the task is cancelled. Throws cancelled_error if the task is cancelled before or
/// during the sleep.
inline detail::sleep_awaiter sleep_until(std::chrono::steady_clock::time_point deadline) noexcept {
  return detail::sleep_awaiter{deadline};
}

/// Suspends the calling task for `d`, any std::chrono duration (rounded up to the clock's tick).
/// A zero or negative duration is asyncio.sleep(0): the task goes behind every ready task once; a
/// huge one (hours::max(), duration::max()) saturates at time_point::max() and sleeps until the
/// task is cancelled. A NaN floating-point duration throws std::invalid_argument.
///
/// Example:  co_await coreio::sleep_for(std::chrono::milliseconds(10));
template <class Rep, class Period>
detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) noexcept(
    !std::chrono::treat_as_floating_point_v<Rep>) {
  return detail::sleep_awaiter{detail::deadline_after(d)};
}

}  // namespace coreio
