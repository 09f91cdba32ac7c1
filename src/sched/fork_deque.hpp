// sched/fork_deque.hpp — the bounded Chase-Lev deque of one worker, for forked children.
//
// gather's children (and the other fork-join combinators') wait here, not in the run queue
// (run_queue.hpp): the owner pops them newest first, so a fork-join tree runs depth-first, the
// cache-hot child next, and stays shallow in memory (skynet at a few MB where a breadth-first pool
// reaches gigabytes). Stealers take the oldest, biggest pieces of work from the other end. The
// ring is fixed-size; a full push fails and the worker moves half of its items to the global
// queue (Tokio's overflow policy), so the deque never grows.
//
// Ownership is in the types: fork_deque::owner (push at the bottom, pop at the bottom: LIFO) is
// held by the worker thread alone; fork_deque::stealer (steal one item at the top: FIFO; size) by
// anyone. Both views share one fork_deque.
//
// Algorithm and memory orders: Lê, Pop, Cohen, Zappa Nardelli, "Correct and Efficient
// Work-Stealing for Weak Memory Models", PPoPP 2013, figure 1 (the C11 version), with one change:
// slots are stored with release and loaded with acquire instead of relaxed. That makes the task's
// frame contents, written before push, visible to a thief through the slot itself — an edge
// ThreadSanitizer can see (it ignores the standalone fences the paper relies on) — and it costs
// nothing on x86_64 and little on ARM. Indices are signed 64-bit so that bottom - 1 on an empty
// deque is -1, not a wrap-around.
//
// A thief that wants half steals one item at a time (worker.cpp, steal): a multi-item CAS on top
// would race with the owner's CAS-free pops of the other end.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "util/cache_padded.hpp"

namespace coreio::detail {

class fork_deque {
 public:
  class owner;
  class stealer;

  explicit fork_deque(std::uint32_t capacity)
      : mask_(capacity - 1), buf_(new std::atomic<void*>[capacity]) {
    for (std::uint32_t i = 0; i < capacity; ++i) buf_[i].store(nullptr, std::memory_order_relaxed);
  }

  std::uint32_t capacity() const noexcept { return static_cast<std::uint32_t>(mask_ + 1); }

  /// Approximate number of items; any thread (relaxed: a hint for stealing and metrics).
  std::int64_t size() const noexcept {
    std::int64_t b = bottom_->load(std::memory_order_relaxed);
    std::int64_t t = top_->load(std::memory_order_relaxed);
    return b > t ? b - t : 0;
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  friend class owner;
  friend class stealer;

  /// Owner only. False if full.
  bool push(void* x) noexcept {
    std::int64_t b = bottom_->load(std::memory_order_relaxed);  // only the owner writes bottom
    // Acquire pairs with the CAS on top in steal(): the slot we are about to reuse was read by the
    // thief that moved top past it.
    std::int64_t t = top_->load(std::memory_order_acquire);
    if (b - t > mask_) return false;
    // Release: publishes the frame behind x to a thief that loads this slot with acquire.
    buf_[b & mask_].store(x, std::memory_order_release);
    // Release fence (paper): the slot store is ordered before the new bottom becomes visible.
    std::atomic_thread_fence(std::memory_order_release);
    bottom_->store(b + 1, std::memory_order_relaxed);
    return true;
  }

  /// Owner only. The newest item, or null.
  void* pop() noexcept {
    std::int64_t b = bottom_->load(std::memory_order_relaxed) - 1;
    bottom_->store(b, std::memory_order_relaxed);
    // seq_cst fence (paper): the store of bottom must be ordered before the load of top (StoreLoad),
    // so that a concurrent thief and this pop cannot both take the last item.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t t = top_->load(std::memory_order_relaxed);
    if (t > b) {  // empty
      bottom_->store(b + 1, std::memory_order_relaxed);
      return nullptr;
    }
    void* x = buf_[b & mask_].load(std::memory_order_relaxed);  // our own store
    if (t == b) {
      // Last item: race the thieves for it with a CAS on top. seq_cst as in the paper: it takes part
      // in the single total order with the fence above and the thieves' fences.
      if (!top_->compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                         std::memory_order_relaxed)) {
        x = nullptr;  // a thief got it
      }
      bottom_->store(b + 1, std::memory_order_relaxed);
    }
    return x;
  }

  /// Any thread. The oldest item, or null if empty or if the race for it was lost.
  void* steal() noexcept {
    // Acquire pairs with the thieves' CAS on top (a fresh top).
    std::int64_t t = top_->load(std::memory_order_acquire);
    // seq_cst fence (paper): orders the load of top before the load of bottom against the owner's
    // fence in pop().
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Acquire pairs with the owner's release fence + bottom store in push().
    std::int64_t b = bottom_->load(std::memory_order_acquire);
    if (t >= b) return nullptr;
    // Acquire pairs with the release store of the slot in push(): the frame contents are visible.
    void* x = buf_[t & mask_].load(std::memory_order_acquire);
    // seq_cst CAS (paper): the one winner of this slot among thieves and the owner's last-item pop.
    if (!top_->compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                       std::memory_order_relaxed)) {
      return nullptr;
    }
    return x;
  }

  // Written by thieves (CAS) and by the owner's last-item CAS; read by everyone.
  cache_padded<std::atomic<std::int64_t>> top_{};
  // Written by the owner only; read by thieves.
  cache_padded<std::atomic<std::int64_t>> bottom_{};
  const std::int64_t mask_;
  // The ring. Slot i holds item i while top <= i < bottom.
  std::unique_ptr<std::atomic<void*>[]> buf_;
};

/// The owner's end: push and pop at the bottom (LIFO). The worker thread only.
class fork_deque::owner {
 public:
  explicit owner(fork_deque& q) noexcept : q_(&q) {}
  /// False if full (the caller overflows to the global queue).
  bool push(void* x) noexcept { return q_->push(x); }
  /// The newest item, or null.
  void* pop() noexcept { return q_->pop(); }
  /// The oldest item, or null (overflow moves the oldest half out).
  void* pop_oldest() noexcept { return q_->steal(); }
  std::int64_t size() const noexcept { return q_->size(); }
  bool empty() const noexcept { return q_->empty(); }
  std::uint32_t capacity() const noexcept { return q_->capacity(); }

 private:
  fork_deque* q_;
};

/// The stealers' end: take the oldest item at the top. Any thread.
class fork_deque::stealer {
 public:
  explicit stealer(fork_deque& q) noexcept : q_(&q) {}
  /// The oldest item, or null if empty or if the race for it was lost.
  void* steal() noexcept { return q_->steal(); }
  std::int64_t size() const noexcept { return q_->size(); }

 private:
  fork_deque* q_;
};

}  // namespace coreio::detail
