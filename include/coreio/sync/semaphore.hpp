// coreio/sync/semaphore.hpp — semaphore and bounded_semaphore (asyncio.Semaphore /
// asyncio.BoundedSemaphore).
//
// Both are a detail::permit_core (detail/permit_core.hpp: the state word, its transitions and the
// lost-wake-up argument), as coreio::mutex is.
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

#include <coreio/detail/permit_core.hpp>
#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

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
  explicit semaphore(std::size_t initial)
      : core_(initial, detail::permit_core::max_permits, true) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Awaitable: waits for a permit, gives a semaphore_permit. Throws cancelled_error if the task
  /// is cancelled while waiting (or before, when no permit is free). Worker only.
  [[nodiscard]] auto acquire() noexcept {
    return detail::permit_awaiter<semaphore, semaphore_permit>(this, &core_,
                                                               detail::wait_sites::semaphore);
  }
  /// A permit if one is free and nobody waits, else an empty semaphore_permit. Any thread.
  semaphore_permit try_acquire() noexcept {
    return core_.try_acquire() ? semaphore_permit(this) : semaphore_permit();
  }
  /// Adds a permit (or hands it to the first waiter). Any thread. bounded_semaphore: usage_error
  /// if this would exceed the initial count (nothing changes).
  void release() { core_.release(true); }
  /// Free permits right now (0 while tasks wait, but for permits counted while a woken waiter has
  /// not resumed yet). Any thread.
  std::size_t available() const noexcept { return core_.available(); }
  /// True when acquire() would have to wait: no free permit, or tasks queue or a woken waiter has
  /// not resumed yet (asyncio's Semaphore.locked()). Any thread.
  bool locked() const noexcept { return core_.locked(); }

 protected:
  semaphore(std::size_t initial, std::size_t bound) : core_(initial, bound, true) {}

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
    // Unchecked (noexcept): a permit proves one acquisition; if explicit releases already filled
    // the count to its bound, this permit is dropped rather than going past it (permit_core).
    s->core_.release(false);
  }
}

}  // namespace coreio
