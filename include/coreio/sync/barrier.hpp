// coreio/sync/barrier.hpp — barrier (asyncio.Barrier): n tasks meet, then all go on; reusable.
//
// Protocol (asyncio's Barrier: filling, draining, resetting, broken; 3.11+): the wait list holds
// the arrivals in FIFO order. Under the spinlock:
//   arrive   broken: closed at once. Draining (released_ > 0): queue, blocked: the arrival counts
//            toward no generation until the draining ends. Filling: with fewer than n - 1 queued,
//            queue; else complete the generation: unlink n - 1 waiters, give each its arrival index
//            0..n-2 in order and the current epoch (state granted), take n - 1 itself, and count
//            the n - 1 in released_; they are scheduled after unlocking.
//   resume   a waiter that a completion, reset() or abort() released drops its count in released_
//            when it resumes (await_resume); a granted one whose epoch is no longer the barrier's
//            (a reset() or abort() came before it ran) throws broken_barrier, as asyncio's released
//            task that wakes to a resetting or broken barrier. The last one ends the draining: it
//            wakes the arrivals blocked meanwhile, which arrive again when they run
//            (arrive_and_wait is a task that loops), so a reset() the last one out makes before
//            they run breaks none of them, as in asyncio.
//   reset    clears broken_. Draining: bumps the epoch, so the released waiters not yet resumed
//            break, and the blocked arrivals stay blocked until they have (asyncio's resetting).
//            Filling: every queued waiter is unlinked with state closed (broken_barrier) and
//            counted in released_, so new arrivals wait until they have resumed.
//   abort    sets broken_ and bumps the epoch; every queued waiter is closed: filling, each is
//            counted in released_; blocked, none is (they never arrived). Later arrivals are closed
//            at once until reset().
//   cancel   a queued waiter (filling or blocked) leaves the list, un-arriving (asyncio decrements
//            the count). If the cancel races a completion, reset or abort and loses, the waiter
//            ends as they decided (the sticky cancel then hits the next suspension point).
// Generations are separated by the lock and the draining, with no counter to compare but the
// epoch, which only needs to differ (it may wrap).
//
// Thread safety: distinct objects: safe. Shared objects: safe; arrive_and_wait() from tasks on any
// worker; abort(), reset(), broken(), waiting() from any thread.
// Memory ordering: everything each participant did before arriving happens-before every
// participant's return from that generation's arrive_and_wait (the spinlock, and the schedule
// hand-off of detail/wait_list.hpp).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>

namespace coreio {

/// A reusable barrier for `parties` tasks (asyncio.Barrier).
///
/// arrive_and_wait() returns the caller's arrival index in its generation, 0 .. parties - 1 (the
/// last arrival gets parties - 1 and does not suspend, nor look at cancellation). A waiting task
/// that is cancelled throws cancelled_error and no longer counts as arrived. Until every task a
/// generation released has resumed (the barrier drains), new arrivals wait without counting
/// toward the next generation. abort() breaks the barrier: the waiters, the released tasks that
/// have not resumed yet, and every later arrival throw broken_barrier until reset(); reset()
/// breaks the current waiters (or, while draining, the released tasks not yet resumed) the same
/// way and makes the barrier usable again.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; arrive_and_wait() from tasks on
/// any worker; abort(), reset(), broken(), waiting() from any thread.
/// Memory ordering: what each party did before arriving happens-before the return of every
/// party's arrive_and_wait of the same generation.
///
/// Example:
///   coreio::barrier b{3};
///   // in each of 3 tasks:
///   std::size_t idx = co_await b.arrive_and_wait();   // 0, 1, 2 in arrival order
class barrier {
 public:
  /// parties >= 1 (usage_error otherwise).
  explicit barrier(std::size_t parties) : parties_(parties) {
    if (parties == 0) detail::throw_usage("barrier needs at least one party");
  }
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  /// Awaitable giving the arrival index. Throws broken_barrier if the barrier is broken when the
  /// task arrives or while it waits (abort(), or reset() with waiters), cancelled_error if the task
  /// is cancelled while waiting. Worker only.
  [[nodiscard]] task<std::size_t> arrive_and_wait() {
    for (;;) {
      awaiter a(this);
      const std::size_t i = co_await a;
      if (i != again) co_return i;  // else the draining ended: arrive again
    }
  }

  /// Breaks the barrier (asyncio's Barrier.abort): every waiting task, and every released one that
  /// has not resumed yet, throws broken_barrier, and so does every later arrive_and_wait() until
  /// reset(). Any thread; idempotent.
  void abort() noexcept {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    broken_ = true;
    ++epoch_;
    // Filling: the arrivals leave as released waiters. Draining: the blocked ones never arrived.
    release_all_locked(detail::wait_state::closed, released_ == 0, wake);
  }  // unlock, then wake

  /// Returns the barrier to its initial state (asyncio's Barrier.reset): the tasks waiting now
  /// throw broken_barrier (while the barrier drains: the released tasks not yet resumed), a broken
  /// barrier is usable again, and the next generation fills once those have resumed. Any thread.
  void reset() noexcept {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    broken_ = false;
    if (released_ > 0) {
      ++epoch_;  // the blocked arrivals stay queued for the next generation
    } else {
      release_all_locked(detail::wait_state::closed, true, wake);
    }
  }  // unlock, then wake

