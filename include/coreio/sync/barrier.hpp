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
// Thread safety: distinct objects: safe. Shared objects: safe; arrive_and_wait() from tasks on any
// worker.
// Memory ordering: everything each participant did before arriving happens-before every
// participant's return from that generation's arrive_and_wait.
#pragma once

#include <coroutine>
#include <cstddef>
#include <mutex>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

/// A reusable barrier for `parties` tasks (asyncio.Barrier without abort/reset).
///
/// arrive_and_wait() returns the caller's arrival index in its generation, 0 .. parties - 1 (the
/// last arrival gets parties - 1 and does not suspend, nor look at cancellation). A waiting task
/// that is cancelled throws cancelled_error and no longer counts as arrived.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; arrive_and_wait() from tasks on
/// any worker.
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

  /// Awaitable giving the arrival index. Throws cancelled_error if cancelled while waiting.
  /// Worker only.
  [[nodiscard]] auto arrive_and_wait() noexcept { return awaiter(this); }

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

  /// Under lock_: completes the generation if the caller is its last arrival.
  detail::wait_state arrive_locked(std::size_t& index, detail::wake_list& wake) noexcept {
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
      return this->suspend(h, b_->lock_, b_->waiters_, [this](detail::wake_list& wake) {
        return b_->arrive_locked(this->index, wake);
      });
    }
    std::size_t await_resume() {
      if (this->finish() != detail::wait_state::granted) detail::throw_cancelled();
      return this->index;
    }

   private:
    barrier* b_;
  };

  const std::size_t parties_;
  // Guards waiters_ (the current generation's arrivals) and their nodes.
  mutable detail::spinlock lock_;
  detail::wait_list waiters_;
};

}  // namespace coreio
