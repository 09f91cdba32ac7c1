// coreio/sync/barrier.hpp — barrier (asyncio.Barrier): n tasks meet, then all go on; reusable.
//
// Protocol: the wait list is the current generation's arrivals (detail/wait_list.hpp). An arrival
// that finds n - 1 tasks queued completes the generation under the spinlock: it unlinks them all,
// gives each its arrival index 0..n-2 in arrival order (state granted), takes n - 1 itself, and
// schedules them after unlocking. The list is then empty, so the next arrival starts the next
// generation: generations are separated by the lock, with no counter to wrap. A cancelled waiter
// leaves the list, un-arriving (as in asyncio, where a cancelled wait decrements the count): the
// generation then needs one more arrival. If the cancel races the completion and the completion
// wins, the waiter returns its index normally.
//
// abort() / reset() (asyncio's Barrier.abort / reset): under the spinlock, every queued waiter is
// unlinked with state `closed` and scheduled after the unlock; its await_resume throws
// broken_barrier. abort() also sets `broken_`, which makes every later arrival throw broken_barrier
// at once (its attempt returns `closed`, so it never queues) until reset() clears it. reset() on a
// barrier with waiters breaks them the same way (asyncio: they raise BrokenBarrierError) and leaves
// it empty and usable: the next arrival starts a fresh generation. A cancel racing abort/reset is
// decided by the lock like any other: cancelled first means cancelled_error, broken first means
// broken_barrier (the sticky cancel then hits the next suspension point).
//
// Thread safety: distinct objects: safe. Shared objects: safe; arrive_and_wait() from tasks on any
// worker; abort(), reset(), broken(), waiting() from any thread.
// Memory ordering: everything each participant did before arriving happens-before every
// participant's return from that generation's arrive_and_wait.
#pragma once

#include <coroutine>
#include <cstddef>
#include <mutex>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

/// A reusable barrier for `parties` tasks (asyncio.Barrier).
///
/// arrive_and_wait() returns the caller's arrival index in its generation, 0 .. parties - 1 (the
/// last arrival gets parties - 1 and does not suspend, nor look at cancellation). A waiting task
/// that is cancelled throws cancelled_error and no longer counts as arrived. abort() breaks the
/// barrier: the waiters and every later arrival throw broken_barrier until reset(); reset() breaks
/// the current waiters the same way and makes the barrier usable again.
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
  [[nodiscard]] auto arrive_and_wait() noexcept { return awaiter(this); }

  /// Breaks the barrier (asyncio's Barrier.abort): every waiting task throws broken_barrier, and so
  /// does every later arrive_and_wait() until reset(). Any thread; idempotent.
  void abort() noexcept {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    broken_ = true;
    wake.take_all(waiters_, detail::wait_state::closed);
  }  // unlock, then wake

  /// Returns the barrier to its initial, empty state (asyncio's Barrier.reset): the tasks waiting
  /// now throw broken_barrier, a broken barrier is usable again, and the next arrival starts a new
  /// generation. Any thread.
  void reset() noexcept {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    broken_ = false;
    wake.take_all(waiters_, detail::wait_state::closed);
  }  // unlock, then wake

  /// True between abort() and reset(). Any thread; a snapshot.
  bool broken() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return broken_;
  }

  std::size_t parties() const noexcept { return parties_; }
  /// Tasks waiting in the current generation. Any thread; a snapshot.
  std::size_t waiting() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return waiters_.size();
  }

 private:
  struct node : detail::waiter_base {
    std::size_t index = 0;
  };

  /// Under lock_: completes the generation if the caller is its last arrival (granted), or
  /// reports a broken barrier (closed), or that the caller must wait (init).
  detail::wait_state arrive_locked(std::size_t& index, detail::wake_list& wake) noexcept {
    if (broken_) return detail::wait_state::closed;
    if (waiters_.size() + 1 < parties_) return detail::wait_state::init;
    std::size_t i = 0;
    while (detail::waiter_node* n = waiters_.pop_front()) {
      static_cast<node*>(n)->index = i++;
      n->state = detail::wait_state::granted;
      wake.push(n);
    }
    index = i;
    return detail::wait_state::granted;
  }

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
      switch (this->finish()) {
        case detail::wait_state::granted:
          return this->index;
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
  // Guards waiters_ (the current generation's arrivals), their nodes, and broken_.
  mutable detail::spinlock lock_;
  detail::wait_list waiters_;
  // Set by abort(), cleared by reset(); while set every arrival throws broken_barrier.
  bool broken_ = false;
};

}  // namespace coreio
