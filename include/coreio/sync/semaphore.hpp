// coreio/sync/semaphore.hpp — semaphore and bounded_semaphore (asyncio.Semaphore /
// asyncio.BoundedSemaphore), and detail::permit_core, which coreio::mutex shares.
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
// Thread safety: distinct objects: safe. Shared objects: safe; acquire() from tasks on any worker;
// try_acquire(), release(), available() from any thread.
// Memory ordering: everything a task did before release() happens-before the return of the
// acquire() (or try_acquire()) that obtains that permit.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <utility>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

namespace detail {

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
      if (check_bound && w / one_permit >= bound_) throw_over_release();
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
  permit_awaiter(Owner* o, permit_core* c) noexcept : owner_(o), core_(c) {}
  bool await_ready() noexcept {
    // Fast path: no suspension, no cancellation check.
    return ready(core_->try_acquire() ? wait_state::granted : wait_state::init);
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return suspend(h, core_->lock(), core_->waiters(), [this](wake_list&) {
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
};

}  // namespace detail

class semaphore;

/// One permit of a semaphore: returns it when destroyed. Move-only.
class semaphore_permit {
 public:
  semaphore_permit() noexcept = default;
  semaphore_permit(semaphore_permit&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  semaphore_permit& operator=(semaphore_permit&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  semaphore_permit(const semaphore_permit&) = delete;
  semaphore_permit& operator=(const semaphore_permit&) = delete;
  ~semaphore_permit() { reset(); }

  /// True while this object holds a permit.
  bool owns_permit() const noexcept { return s_ != nullptr; }
  explicit operator bool() const noexcept { return owns_permit(); }
  /// Returns the permit now (no-op if none is held).
  void release() noexcept { reset(); }
  /// Gives up the permit without returning it; the semaphore stays decremented (the caller
  /// releases it later with semaphore::release()). Returns the semaphore.
  semaphore* detach() noexcept { return std::exchange(s_, nullptr); }
  semaphore* owner() const noexcept { return s_; }

 private:
  friend class semaphore;
  template <class, class>
  friend class detail::permit_awaiter;
  explicit semaphore_permit(semaphore* s) noexcept : s_(s) {}
  inline void reset() noexcept;

  semaphore* s_ = nullptr;
};

/// A counting semaphore (asyncio.Semaphore), fair: waiters get permits in arrival order, and a
/// release with waiters hands its permit straight to the first one.
///
/// acquire() completes without suspending, and without looking at cancellation, when a permit is
/// free (like asyncio); otherwise it waits, and a cancel makes it throw cancelled_error with no
/// permit taken. If a cancel races a release that already handed this waiter its permit, the
/// acquire returns the permit normally and the sticky cancel hits the next suspension point.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; acquire() from tasks on any
/// worker; try_acquire(), release(), available() from any thread.
/// Memory ordering: what a holder did before releasing a permit happens-before the return of the
/// acquire / try_acquire that obtains it.
///
/// Example:
///   coreio::semaphore s{10};               // at most 10 concurrent fetches
///   auto permit = co_await s.acquire();    // released when `permit` is destroyed
///   co_await fetch(url);
class semaphore {
 public:
  /// initial free permits; usage_error beyond 2^63 - 1.
  explicit semaphore(std::size_t initial) : core_(initial, detail::permit_core::max_permits) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Awaitable: waits for a permit, gives a semaphore_permit. Throws cancelled_error if the task
  /// is cancelled while waiting (or before, when no permit is free). Worker only.
  [[nodiscard]] auto acquire() noexcept {
    return detail::permit_awaiter<semaphore, semaphore_permit>(this, &core_);
  }
  /// A permit if one is free and nobody waits, else an empty semaphore_permit. Any thread.
  semaphore_permit try_acquire() noexcept {
    return core_.try_acquire() ? semaphore_permit(this) : semaphore_permit();
  }
  /// Adds a permit (or hands it to the first waiter). Any thread. bounded_semaphore: usage_error
  /// if this would exceed the initial count (nothing changes).
  void release() { core_.release(true); }
  /// Free permits right now (0 while tasks wait). Any thread.
  std::size_t available() const noexcept { return core_.available(); }
  /// True when acquire() would have to wait.
  bool locked() const noexcept { return available() == 0; }

 protected:
  semaphore(std::size_t initial, std::size_t bound) : core_(initial, bound) {}

 private:
  friend class semaphore_permit;
  detail::permit_core core_;
};

/// A semaphore whose release() beyond the initial count is an error (asyncio.BoundedSemaphore,
/// which raises ValueError): usage_error, with the count unchanged.
///
/// Thread safety: as semaphore.
///
/// Example:
///   coreio::bounded_semaphore s{2};
///   s.release();   // throws usage_error: nothing was acquired
class bounded_semaphore : public semaphore {
 public:
  explicit bounded_semaphore(std::size_t initial) : semaphore(initial, initial) {}
};

inline void semaphore_permit::reset() noexcept {
  if (semaphore* s = std::exchange(s_, nullptr)) {
    // Unchecked: a permit object proves one acquisition, so the bound cannot be exceeded.
    s->core_.release(false);
  }
}

}  // namespace coreio
