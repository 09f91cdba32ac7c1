// coreio/sync/condition_variable.hpp — condition_variable (asyncio.Condition) over coreio::mutex.
//
// wait(lock) protocol (one awaiter, no allocation; detail/wait_list.hpp for the common steps):
//   1. Cancelled already: throw at once, the mutex never released.
//   2. Arm; under the cv's spinlock queue the node (state queued), and mark the guard as not
//      owning — all before the mutex is released, so a notify issued by anyone who takes the mutex
//      after us finds the node (no lost notify). Then, with the cv's spinlock released, unlock the
//      mutex through a local copy of its address (the frame may already be resumed elsewhere).
//   3. A notify (or the cancel function) unlinks the node under the cv's spinlock and then, with no
//      lock held, "morphs" it: it re-acquires the mutex on the waiter's behalf
//      (permit_core::acquire_or_enqueue, uncancellable). If the mutex is free the morpher
//      schedules the coroutine; otherwise the node waits in the mutex's FIFO and the unlock that
//      hands it the mutex schedules it. A woken waiter therefore never runs without the mutex, and
//      a cancel cannot leave it unlocked.
//   4. await_resume: disarm; the guard owns the mutex again; if the node was cancelled, throw
//      cancelled_error (the guard, holding the lock, unlocks as the exception unwinds, like
//      std::condition_variable).
// If a cancel races a notify, whoever unlinks the node first decides: notified means a normal
// return (the sticky cancel hits the next suspension point), cancelled means the notify passes to
// the next waiter, as notify(n) only ever counts queued nodes.
// Lock order: the cv's spinlock is never held while taking the mutex's.
//
// Timed waits: wait_for(lock, d) / wait_until(lock, t) run `co_await wait(lock)` in a child task
// under coreio::wait_until (wait_for.hpp), whose timer cancels the child when the time runs out.
// No notify is lost, by the rule above applied to the timer's cancel:
//   * the timeout's cancel unlinks the node first: the node is gone before any later notify looks,
//     so that notify goes to the next waiter; the child re-acquires the mutex (step 3) and throws
//     cancelled_error, which wait_until turns into timeout_error: the timed wait returns false;
//   * a notify unlinks the node first: the child's wait returns normally (the cancel finds the node
//     granted and does nothing) and wait_until returns the child's value even though its timer
//     fired ("a value produced during the timeout is returned, not lost"): the timed wait returns
//     true. So every waiter a notify(n) counts returns true, and no false return consumed one.
// asyncio's Condition.wait notifies another waiter when it raises, because there a cancel can land
// after the notify, during the re-acquisition of the lock; here the re-acquisition is uncancellable
// (relock queues an unarmed node), so a notified wait always returns normally and that extra
// notify (a spurious wake-up for someone) is not needed.
//
// Thread safety: distinct objects: safe. Shared objects: safe; wait() / wait_for() / wait_until()
// from tasks on any worker holding the guard; notify(n) / notify_one() / notify_all() and waiting()
// from any thread, with or without the mutex.
// Memory ordering: as the mutex: what the notifier did while holding the mutex happens-before the
// return of the waits that re-acquire it.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <limits>
#include <mutex>
#include <utility>

#include <coreio/detail/saturating_time.hpp>
#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>
#include <coreio/sync/mutex.hpp>
#include <coreio/task.hpp>
#include <coreio/wait_for.hpp>

namespace coreio {

/// A condition variable for tasks (asyncio.Condition, with the lock passed to wait as in
/// std::condition_variable). Waiters are woken in FIFO order; there are no spurious wake-ups, but
/// use the predicate form anyway: another task may change the state between the notify and the
/// waiter's re-acquisition of the mutex.
///
/// On every return from wait, wait_for and wait_until — normal, timeout, cancelled_error, or any
/// exception — the guard holds the mutex again. wait(lock) without a predicate allocates nothing;
/// wait(lock, pred) is a coroutine (one frame per call) that loops `while (!pred()) co_await
/// wait(lock);`. A timed wait is two coroutine frames (the timed wait and the child task that
/// wait_until runs; the timer lives in the first).
///
/// Thread safety: distinct objects: safe. Shared objects: safe; the waits from tasks on any worker;
/// notify(n), notify_one(), notify_all(), waiting() from any thread.
/// Memory ordering: what the notifier wrote under the mutex happens-before the waiter's return.
///
/// Example:
///   coreio::mutex m;  coreio::condition_variable cv;  std::deque<int> items;
///   // consumer:
///   auto lock = co_await m.lock();
///   co_await cv.wait(lock, [&] { return !items.empty(); });
///   int x = items.front(); items.pop_front();
///   // producer:
///   { auto lock = co_await m.lock(); items.push_back(1); }  cv.notify_one();
///   // a consumer that gives up after 100 ms (the lock is held again either way):
///   const bool ready = co_await cv.wait_for(lock, 100ms, [&] { return !items.empty(); });
///   if (!ready) co_return;
class condition_variable {
 public:
  condition_variable() = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  /// Awaitable: releases lock's mutex, waits for a notify, re-acquires the mutex. usage_error if
  /// lock does not own its mutex. Throws cancelled_error (mutex held again) if cancelled before or
  /// while waiting. Worker only.
  [[nodiscard]] auto wait(mutex_guard& lock) {
    if (!lock.owns_lock()) throw_usage_unowned();
    return awaiter(this, &lock);
  }

