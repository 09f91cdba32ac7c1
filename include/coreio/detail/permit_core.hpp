// coreio/detail/permit_core.hpp — the permit counter under coreio::semaphore,
// coreio::bounded_semaphore (sync/semaphore.hpp) and coreio::mutex (sync/mutex.hpp), and the
// awaiter of their acquire() / lock().
//
// permit_core: a count of free permits and a FIFO of waiters (detail/wait_list.hpp), with
// asyncio's fairness: a permit handed to a waiter stays "pending" until that waiter has resumed,
// and while any is pending or any waiter queues, a new acquirer queues too, even if a permit is
// free (asyncio's Semaphore.locked() / Lock.acquire: a woken waiter that has not run yet still
// holds its place; CPython's test_acquire_fifo_order_2 / _4).
// State word (one atomic; the only thing the uncontended paths touch):
//   bit 0      `waiters`: the slow path owns the word (waiters may queue, or grants be pending).
//              Set and cleared only under the spinlock.
//   bits 1..63 the number of free permits.
// Under the spinlock: waiters_ (the queue) and pending_ (waiters handed a permit by release() or
// resumed() that have not resumed yet).
//   Invariant: waiters_ non-empty or pending_ > 0 => waiters bit set (a waiter sets the bit, under
//   the lock, before it queues; a grant happens with the bit set; the bit is cleared only under
//   the lock with the list empty and nothing pending). The bit may be set with neither (every
//   waiter was cancelled): the slow paths then act as if it were clear.
//   With the bit set, only lock holders write the word (both fast paths fail on the bit).
// Transitions:
//   try_acquire (any thread)     CAS count -> count - 1 while waiters is clear and count > 0.
//                                One RMW uncontended. Never succeeds while the bit is set.
//   release, fast (any thread)   CAS count -> count + 1 while waiters is clear. One RMW.
//   acquire, slow (under lock)   nothing queued or pending: CAS count -> count - 1 if count > 0
//                                (clearing a stale bit), else set the bit and queue. Otherwise
//                                queue behind them.
//   release, slow (under lock)   first re-check the bit: another thread may have cleared it between
//                                our failed CAS and the lock (then CAS as on the fast path). With a
//                                waiter queued: pop it, grant it the permit (pending_ + 1). Else
//                                count the permit, keeping the bit while grants are pending.
//   resumed (under lock)         a granted waiter has resumed: pending_ - 1; the free permits go
//                                to the queued waiters (asyncio's "wake up as many as allowed");
//                                with nothing queued or pending, the bit is cleared.
// Lost wake-up argument: a waiter queues only in a critical section in which it saw the bit set
// or count == 0 and set the bit; a releaser either made its fast CAS before that (the waiter's
// CAS then fails and it retries, seeing the permit) or after (its CAS fails on the bit and it
// takes the lock, finding the waiter). A permit counted while the bit is set (grants pending) is
// handed on by the resumed() of the last pending waiter at the latest. A cancelled waiter only
// leaves the list; the permit it never got stays counted.
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

  /// `track_pending`: whether grants stay pending until their waiter resumes (the file comment).
  /// A mutex passes false: its permit goes back only through its holder, so a grant pending
  /// cannot meet a free permit, and its hand-off skips the resumed() report.
  permit_core(std::uint64_t initial, std::uint64_t bound, bool track_pending)
      : bound_(bound), track_pending_(track_pending) {
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
    while (w >= one_permit && (w & waiters_bit) == 0) {
      // Acquire pairs with the release CAS / store in release(): the previous holder's writes.
      if (word_.compare_exchange_weak(w, w - one_permit, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  /// Under lock_: takes a permit (true), or sets the waiters bit so the caller queues (false).
  bool acquire_or_mark_locked() noexcept {
    if (!waiters_.empty() || pending_ > 0) return false;  // the bit is set: queue behind them
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (w >= one_permit) {
        // Acquire: as in try_acquire. Clears a stale bit (nothing queued or pending).
        if (word_.compare_exchange_weak(w, (w & ~waiters_bit) - one_permit,
                                        std::memory_order_acquire, std::memory_order_relaxed)) {
          return true;
        }
      } else {
        // Relaxed: the CAS only has to be ordered with the fast-path CASes on this word (the
        // modification order does that); the list is published by lock_.
        if (word_.compare_exchange_weak(w, waiters_bit, std::memory_order_relaxed,
                                        std::memory_order_relaxed)) {
          return false;
        }
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
    // The bit may have been cleared between the failed CAS and taking the lock (the last pending
    // waiter resumed): then count the permit as on the fast path.
    if (release_if_no_waiters(check_bound)) return;
    // The bit is set and we hold the lock: nobody else changes the word.
    const std::uint64_t count = word_.load(std::memory_order_relaxed) / one_permit;
    if (count + 1 > bound_) {
      if (check_bound) throw_over_release();
      if (waiters_.empty()) return;  // unchecked at the bound: dropped (release_if_no_waiters)
    }
    if (!waiters_.empty()) {
      grant_first_locked(wake);
      // Untracked (a mutex): with the list now empty the bit goes at once, so that the new owner's
      // unlock takes the fast path. Release: as below, should any permit be counted.
      if (waiters_.empty() && pending_ == 0) {
        word_.store(count * one_permit, std::memory_order_release);
      }
    } else {
      // Release pairs with the acquire CAS of the next acquirer; the bit stays while grants are
      // pending (a stale one is cleared).
      word_.store((count + 1) * one_permit | (pending_ > 0 ? waiters_bit : 0),
                  std::memory_order_release);
    }
  }  // g unlocks, then wake schedules the new owner

  /// A waiter that release() or resumed() handed a permit (its node's `handed`) has resumed: the
  /// free permits go to the queued waiters, and with nothing queued or pending the bit clears.
  /// Called by that waiter's await_resume, once. Any worker.
  void resumed() noexcept {
    wake_list wake;
    std::lock_guard<spinlock> g(lock_);
    --pending_;
    std::uint64_t count = word_.load(std::memory_order_relaxed) / one_permit;
    while (count > 0 && !waiters_.empty()) {
      grant_first_locked(wake);
      --count;
    }
    if (waiters_.empty() && pending_ == 0) {
      // Release: the permits counted under the lock are published to the fast paths' acquire
      // CASes (the releasers' writes reach us through lock_).
      word_.store(count * one_permit, std::memory_order_release);
    } else {
      // Relaxed: the bit stays set, so only lock holders read the count.
      word_.store(count * one_permit | waiters_bit, std::memory_order_relaxed);
    }
  }  // g unlocks, then wake schedules the new owners

  /// Free permits now (usually 0 while waiters queue). Any thread; a snapshot.
  std::size_t available() const noexcept {
    // Relaxed: a snapshot, no data is read through it.
    return static_cast<std::size_t>(word_.load(std::memory_order_relaxed) / one_permit);
  }

  /// Whether an acquire now would wait: no free permit, or waiters queue or grants are pending
  /// (asyncio's Semaphore.locked()). Any thread; a snapshot.
  bool locked() const noexcept {
    // Relaxed: a snapshot.
    const std::uint64_t w = word_.load(std::memory_order_relaxed);
    return w < one_permit || (w & waiters_bit) != 0;
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
  /// Under lock_, with a waiter queued: hands it a permit (pending until it resumes).
  void grant_first_locked(wake_list& wake) noexcept {
    waiter_node* n = waiters_.pop_front();
    n->state = wait_state::granted;
    if (track_pending_) {
      n->handed = true;
      ++pending_;
    }
    wake.push(n);
  }
  [[noreturn]] static void throw_over_release() {
    throw_usage("bounded_semaphore released more times than it was acquired");
  }
  // Writers: fast paths (CAS, any thread) while bit 0 is clear; lock_ holders otherwise.
  // Readers: everyone. Encoding in the file comment.
  std::atomic<std::uint64_t> word_{0};
  // Maximum count a checked release may reach.
  const std::uint64_t bound_;
  // Whether grants count in pending_ (false for a mutex: see the constructor).
  const bool track_pending_;
  // Guards waiters_, the state of its nodes and pending_.
  spinlock lock_;
  wait_list waiters_;
  // Waiters handed a permit that have not resumed yet (their await_resume calls resumed()).
  std::size_t pending_ = 0;
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
    const wait_state s = finish();
    // handed is written under the lock before the granter scheduled us (wait_list.hpp).
    if (handed) core_->resumed();
    if (s != wait_state::granted) throw_cancelled();
    return Result(owner_);
  }

 private:
  Owner* owner_;
  permit_core* core_;
  const wait_site* site_;
};

}  // namespace coreio::detail
