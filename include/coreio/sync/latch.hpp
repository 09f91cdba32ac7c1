// coreio/sync/latch.hpp — latch (std::latch for tasks): a single-use countdown that tasks wait on.
//
// Protocol: `count_` is written only under the spinlock and read without it by try_wait() and by
// wait()'s fast path. The count_down that reaches zero unlinks every waiter (state granted) in the
// same critical section and schedules them after unlocking; a waiter checks the count again under
// the lock before queueing (detail/wait_list.hpp, step 4): no lost wake-up. Once zero, the count
// stays zero.
//
// Thread safety: distinct objects: safe. Shared objects: safe; wait() / arrive_and_wait() from
// tasks on any worker; count_down() and try_wait() from any thread.
// Memory ordering: everything done before each count_down happens-before the return of a wait()
// (or a true try_wait()) that sees the count at zero.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <mutex>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

/// A single-use countdown (std::latch semantics, with a cancellable wait).
///
/// wait() on a latch at zero completes without suspending and without looking at cancellation;
/// otherwise a cancel makes it throw cancelled_error. arrive_and_wait() counts down by one at once
/// (when called, before any suspension; a cancel does not undo the arrival), then waits.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; wait() / arrive_and_wait() from
/// tasks on any worker; count_down() and try_wait() from any thread.
/// Memory ordering: what each thread did before its count_down happens-before the return of a
/// wait() or a true try_wait() that sees zero.
///
/// Example:
///   coreio::latch done{3};
///   // each of 3 workers:  done.count_down();
///   co_await done.wait();
class latch {
 public:
  explicit latch(std::size_t count) : count_(count) {}
  latch(const latch&) = delete;
  latch& operator=(const latch&) = delete;

  /// Decrements by n (default 1), waking every waiter on reaching zero. usage_error, changing
  /// nothing, if n exceeds the count. Any thread.
  void count_down(std::size_t n = 1) {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    // Relaxed: writers hold lock_.
    const std::size_t c = count_.load(std::memory_order_relaxed);
    if (n > c) detail::throw_usage("latch::count_down below zero");
    if (n == 0) return;
    // Release pairs with the acquire load in try_wait() / the wait fast path.
    count_.store(c - n, std::memory_order_release);
    if (c == n) wake.take_all(waiters_, detail::wait_state::granted);
  }

  /// True if the count is zero. Any thread. Acquire: pairs with the release in count_down().
  bool try_wait() const noexcept { return count_.load(std::memory_order_acquire) == 0; }

  /// Awaitable: returns once the count is zero. Throws cancelled_error if cancelled while waiting.
  /// Worker only.
  [[nodiscard]] auto wait() noexcept { return awaiter(this); }

  /// count_down(1), then wait(). Worker only.
  [[nodiscard]] auto arrive_and_wait() {
    count_down(1);
    return awaiter(this);
  }

 private:
  class awaiter : detail::waiter_base {
   public:
    explicit awaiter(latch* l) noexcept : l_(l) {}
    bool await_ready() noexcept {
      return ready(l_->try_wait() ? detail::wait_state::granted : detail::wait_state::init);
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return suspend(
          h, l_->lock_, l_->waiters_, detail::wait_sites::latch, [this](detail::wake_list&) {
            // Relaxed: under the lock that count_down holds while storing.
            return l_->count_.load(std::memory_order_relaxed) == 0 ? detail::wait_state::granted
                                                                   : detail::wait_state::init;
          });
    }
    void await_resume() {
      if (finish() == detail::wait_state::cancelled) detail::throw_cancelled();
    }

   private:
    latch* l_;
  };

  // Writers: count_down() under lock_. Readers: anyone (try_wait, the wait fast path).
  std::atomic<std::size_t> count_;
  // Guards waiters_ and their nodes.
  detail::spinlock lock_;
  detail::wait_list waiters_;
};

}  // namespace coreio
