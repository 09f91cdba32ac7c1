// coreio/detail/permit_core.hpp — the permit counter under coreio::semaphore,
// coreio::bounded_semaphore (sync/semaphore.hpp) and coreio::mutex (sync/mutex.hpp), and the
// awaiter of their acquire() / lock().
//
// permit_core: a count of free permits and a FIFO of waiters (detail/wait_list.hpp).
// State word (one atomic; the only thing the uncontended paths touch):
//   bit 0      `waiters`: the wait list may be non-empty. Set and cleared only under the spinlock.
//   bits 1..63 the number of free permits.
//   Invariant: waiters set => count == 0 (a release with the bit set hands its permit to the first
//   waiter instead of counting it), so a free permit never coexists with a queued waiter.
//   Invariant: the list is non-empty => waiters is set (a waiter sets the bit, under the lock,
//   before it queues; the bit is cleared only under the lock when the list is found empty).
// Transitions:
//   try_acquire (any thread)     CAS count -> count - 1 while waiters is clear and count > 0.
//                                One RMW uncontended. Never succeeds while waiters queue (no barging).
//   release, fast (any thread)   CAS count -> count + 1 while waiters is clear. One RMW.
//   acquire, slow (under lock)   CAS count -> count - 1 if count > 0, else set waiters and queue.
//   release, slow (under lock)   first re-check the bit: another releaser may have cleared it
//                                between our failed CAS and the lock (then CAS as on the fast
//                                path). With the bit set under the lock nobody else may change the
//                                word (both fast paths fail on it): pop the first waiter and grant
//                                it the permit, clearing the bit if the list is now empty; with no
//                                waiter left (all cancelled) store "1 permit, no waiters".
// Lost wake-up argument: a waiter queues only after setting the bit in the same critical section
// in which it saw count == 0; a releaser either made its fast CAS before that (the waiter's CAS then
// fails and it retries, seeing the permit) or after (its CAS fails on the bit and it takes the lock,
// finding the waiter). A cancelled waiter only leaves the list; the permit it never got stays
// counted.
//
// Memory ordering: everything a task did before release() happens-before the return of the
// acquire() (or try_acquire()) that obtains that permit (each operation below names its order).
//
// Thread safety: try_acquire, release and available from any thread; the awaiter from tasks on any
// worker; the lock-held functions under lock_ only.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <utility>

#include <coreio/detail/spinlock.hpp>
#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio::detail {

class permit_core {
 public:
  /// Bit 0 of word_: the wait list may be non-empty.
  static constexpr std::uint64_t waiters_bit = 1;
  /// One free permit, in word_ units.
  static constexpr std::uint64_t one_permit = 2;
  static constexpr std::uint64_t max_permits = std::numeric_limits<std::uint64_t>::max() >> 1;
  static_assert(one_permit > waiters_bit, "the count lives above the waiters bit");

  permit_core(std::uint64_t initial, std::uint64_t bound) : bound_(bound) {
    if (initial > max_permits || initial > bound) {
      throw_usage("semaphore: the initial count exceeds the maximum");
    }
    word_.store(initial * one_permit, std::memory_order_relaxed);
  }
  permit_core(const permit_core&) = delete;
  permit_core& operator=(const permit_core&) = delete;