  /// Waits until pred() is true (checked first, and after each wake-up, with the mutex held).
  template <class Pred>
  task<void> wait(mutex_guard& lock, Pred pred) {
    while (!pred()) co_await wait(lock);
  }

  /// Awaitable task: as wait(lock), but gives up at `deadline`. Returns true if notified, false
  /// if the deadline passed first (a deadline already due returns false at once, without
  /// releasing the mutex; time_point::max() never times out). The guard holds the mutex again on
  /// every exit. A notify that races the timeout is never lost: either this wait returns true, or
  /// the notify went to another waiter (file comment). usage_error (thrown here, not when
  /// awaited) if lock does not own its mutex; cancelled_error if the task is cancelled before or
  /// while waiting. Worker only.
  [[nodiscard]] task<bool> wait_until(mutex_guard& lock,
                                      std::chrono::steady_clock::time_point deadline) {
    if (!lock.owns_lock()) throw_usage_unowned();
    return timed_wait(this, &lock, deadline);
  }

  /// wait_until(lock, now + d): d is any std::chrono duration, saturated (hours::max() never times
  /// out; zero or negative: false at once). std::invalid_argument for a NaN duration.
  ///
  /// Example:  bool notified = co_await cv.wait_for(lock, 100ms);
  template <class Rep, class Period>
  [[nodiscard]] task<bool> wait_for(mutex_guard& lock, std::chrono::duration<Rep, Period> d) {
    return wait_until(lock, detail::deadline_after(d));
  }

  /// Waits until pred() is true or `deadline` passes; returns pred() (so false means it timed out
  /// with the predicate still false). pred is checked first and after each wake-up, with the mutex
  /// held, as std::condition_variable::wait_until(lock, t, pred) does.
  template <class Pred>
  [[nodiscard]] task<bool> wait_until(mutex_guard& lock,
                                      std::chrono::steady_clock::time_point deadline, Pred pred) {
    if (!lock.owns_lock()) throw_usage_unowned();
    return timed_wait_pred(this, &lock, deadline, std::move(pred));
  }

  /// wait_until(lock, now + d, pred), d saturated as in wait_for(lock, d).
  template <class Rep, class Period, class Pred>
  [[nodiscard]] task<bool> wait_for(mutex_guard& lock, std::chrono::duration<Rep, Period> d,
                                    Pred pred) {
    return wait_until(lock, detail::deadline_after(d), std::move(pred));
  }

  /// Wakes up to n waiters, first come first served (asyncio's Condition.notify(n)); returns how
  /// many it woke (each of them returns normally from its wait, true from a timed one). Any thread.
  std::size_t notify(std::size_t n) noexcept {
    detail::waiter_node* first = nullptr;
    std::size_t woken = 0;
    {
      std::lock_guard<detail::spinlock> g(lock_);
      detail::waiter_node* tail = nullptr;
      while (woken < n) {
        detail::waiter_node* x = waiters_.pop_front();
        if (x == nullptr) break;
        x->state = detail::wait_state::granted;
        (tail != nullptr ? tail->next : first) = x;
        tail = x;
        ++woken;
      }
      if (tail != nullptr) tail->next = nullptr;
    }
    while (first != nullptr) {
      // Safety: read next before relock: once relocked, the waiter may run and free its frame.
      detail::waiter_node* next = first->next;
      relock(static_cast<waiter*>(first));
      first = next;
    }
    return woken;
  }

  /// Wakes the first waiter, if any (notify(1)). Any thread.
  void notify_one() noexcept { (void)notify(1); }

  /// Wakes every waiter (asyncio's notify_all). Any thread.
  void notify_all() noexcept { (void)notify(std::numeric_limits<std::size_t>::max()); }

  /// Tasks waiting for a notify now (not counting those re-acquiring the mutex). Any thread; a
  /// snapshot.
  std::size_t waiting() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return waiters_.size();
  }

