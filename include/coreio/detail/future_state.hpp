// coreio/detail/future_state.hpp — the state one promise shares with its future and the
// shared_futures made from it (coreio/future.hpp), and the value slot types it is made of.
//
// Protocol. One future_state per promise, reference-counted (the promise, the future, each
// shared_future copy). The one future waits through the state's completion_cell (one async waiter,
// or threads blocked in get()). shared_future awaiters wait in a wait_list under the state's
// spinlock (detail/wait_list.hpp): the attempt, under that lock, is "is the cell complete?". The
// producer stores the value, completes the cell (release), then takes the lock and wakes every
// queued shared waiter. A waiter that queued did so under the lock before the producer took it (the
// producer then finds it), and one that locks after the producer read the cell complete (the
// producer's complete() is ordered before its unlock): no lost wake-up. A cancelled shared waiter
// just leaves the list; the others are undisturbed. Threads blocked in shared_future::get() wait on
// the cell's state word (complete() wakes all of them).
//
// Memory ordering: the producer writes value / error, then completes the cell (release); every
// consumer reads them after observing the cell complete (acquire, in completion_cell), or after
// being woken by the producer's unlock of shared_lock, which follows complete().
//
// Thread safety: claim, publish from any producer thread; result by the one future's consumer;
// shared_result by any shared_future holder, after completion; release by each owner once.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>

#include <coreio/detail/completion_cell.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/detail/spinlock.hpp>
#include <coreio/detail/wait_list.hpp>

namespace coreio::detail {

template <class T>
struct future_value {
  std::optional<T> v;
  T take() { return std::move(*v); }
  const T& peek() const noexcept { return *v; }
};
template <class T>
struct future_value<T&> {
  T* v = nullptr;
  T& take() { return *v; }
  T& peek() const noexcept { return *v; }
};
template <>
struct future_value<void> {
  void take() {}
  void peek() const noexcept {}
};

/// What a shared_future gives: const T& to the shared value, T& for a reference, void.
template <class T>
struct shared_result {
  using type = const T&;
};
template <class T>
struct shared_result<T&> {
  using type = T&;
};
template <>
struct shared_result<void> {
  using type = void;
};

/// The state shared by one promise, its future and the shared_futures made from it; freed by the
/// last of them.
template <class T>
struct future_state {
  completion_cell cell;
  // Set by the first set_value/set_exception/break; detects a second one. Any thread, RMW.
  std::atomic<bool> satisfied{false};
  future_value<T> value;
  std::exception_ptr error;
  // Guards shared_waiters and their nodes (shared_future awaiters; file comment).
  spinlock shared_lock;
  wait_list shared_waiters;
  // What an awaiter of the future waits on, for dump_tasks (detail/wait_site.hpp): a future, or
  // the blocking pool when to_thread made it. Set before the future is handed out.
  const wait_site* site = &wait_sites::future;

  // Owners (cell's refcount): the promise, and the future once made.
  future_state() noexcept { cell.set_refs(1); }
  void release() noexcept {
    if (cell.release_ref()) delete this;
  }
  /// True for the first of set_value / set_exception / break, which then owns value and error.
  bool claim() noexcept {
    // Relaxed: the exchange only elects one producer (an RMW sees every earlier one); the value it
    // then writes is published to consumers by the release in cell.complete() (publish()).
    return !satisfied.exchange(true, std::memory_order_relaxed);
  }
  void publish() noexcept {
    if (async_waiter* w = cell.complete()) schedule(w->rt, w->handle);
    // After complete(): every shared waiter queued before this lock is taken here; any later one
    // sees the cell complete under the lock and does not queue (file comment).
    wake_list wake;
    std::lock_guard<spinlock> g(shared_lock);
    wake.take_all(shared_waiters, wait_state::granted);
  }  // unlock, then wake
  decltype(auto) result() {
    if (error) std::rethrow_exception(error);
    return value.take();
  }
  /// The value for a shared_future: by reference, never moved from. After completion only.
  decltype(auto) shared_result() const {
    if (error) std::rethrow_exception(error);
    return value.peek();
  }
};

}  // namespace coreio::detail