  /// One RMW uncontended. Any thread.
  bool try_acquire() noexcept {
    // Relaxed: only a first guess for the CAS, which does the synchronisation.
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    while (w >= one_permit) {  // count > 0 implies waiters clear (invariant)
      // Acquire pairs with the release CAS / store in release(): the previous holder's writes.
      if (word_.compare_exchange_weak(w, w - one_permit, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  /// Under lock_: takes a permit (true) or sets the waiters bit so the caller queues (false).
  bool acquire_or_mark_locked() noexcept {
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (w >= one_permit) {
        // Acquire: as in try_acquire.
        if (word_.compare_exchange_weak(w, w - one_permit, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
          return true;
        }
      } else if (w == 0) {
        // Relaxed: the CAS only has to be ordered with the fast-path CASes on this word (the
        // modification order does that); the list is published by lock_.
        if (word_.compare_exchange_weak(w, waiters_bit, std::memory_order_relaxed,
                                        std::memory_order_relaxed)) {
          return false;
        }
      } else {
        return false;  // waiters already set
      }
    }
  }

  /// Takes a permit or queues n uncancellably (n is never armed). Returns true if taken: the
  /// caller then owns n's coroutine and must resume it; false: the eventual releaser will. Any
  /// thread. Used by condition_variable to re-acquire its mutex for a woken waiter.
  bool acquire_or_enqueue(waiter_node* n) noexcept {
    n->lock = &lock_;
    n->list = &waiters_;
    std::lock_guard<spinlock> g(lock_);
    if (acquire_or_mark_locked()) {
      n->state = wait_state::granted;
      return true;
    }
    waiters_.push_back(n);
    n->state = wait_state::queued;
    return false;
  }

  /// Returns one permit, handing it to the first waiter if any. Any thread. If `check_bound`,
  /// throws usage_error, changing nothing, when the count would exceed the bound.
  void release(bool check_bound) {
    if (release_if_no_waiters(check_bound)) return;
    wake_list wake;
    std::lock_guard<spinlock> g(lock_);
    // The bit may have been cleared between the failed CAS and taking the lock (another releaser
    // gave the last waiter its permit): then count the permit as on the fast path.
    if (release_if_no_waiters(check_bound)) return;
    // waiters set and we hold the lock: count is 0 and nobody else changes the word.
    if (check_bound && bound_ == 0) throw_over_release();
    if (waiter_node* n = waiters_.pop_front()) {
      n->state = wait_state::granted;
      wake.push(n);
      // Relaxed: no permit is published (it went to n, resumed through schedule()).
      if (waiters_.empty()) word_.store(0, std::memory_order_relaxed);
    } else {
      // Every waiter was cancelled. Release pairs with the acquire CAS of the next acquirer.
      word_.store(one_permit, std::memory_order_release);
    }
  }  // g unlocks, then wake schedules the new owner

  /// Free permits now (0 while waiters queue). Any thread; a snapshot.
  std::size_t available() const noexcept {
    // Relaxed: a snapshot, no data is read through it.
    return static_cast<std::size_t>(word_.load(std::memory_order_relaxed) / one_permit);
  }

  spinlock& lock() noexcept { return lock_; }
  wait_list& waiters() noexcept { return waiters_; }

 private:
  /// Adds a permit by CAS while the waiters bit is clear (true); false once the bit is set.
  bool release_if_no_waiters(bool check_bound) {
    // Relaxed: only a first guess for the CAS.
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    while ((w & waiters_bit) == 0) {
      if (w / one_permit >= bound_) {
        if (check_bound) throw_over_release();
        // A permit object's return (unchecked, noexcept) at the bound: an explicit release() went
        // past its acquisitions before it, and the bound holds by dropping this one. (It wrapped
        // the count to 0 at max_permits, losing every permit: tokio #8395's kind.)
        return true;
      }
      // Release pairs with the acquire CAS of the next acquirer.
      if (word_.compare_exchange_weak(w, w + one_permit, std::memory_order_release,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  [[noreturn]] static void throw_over_release() {
    throw_usage("bounded_semaphore released more times than it was acquired");
  }
  // Writers: fast paths (CAS, any thread) while bit 0 is clear; lock_ holders otherwise.
  // Readers: everyone. Encoding in the file comment.
  std::atomic<std::uint64_t> word_{0};
  // Maximum count a checked release may reach.
  const std::uint64_t bound_;
  // Guards waiters_ and the state of its nodes.
  spinlock lock_;
  wait_list waiters_;
};

/// The awaiter of semaphore::acquire and mutex::lock; Result wraps the obtained permit.
template <class Owner, class Result>
class permit_awaiter : waiter_base {
 public:
  /// `site`: what a waiting task waits on (detail/wait_site.hpp): a lock or a semaphore.
  permit_awaiter(Owner* o, permit_core* c, const wait_site& site) noexcept
      : owner_(o), core_(c), site_(&site) {}
  bool await_ready() noexcept {
    // Fast path: no suspension, no cancellation check.
    return ready(core_->try_acquire() ? wait_state::granted : wait_state::init);
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return suspend(h, core_->lock(), core_->waiters(), *site_, [this](wake_list&) {
      return core_->acquire_or_mark_locked() ? wait_state::granted : wait_state::init;
    });
  }
  Result await_resume() {
    if (finish() != wait_state::granted) throw_cancelled();
    return Result(owner_);
  }

 private:
  Owner* owner_;
  permit_core* core_;
  const wait_site* site_;
};

}  // namespace coreio::detail
