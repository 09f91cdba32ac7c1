// coreio/sync/mutex.hpp — mutex (asyncio.Lock) and its RAII guard, mutex_guard.
//
// A mutex is a detail::permit_core with one permit (detail/permit_core.hpp has the protocol and the
// lost-wake-up argument). Its state word reads:
//   2  unlocked                         (one free permit, no waiters)
//   0  locked, nobody queued
//   1  locked, waiters may be queued    (bit 0: the slow path owns the word)
// Uncontended lock() is one CAS 2 -> 0 (acquire) and unlock() one CAS 0 -> 2 (release). A lock()
// that finds it held takes the spinlock, sets bit 0 and queues. An unlock() that finds bit 0 set
// takes the spinlock and hands ownership straight to the first waiter (the word stays "locked"), so
// no newcomer can barge in between: waiters get the mutex in FIFO order. A cancelled waiter leaves
// the list under the spinlock; a later unlock that finds the list empty stores "unlocked".
//
// Thread safety: distinct objects: safe. Shared objects: safe; lock() from tasks on any worker;
// try_lock() from any thread; a guard may be unlocked (or destroyed) on any thread.
// Memory ordering: everything done while holding the mutex happens-before the return of the next
// lock() / try_lock() that obtains it.
#pragma once

#include <utility>

#include <coreio/detail/permit_core.hpp>
#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>
#include <coreio/sync/semaphore.hpp>

namespace coreio {

class mutex;
class condition_variable;

/// Ownership of a locked mutex (like std::unique_lock): unlocks on destruction. Move-only.
/// `owns_lock()` is false for a default-constructed or moved-from guard, after unlock(), and for
/// a failed try_lock().
class mutex_guard {
 public:
  mutex_guard() noexcept = default;
  mutex_guard(mutex_guard&& o) noexcept
      : m_(std::exchange(o.m_, nullptr)), owns_(std::exchange(o.owns_, false)) {}
  mutex_guard& operator=(mutex_guard&& o) noexcept {
    if (this != &o) {
      unlock();
      m_ = std::exchange(o.m_, nullptr);
      owns_ = std::exchange(o.owns_, false);
    }
    return *this;
  }
  mutex_guard(const mutex_guard&) = delete;
  mutex_guard& operator=(const mutex_guard&) = delete;
  ~mutex_guard() { unlock(); }

  bool owns_lock() const noexcept { return owns_; }
  explicit operator bool() const noexcept { return owns_; }
  /// The mutex this guard refers to (null for a default-constructed or moved-from guard).
  coreio::mutex* mutex() const noexcept { return m_; }
  /// Unlocks now, handing the mutex to the first waiter if any; no-op if not owned. Any thread.
  inline void unlock() noexcept;

 private:
  friend class coreio::mutex;
  friend class condition_variable;
  template <class, class>
  friend class detail::permit_awaiter;
  explicit mutex_guard(coreio::mutex* m, bool owns = true) noexcept : m_(m), owns_(owns) {}

  coreio::mutex* m_ = nullptr;
  bool owns_ = false;
};

/// A fair, cancellable mutex for tasks (asyncio.Lock): not reentrant, not tied to a thread (the
/// task may resume on another worker while holding it).
///
/// lock() on a free mutex completes without suspending and without looking at cancellation (like
/// asyncio.Lock.acquire). Otherwise the task waits in FIFO order; a cancel makes lock() throw
/// cancelled_error without the lock. If the cancel races an unlock that already handed this
/// waiter the mutex, lock() returns the guard normally (the sticky cancel hits the next
/// suspension point), so ownership is never lost.
///
/// try_lock() returns a mutex_guard whose owns_lock() says whether it got the mutex (chosen over
/// std::optional so that both forms are the same type; `if (auto g = m.try_lock())` works).
/// try_lock never takes the mutex while tasks wait for it.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; lock() from tasks on any worker;
/// try_lock() and guard unlock from any thread.
/// Memory ordering: what the holder did before unlocking happens-before the return of the lock()
/// or try_lock() that obtains the mutex next.
///
/// Example:
///   coreio::mutex m;
///   {
///     auto lock = co_await m.lock();
///     ++shared_counter;                // lock.unlock() to release early
///   }
class mutex {
 public:
  mutex() : core_(1, 1, false) {}
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  /// Awaitable giving a mutex_guard that owns the mutex. Throws cancelled_error if the task is
  /// cancelled while waiting (or before, if the mutex is held). Worker only.
  [[nodiscard]] auto lock() noexcept {
    return detail::permit_awaiter<mutex, mutex_guard>(this, &core_, detail::wait_sites::lock);
  }

  /// The mutex if free and nobody waits (owns_lock() true), else a guard that owns nothing. Any
  /// thread.
  [[nodiscard]] mutex_guard try_lock() noexcept {
    return core_.try_acquire() ? mutex_guard(this) : mutex_guard(this, false);
  }

  /// True while some task holds the mutex. Any thread; a snapshot.
  bool locked() const noexcept { return core_.available() == 0; }

 private:
  friend class mutex_guard;
  friend class condition_variable;
  void unlock() noexcept { core_.release(false); }

  detail::permit_core core_;
};

inline void mutex_guard::unlock() noexcept {
  if (owns_) {
    owns_ = false;
    m_->unlock();
  }
}

}  // namespace coreio
