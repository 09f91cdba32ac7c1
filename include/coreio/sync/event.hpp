// coreio/sync/event.hpp — event (asyncio.Event): a flag that tasks wait to become true.
//
// Protocol: `set_` is written only under the spinlock, and read without it by is_set() and by
// wait()'s fast path. set() stores true and unlinks every waiter (state granted) in the same
// critical section, then schedules them after unlocking. A waiter checks the flag again under the
// lock before queueing (detail/wait_list.hpp, step 4), so a set() either sees it queued or it sees
// the flag: no lost wake-up. clear() only stores false; waiters already woken return anyway (as in
// asyncio, a waiter woken by set() returns even if clear() followed before it ran).
//
// Thread safety: distinct objects: safe. Shared objects: safe; wait() from tasks on any worker;
// set(), clear(), is_set() from any thread.
// Memory ordering: everything done before set() happens-before the return of a wait() that sees
// the flag set (woken by it, or finding it set).
#pragma once

#include <atomic>
#include <coroutine>
#include <mutex>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

/// A manual-reset event (asyncio.Event): set() wakes every waiter and lets later waits through
/// until clear().
///
/// wait() on a set event completes without suspending and without looking at cancellation;
/// otherwise it throws cancelled_error if the task is cancelled while waiting. A cancel racing a
/// set() that already woke the waiter loses: wait() returns normally.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; wait() from tasks on any worker;
/// set(), clear(), is_set() from any thread.
/// Memory ordering: what the setter did before set() happens-before the return of a wait() that
/// observed that set.
///
/// Example:
///   coreio::event ready;
///   // task A:                     // task B (or a plain thread):
///   co_await ready.wait();         ready.set();
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Sets the flag and wakes every waiter. Any thread; idempotent.
  void set() noexcept {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    // Release pairs with the acquire load in is_set() / the waiter's fast path.
    set_.store(true, std::memory_order_release);
    wake.take_all(waiters_, detail::wait_state::granted);
  }  // unlock, then wake

  /// Resets the flag; later waits block until the next set(). Any thread.
  void clear() noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    // Relaxed: clearing publishes nothing.
    set_.store(false, std::memory_order_relaxed);
  }

  /// Any thread; a snapshot. Acquire: pairs with the release store in set().
  bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }

  /// Awaitable: returns once the flag is set. Throws cancelled_error if cancelled while waiting.
  /// Worker only.
  [[nodiscard]] auto wait() noexcept { return awaiter(this); }

 private:
  class awaiter : detail::waiter_base {
   public:
    explicit awaiter(event* e) noexcept : e_(e) {}
    bool await_ready() noexcept {
      return ready(e_->is_set() ? detail::wait_state::granted : detail::wait_state::init);
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return suspend(h, e_->lock_, e_->waiters_, detail::wait_sites::event,
                     [this](detail::wake_list&) {
                       // Relaxed: under the lock that set() holds while storing.
                       return e_->set_.load(std::memory_order_relaxed) ? detail::wait_state::granted
                                                                       : detail::wait_state::init;
                     });
    }
    void await_resume() {
      if (finish() == detail::wait_state::cancelled) detail::throw_cancelled();
    }

   private:
    event* e_;
  };

  // Writers: set()/clear() under lock_. Readers: anyone (is_set, the wait fast path).
  std::atomic<bool> set_{false};
  // Guards waiters_ and their nodes.
  detail::spinlock lock_;
  detail::wait_list waiters_;
};

}  // namespace coreio