  /// True between abort() and reset(). Any thread; a snapshot.
  bool broken() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return broken_;
  }

  std::size_t parties() const noexcept { return parties_; }
  /// Tasks in the barrier (asyncio's n_waiting): while it fills, the arrivals waiting; while it
  /// drains, the released tasks not yet resumed. Any thread; a snapshot.
  std::size_t waiting() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return released_ > 0 ? released_ : waiters_.size();
  }

 private:
  struct node : detail::waiter_base {
    std::size_t index = 0;
    // Guarded. The barrier's epoch when a completion granted this waiter.
    std::uint64_t epoch = 0;
    // Guarded. A completion, reset() or abort() released this waiter: it counts in released_
    // until it resumes.
    bool released = false;
  };

  /// The index of a waiter that was blocked while the barrier drained, woken when the draining
  /// ended to arrive again (arrive_and_wait's loop).
  static constexpr std::size_t again = static_cast<std::size_t>(-1);

  /// Under lock_: unlinks the first `count` waiters (all queued) as one generation (granted) and
  /// counts them as released; they get the indices 0 .. count - 1 in arrival order.
  void grant_locked(std::size_t count, detail::wake_list& wake) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
      auto* n = static_cast<node*>(waiters_.pop_front());
      n->index = i;
      n->epoch = epoch_;
      n->released = true;
      n->state = detail::wait_state::granted;
      wake.push(n);
    }
    released_ += count;
  }

  /// Under lock_: unlinks every queued waiter with state s, counting them as released if `count`.
  void release_all_locked(detail::wait_state s, bool count, detail::wake_list& wake) noexcept {
    while (detail::waiter_node* w = waiters_.pop_front()) {
      auto* n = static_cast<node*>(w);
      n->released = count;
      n->state = s;
      wake.push(n);
      if (count) ++released_;
    }
  }

  /// Under lock_: completes the generation if the caller is its last arrival (granted), or
  /// reports a broken barrier (closed), or that the caller must wait (init: filling, or blocked
  /// while the barrier drains).
  detail::wait_state arrive_locked(std::size_t& index, detail::wake_list& wake) noexcept {
    if (broken_) return detail::wait_state::closed;
    if (released_ > 0 || waiters_.size() + 1 < parties_) return detail::wait_state::init;
    grant_locked(parties_ - 1, wake);
    index = parties_ - 1;
    return detail::wait_state::granted;
  }

  /// A released waiter resumes: drops its count; the last one ends the draining and wakes the
  /// arrivals blocked meanwhile, which arrive again when they run (asyncio's: they arrive in
  /// the order they run, after whatever the last one out does first). Returns whether a reset()
  /// or abort() overtook the waiter's grant.
  bool leave(const node& n) noexcept {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    const bool overtaken = n.state == detail::wait_state::granted && n.epoch != epoch_;
    if (--released_ == 0) {
      while (detail::waiter_node* w = waiters_.pop_front()) {
        static_cast<node*>(w)->index = again;
        w->state = detail::wait_state::granted;
        wake.push(w);
      }
    }
    return overtaken;
  }  // unlock, then wake

  class awaiter : node {
   public:
    explicit awaiter(barrier* b) noexcept : b_(b) {}
    bool await_ready() noexcept {
      detail::wake_list wake;
      std::unique_lock<detail::spinlock> g(b_->lock_);
      const detail::wait_state s = b_->arrive_locked(this->index, wake);
      g.unlock();
      return this->ready(s);
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return this->suspend(
          h, b_->lock_, b_->waiters_, detail::wait_sites::barrier,
          [this](detail::wake_list& wake) { return b_->arrive_locked(this->index, wake); });
    }
    std::size_t await_resume() {
      const detail::wait_state s = this->finish();
      // released is written under the lock before the waker scheduled us (wait_list.hpp).
      if (this->released && b_->leave(*this)) throw broken_barrier{};
      switch (s) {
        case detail::wait_state::granted:
          return this->index;  // `again` for a blocked waiter woken at the end of the draining
        case detail::wait_state::closed:
          throw broken_barrier{};
        default:
          detail::throw_cancelled();
      }
    }

   private:
    barrier* b_;
  };

  const std::size_t parties_;
  // Guards waiters_ (the arrivals: the generation filling, or those blocked while draining),
  // their nodes, released_, epoch_ and broken_.
  mutable detail::spinlock lock_;
  detail::wait_list waiters_;
  // Waiters released (granted, or closed by reset / abort) that have not resumed yet; the barrier
  // drains while this is above zero.
  std::size_t released_ = 0;
  // Bumped by abort() and by reset() while draining: a granted waiter stamped with an older one
  // throws broken_barrier when it resumes.
  std::uint64_t epoch_ = 0;
  // Set by abort(), cleared by reset(); while set every arrival throws broken_barrier.
  bool broken_ = false;
};

}  // namespace coreio
