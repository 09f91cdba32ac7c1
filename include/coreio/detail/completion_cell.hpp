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
//   k_block_waiter  a thread is blocked in wait_blocking() on the state word.
//   k_withdrawn     the consumer's cancel arrived before it registered its async waiter: the next
//                   set_async_waiter fails with `cancelled` (and clears the bit).
// Invariant: at most one of k_async_waiter / k_block_waiter is set.
//
// An awaiter therefore arms its cancellation first and registers last: once set_async_waiter has
// succeeded, the producer (or a canceller) may resume the waiter at any moment, so the awaiter must
// not touch itself afterwards.
//
// Memory ordering: the result written before complete() (release in its fetch_or) is visible to a
// consumer that saw k_complete (acquire). waiter_ written by the consumer before its CAS (release)
// is visible to the producer whose fetch_or saw the waiter bit (acquire).
//
// Lifetime: the producer holds a reference to the object that contains the cell until complete()
// has returned (a spawned task drops its reference after completing; a promise is alive while it
// sets its value), so complete() may notify the state word after publishing k_complete. It reads
// waiter_ only when it saw a waiter bit (an async waiter cannot go away until resumed). A blocked
// thread waits on the state word itself (std::atomic::wait, a futex), so no object of the blocked
// thread is touched by the producer.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include <coreio/detail/sched_hooks.hpp>

namespace coreio::detail {

/// A coroutine waiting on a cell, and the runtime it must resume on. Lives in the waiter's frame.
struct async_waiter {
  std::coroutine_handle<> handle{};
  runtime_impl* rt = nullptr;
};

class completion_cell {
 public:
  static constexpr std::uint32_t k_complete = 1;
  static constexpr std::uint32_t k_async_waiter = 2;
  static constexpr std::uint32_t k_block_waiter = 4;
  static constexpr std::uint32_t k_withdrawn = 8;

  enum class registration { suspended, complete, cancelled };

  /// Acquire pairs with the acq_rel fetch_or in complete(): the stored result is visible.
  bool is_complete() const noexcept {
    return (state_.load(std::memory_order_acquire) & k_complete) != 0;
  }

  /// Producer: publish completion. Returns the async waiter to resume, or null. A blocked thread
  /// is woken here.
  [[nodiscard]] async_waiter* complete() noexcept {
    // acq_rel: release publishes the result; acquire makes the consumer's waiter_ visible.
    std::uint32_t prev = state_.fetch_or(k_complete, std::memory_order_acq_rel);
    if (prev & k_async_waiter) return static_cast<async_waiter*>(waiter_);
    if (prev & k_block_waiter) state_.notify_all();
    return nullptr;
  }

  /// Consumer: register a suspended coroutine. complete: the result is already in (do not
  /// suspend); cancelled: a withdraw came first (do not suspend); suspended: registered.
  [[nodiscard]] registration set_async_waiter(async_waiter* w) noexcept {
    waiter_ = w;
    // Acquire: if k_complete is already set we return at once and read the result next, so this
    // load must pair with complete()'s release.
    std::uint32_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & k_complete) return registration::complete;
      const bool withdrawn = (s & k_withdrawn) != 0;
      const std::uint32_t next = withdrawn ? (s & ~k_withdrawn) : (s | k_async_waiter);
      // release publishes waiter_; acquire (on failure) pairs with complete()'s release.
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return withdrawn ? registration::cancelled : registration::suspended;
      }
    }
  }

  /// Consumer's canceller (any thread). true: a registered async waiter was withdrawn and the caller
  /// now owns its resumption. false: nothing to resume — either the result is in (the producer
  /// resumes or resumed the waiter), or no waiter is registered yet (then the next set_async_waiter
  /// reports cancelled).
  [[nodiscard]] bool withdraw_async_waiter() noexcept {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & k_complete) return false;
      const bool registered = (s & k_async_waiter) != 0;
      const std::uint32_t next = registered ? (s & ~k_async_waiter) : (s | k_withdrawn);
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return registered;
      }
    }
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
  void wait_blocking() noexcept {
    // Acquire loads pair with complete()'s release: the result is visible once k_complete is seen.
    std::uint32_t s = state_.load(std::memory_order_acquire);
    while (!(s & k_complete)) {
      if (!(s & k_block_waiter)) {
        // acq_rel: announce the blocked thread so that complete() notifies.
        if (!state_.compare_exchange_weak(s, s | k_block_waiter, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
          continue;
        }
        s |= k_block_waiter;
      }
      state_.wait(s, std::memory_order_acquire);
      s = state_.load(std::memory_order_acquire);
    }
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
