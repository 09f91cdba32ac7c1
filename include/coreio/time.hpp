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
// The entry a sleep puts in the timer queue, and the timer queue's hooks: detail/timer_entry.hpp.
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
#include <coreio/detail/timer_entry.hpp>
#include <coreio/errors.hpp>

namespace coreio {

namespace detail {

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
    scope_->note_wait(&wait_sites::sleep, deadline_ns(deadline));
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
