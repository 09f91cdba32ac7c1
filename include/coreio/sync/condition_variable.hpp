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
// the next waiter, as notify_one only ever counts queued nodes.
// Lock order: the cv's spinlock is never held while taking the mutex's.
//
// Thread safety: distinct objects: safe. Shared objects: safe; wait() from tasks on any worker
// holding the guard; notify_one() / notify_all() from any thread, with or without the mutex.
// Memory ordering: as the mutex: what the notifier did while holding the mutex happens-before the
// return of the waits that re-acquire it.
#pragma once

#include <coroutine>
#include <mutex>
#include <utility>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>
#include <coreio/sync/mutex.hpp>
#include <coreio/task.hpp>

namespace coreio {

/// A condition variable for tasks (asyncio.Condition, with the lock passed to wait as in
/// std::condition_variable). Waiters are woken in FIFO order; there are no spurious wake-ups, but
/// use the predicate form anyway: another task may change the state between the notify and the
/// waiter's re-acquisition of the mutex.
///
/// On every return from wait — normal, cancelled_error, or any exception — the guard holds the
/// mutex again. wait(lock) without a predicate allocates nothing; wait(lock, pred) is a coroutine
/// (one frame per call) that loops `while (!pred()) co_await wait(lock);`.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; wait() from tasks on any worker;
/// notify_one() / notify_all() from any thread.
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

  /// Wakes the first waiter, if any. Any thread.
  void notify_one() noexcept {
    waiter* w = nullptr;
    {
      std::lock_guard<detail::spinlock> g(lock_);
      if (detail::waiter_node* n = waiters_.pop_front()) {
        n->state = detail::wait_state::granted;
        w = static_cast<waiter*>(n);
      }
    }
    if (w != nullptr) relock(w);
  }

  /// Wakes every waiter. Any thread.
  void notify_all() noexcept {
    detail::waiter_node* n = nullptr;
    {
      std::lock_guard<detail::spinlock> g(lock_);
      detail::waiter_node* tail = nullptr;
      while (detail::waiter_node* x = waiters_.pop_front()) {
        x->state = detail::wait_state::granted;
        if (tail != nullptr) tail->next = x;
        else n = x;
        tail = x;
      }
    }
    while (n != nullptr) {
      // Safety: read next before relock: once relocked, the waiter may run and free its frame.
      detail::waiter_node* next = n->next;
      relock(static_cast<waiter*>(n));
      n = next;
    }
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
          h, cv_->lock_, cv_->waiters_,
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
      set_owns(guard_, true);  // never released (not suspended), or re-acquired by relock
      if (s == detail::wait_state::cancelled) detail::throw_cancelled();
    }

   private:
    condition_variable* cv_;
    mutex_guard* guard_;
  };

  [[noreturn]] static void throw_usage_unowned() {
    detail::throw_usage("condition_variable::wait with a guard that does not own its mutex");
  }

  // Guards waiters_ and the state of their nodes.
  detail::spinlock lock_;
  detail::wait_list waiters_;
};

}  // namespace coreio