 private:
  /// A cv waiter: its node in the cv's list plus the node it re-acquires the mutex with.
  struct waiter : detail::waiter_base {
    coreio::mutex* m = nullptr;
    detail::waiter_node mutex_node;
  };

  /// Step 3 of the file comment. w is unlinked and in a final state; no lock is held.
  static void relock(waiter* w) noexcept {
    w->mutex_node.handle = w->handle;
    w->mutex_node.rt = w->rt;
    detail::runtime_impl* rt = w->rt;
    std::coroutine_handle<> h = w->handle;
    // Safety: if queued on the mutex, w may be resumed by the next unlock at any moment: touch
    // nothing of w after a false return.
    if (w->m->core_.acquire_or_enqueue(&w->mutex_node)) detail::schedule(rt, h);
  }
  // Access to the mutex and guard internals for the nested awaiter (friendship is not inherited
  // by nested classes in every compiler's reading).
  static void unlock_mutex(coreio::mutex* m) noexcept { m->unlock(); }
  // The mutex's unlock handed it to w's relock node from its queue: w has resumed (permit_core).
  static void mutex_resumed(coreio::mutex* m) noexcept { m->core_.resumed(); }
  static void set_owns(mutex_guard* g, bool owns) noexcept { g->owns_ = owns; }

  /// The cancel function of a cv waiter: unlink (if queued), then relock instead of scheduling.
  static void cancel_waiter(detail::cancel_node* c) noexcept {
    auto* w = static_cast<waiter*>(static_cast<detail::waiter_node*>(c));
    detail::spinlock& lk = *w->lock;
    lk.lock();
    if (w->state == detail::wait_state::queued) {
      w->list->erase(w);
      w->state = detail::wait_state::cancelled;
      lk.unlock();
      relock(w);
      return;
    }
    if (w->state == detail::wait_state::init) w->state = detail::wait_state::cancelled;
    lk.unlock();
  }

  class awaiter : waiter {
   public:
    awaiter(condition_variable* cv, mutex_guard* g) noexcept : cv_(cv), guard_(g) {}
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      m = guard_->mutex();
      coreio::mutex* mx = m;
      const bool suspended = suspend(
          h, cv_->lock_, cv_->waiters_, detail::wait_sites::condition,
          [this](detail::wake_list&) {
            // Still under the cv's lock, the node about to be queued: from here on the guard
            // does not own the mutex (it is handed back in await_resume).
            set_owns(guard_, false);
            return detail::wait_state::init;
          },
          &condition_variable::cancel_waiter);
      // Safety: only locals from here on; once the cv's lock was released the waiter may have
      // been notified, re-queued on the mutex and resumed elsewhere.
      if (suspended) unlock_mutex(mx);
      return suspended;
    }
    void await_resume() {
      const detail::wait_state s = finish();
      // handed is written under the mutex's lock before its unlock scheduled us.
      if (mutex_node.handed) mutex_resumed(m);
      set_owns(guard_, true);  // never released (not suspended), or re-acquired by relock
      if (s == detail::wait_state::cancelled) detail::throw_cancelled();
    }

   private:
    condition_variable* cv_;
    mutex_guard* guard_;
  };

  /// The child of a timed wait: one plain wait, cancelled by wait_until's timer.
  static task<void> wait_once(condition_variable* cv, mutex_guard* lock) {
    co_await cv->wait(*lock);
  }

  static task<bool> timed_wait(condition_variable* cv, mutex_guard* lock,
                               std::chrono::steady_clock::time_point deadline) {
    try {
      co_await ::coreio::wait_until(wait_once(cv, lock), deadline);
    } catch (const timeout_error&) {
      co_return false;  // the child re-acquired the mutex before it ended
    }
    co_return true;
  }

  template <class Pred>
  static task<bool> timed_wait_pred(condition_variable* cv, mutex_guard* lock,
                                    std::chrono::steady_clock::time_point deadline, Pred pred) {
    for (;;) {
      if (pred()) co_return true;
      // Through a local: g++ 12 miscompiles `if (!co_await ...)` (the awaiting coroutine is never
      // resumed).
      const bool notified = co_await timed_wait(cv, lock, deadline);
      if (!notified) co_return pred();
    }
  }

  [[noreturn]] static void throw_usage_unowned() {
    detail::throw_usage("condition_variable::wait with a guard that does not own its mutex");
  }

  // Guards waiters_ and the state of their nodes.
  mutable detail::spinlock lock_;
  detail::wait_list waiters_;
};

}  // namespace coreio
