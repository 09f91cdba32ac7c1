// coreio/detail/completion_cell.hpp — a one-shot rendezvous between one producer and one consumer.
//
// Used by spawned tasks (the task completes, its join_handle waits) and by promise/future. The
// producer stores the result next to the cell, then calls complete(). The consumer either awaits
// (a coroutine: async waiter), blocks (a plain thread: blocking waiter) or polls is_complete().
//
// State word bits (all changes are single RMWs on state_):
//   k_complete      the result is stored; never unset once set.
//   k_async_waiter  waiter_ holds a suspended coroutine to resume; set by the consumer before
//                   k_complete, cleared only by a consumer that withdraws (cancel) before k_complete.
//   k_block_waiter  waiter_ holds a blocker* of a thread blocked in wait_blocking().
// Invariant: at most one of k_async_waiter / k_block_waiter is set.
//
// Memory ordering: the result written before complete() (release in its fetch_or) is visible to a
// consumer that saw k_complete (acquire). waiter_ written by the consumer before its CAS (release)
// is visible to the producer whose fetch_or saw the waiter bit (acquire).
//
// Lifetime: after complete() has published k_complete, the consumer may free the cell at any time,
// unless the producer still has to wake it; the producer therefore reads waiter_ only when it saw a
// waiter bit (the waiter cannot go away until woken), and wakes a blocked thread under the blocker's
// mutex so the blocker cannot return before the producer is done with it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <mutex>

namespace coreio::detail {

/// A plain thread blocked on a cell. Lives on that thread's stack.
struct blocker {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu

  void wake() noexcept {
    std::lock_guard<std::mutex> g(mu);
    done = true;
    // Notify under the lock: the blocked thread cannot see done and return (destroying *this)
    // until we release mu, after which we touch nothing.
    cv.notify_one();
  }
  void wait() {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return done; });
  }
};

class completion_cell {
 public:
  static constexpr std::uint32_t k_complete = 1;
  static constexpr std::uint32_t k_async_waiter = 2;
  static constexpr std::uint32_t k_block_waiter = 4;

  /// Acquire pairs with the acq_rel fetch_or in complete(): the stored result is visible.
  bool is_complete() const noexcept {
    return (state_.load(std::memory_order_acquire) & k_complete) != 0;
  }

  /// Producer: publish completion. Returns the coroutine to resume (the async waiter), or null.
  /// A blocked thread is woken here.
  [[nodiscard]] std::coroutine_handle<> complete() noexcept {
    // acq_rel: release publishes the result; acquire makes the consumer's waiter_ visible.
    std::uint32_t prev = state_.fetch_or(k_complete, std::memory_order_acq_rel);
    if (prev & k_async_waiter) return std::coroutine_handle<>::from_address(waiter_);
    if (prev & k_block_waiter) static_cast<blocker*>(waiter_)->wake();
    return nullptr;
  }

  /// Consumer: register a suspended coroutine. Returns false if already complete (do not suspend).
  [[nodiscard]] bool set_async_waiter(std::coroutine_handle<> h) noexcept {
    waiter_ = h.address();
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    do {
      if (s & k_complete) return false;
      // release publishes waiter_; acquire (on failure) pairs with complete()'s release.
    } while (!state_.compare_exchange_weak(s, s | k_async_waiter, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
    return true;
  }

  /// Consumer (any thread): withdraw a registered async waiter before completion. Returns true if
  /// withdrawn (the caller now owns the resumption); false if complete() already claimed it.
  [[nodiscard]] bool withdraw_async_waiter() noexcept {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    do {
      if ((s & k_complete) || !(s & k_async_waiter)) return false;
    } while (!state_.compare_exchange_weak(s, s & ~k_async_waiter, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
    return true;
  }

  /// Two-owner reference count that shares the cell's cache line (spawned tasks: the running task
  /// and the join handle). Returns true for the caller that dropped the last reference.
  void set_refs(std::uint32_t n) noexcept {
    // Relaxed: set before the owners are published (by a queue push or a constructor).
    refs_.store(n, std::memory_order_relaxed);
  }
  void add_ref() noexcept {
    // Relaxed: the caller already holds a reference, so the count cannot reach zero meanwhile.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  [[nodiscard]] bool release_ref() noexcept {
    // acq_rel: the last owner must see every write of the others before it frees the object.
    return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }

  /// Consumer on a plain thread: block until complete.
  void wait_blocking() {
    if (is_complete()) return;
    blocker b;
    waiter_ = &b;
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    do {
      if (s & k_complete) return;
    } while (!state_.compare_exchange_weak(s, s | k_block_waiter, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
    b.wait();
  }

 private:
  // Writers: consumer (waiter bits), producer (k_complete). Readers: both.
  std::atomic<std::uint32_t> state_{0};
  // Owners of the enclosing object. RMW only (set_refs before publication).
  std::atomic<std::uint32_t> refs_{0};
  // Written by the consumer before it sets a waiter bit; read by the producer after seeing it.
  void* waiter_ = nullptr;
};

}  // namespace coreio::detail
