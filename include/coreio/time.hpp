// coreio/time.hpp — sleep_for and sleep_until (asyncio.sleep).
//
// A sleep is an entry in the timer heap of the worker the task runs on; that worker's event loop
// wakes for the earliest entry. Cancelling the task removes the entry at once (a cancel from
// another thread is posted to the owning worker's loop) and the sleep throws cancelled_error.
//
// Thread safety: may only be awaited from a task running on a worker.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>

#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>

namespace coreio {

namespace detail {

using steady_clock = std::chrono::steady_clock;

/// One pending sleep. Lives in the sleeping coroutine's frame; owned by one worker's timer heap.
struct timer_entry : cancel_node {
  enum : std::uint8_t { pending, fired, cancelled };
  steady_clock::time_point deadline{};
  std::coroutine_handle<> waiter{};
  /// The worker whose heap holds the entry. Set by timer_insert; read by any canceller.
  worker* owner = nullptr;
  /// Position in the owner's heap, npos when not in it. Owner worker only.
  std::uint32_t heap_index = static_cast<std::uint32_t>(-1);
  /// pending -> fired (owner, when due) or pending -> cancelled (a canceller): whoever moves it away
  /// from pending resumes the waiter. acq_rel compare-exchanges; see timer.cpp.
  std::atomic<std::uint8_t> state{pending};
  /// If set, called instead of resuming `waiter`, once the entry has left the heap (fired: true, or
  /// erased after a cancel: false); always on the owner worker. Used by wait_for, whose timer interrupts
  /// a child instead of resuming a sleeper.
  void (*on_done)(timer_entry*, bool fired) noexcept = nullptr;
};

/// The end of an entry's life in the heap: resume the sleeper, or tell whoever set on_done. Owner
/// worker only, after the entry has left the heap; e may be gone once this returns.
void timer_finish(timer_entry* e, bool fired) noexcept;

/// Adds e to the calling worker's heap. Worker only.
void timer_insert(timer_entry* e);
/// Removes e from the calling worker's heap (it must be the owner). Worker only.
void timer_erase(timer_entry* e) noexcept;
/// The cancel_node::fn of a timer_entry. Any thread.
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
    if (deadline <= steady_clock::now()) return false;
    waiter = h;
    fn = &timer_cancel;
    timer_insert(this);
    if (!scope_->arm(this)) {
      timer_erase(this);
      state.store(cancelled, std::memory_order_relaxed);
      return false;
    }
    armed_ = true;
    return true;
  }
  void await_resume() {
    if (armed_) scope_->disarm(this);
    // Relaxed: the resumption (queue push/pop) orders the writer's exchange before this load.
    if (state.load(std::memory_order_relaxed) == cancelled) throw_cancelled();
  }

 private:
  cancel_scope* scope_ = nullptr;
  bool armed_ = false;
};

}  // namespace detail

/// Suspends the calling task until `deadline` (asyncio.sleep). Throws cancelled_error if the task is
/// cancelled before or during the sleep.
inline detail::sleep_awaiter sleep_until(std::chrono::steady_clock::time_point deadline) noexcept {
  return detail::sleep_awaiter{deadline};
}

namespace detail {
/// now + d, saturated at time_point::max() instead of overflowing ("forever"); now if d <= 0.
template <class Rep, class Period>
steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  const steady_clock::time_point now = steady_clock::now();
  if (d <= std::chrono::duration<Rep, Period>::zero()) return now;
  if (std::chrono::duration<double>(d) >=
      std::chrono::duration<double>(steady_clock::time_point::max() - now)) {
    return steady_clock::time_point::max();
  }
  return now + std::chrono::ceil<steady_clock::duration>(d);
}
}  // namespace detail

/// Suspends the calling task for `d`. A zero or negative duration does not suspend; a huge one
/// (hours::max()) sleeps until the task is cancelled.
///
/// Example:  co_await coreio::sleep_for(std::chrono::milliseconds(10));
template <class Rep, class Period>
detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) noexcept {
  return detail::sleep_awaiter{detail::deadline_after(d)};
}

}  // namespace coreio
