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
  /// from pending resumes the waiter. acq_rel exchanges; see timer.cpp.
  std::atomic<std::uint8_t> state{pending};
};

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

/// Suspends the calling task for `d`. A zero or negative duration does not suspend.
///
/// Example:  co_await coreio::sleep_for(std::chrono::milliseconds(10));
template <class Rep, class Period>
detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) noexcept {
  using sc = std::chrono::steady_clock;
  const sc::time_point now = sc::now();
  if (d <= std::chrono::duration<Rep, Period>::zero()) return detail::sleep_awaiter{now};
  // Saturate instead of overflowing: sleep_for(hours::max()) sleeps "forever" (until cancelled).
  if (std::chrono::duration<double>(d) >= std::chrono::duration<double>(sc::time_point::max() - now)) {
    return detail::sleep_awaiter{sc::time_point::max()};
  }
  return detail::sleep_awaiter{now + std::chrono::ceil<sc::duration>(d)};
}

}  // namespace coreio
