// sched/run_queue.hpp — a worker's FIFO of ready tasks (Go's runq, Tokio's local run queue).
//
// Every task that becomes ready on a worker goes here: spawns, wake-ups (a lock handed over, an
// event set, a timer fired, a socket completed), yields. The owner pops the oldest, so tasks run
// in the order they became ready, as in asyncio's ready queue. Idle workers steal the older half
// (steal_half). The ring is fixed-size; a full push fails and the worker moves half of the ring
// to the global queue (Tokio's overflow policy), so the queue never grows.
//
// Ownership is in the types: run_queue::owner (push, pop) is held by the worker thread alone;
// run_queue::stealer (steal_half, size) by anyone. Both views share one run_queue.
//
// Algorithm: a bounded single-producer, multi-consumer ring (Go runtime, proc.go runqput /
// runqget / runqgrab). head is advanced by a CAS by every consumer (owner pop and thieves); tail
// is written by the owner only. A thief copies the slots it wants and then claims them with one CAS
// on head; if head moved meanwhile the copy is discarded and it retries, so a slot the owner
// rewrote under it is never used. Indices are 64-bit and never wrap in practice (no ABA).
// Memory orders:
//   push:  slot store (relaxed), then tail store with release: the frame behind the item, written
//          before the push, and the slot are visible to a consumer that loads tail with acquire.
//   pop / steal: head CAS with release: the slot reads before it are ordered before the owner, which
//          loads head with acquire in push, reuses the slot.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "util/cache_padded.hpp"

namespace coreio::detail {

class run_queue {
 public:
  class owner;
  class stealer;

  explicit run_queue(std::uint32_t capacity)
      : mask_(capacity - 1), buf_(new std::atomic<void*>[capacity]) {
    for (std::uint32_t i = 0; i < capacity; ++i) buf_[i].store(nullptr, std::memory_order_relaxed);
  }
  run_queue(const run_queue&) = delete;
  run_queue& operator=(const run_queue&) = delete;

  std::uint32_t capacity() const noexcept { return static_cast<std::uint32_t>(mask_ + 1); }

  /// Approximate number of items; any thread (relaxed: a hint for stealing, parking and metrics).
  std::uint64_t size() const noexcept {
    const std::uint64_t h = head_->load(std::memory_order_relaxed);
    const std::uint64_t t = tail_->load(std::memory_order_relaxed);
    return t > h ? t - h : 0;
  }

 private:
  // Advanced by CAS by the owner's pop and by thieves.
  cache_padded<std::atomic<std::uint64_t>> head_{};
  // Written by the owner only (release); read by thieves (acquire).
  cache_padded<std::atomic<std::uint64_t>> tail_{};
  const std::uint64_t mask_;
  // Slot i % capacity holds item i while head <= i < tail.
  std::unique_ptr<std::atomic<void*>[]> buf_;
};

/// The owner's end: push at the tail, pop at the head. The worker thread only.
class run_queue::owner {
 public:
  explicit owner(run_queue& q) noexcept : q_(&q) {}

  /// Appends x. False if the ring is full (the caller overflows to the global queue).
  bool push(void* x) noexcept {
    // Relaxed: only this thread writes tail.
    const std::uint64_t t = q_->tail_->load(std::memory_order_relaxed);
    // Acquire pairs with the consumers' release CAS on head: their reads of the slot we are about
    // to reuse are done.
    const std::uint64_t h = q_->head_->load(std::memory_order_acquire);
    if (t - h > q_->mask_) return false;
    // Relaxed: published by the release store of tail below.
    q_->buf_[t & q_->mask_].store(x, std::memory_order_relaxed);
    // Release: the slot and the frame behind x are visible to a consumer that acquires tail.
    q_->tail_->store(t + 1, std::memory_order_release);
    return true;
  }

  /// Removes and returns the oldest item, or null if the ring is empty.
  void* pop() noexcept {
    // Acquire: as in push (a fresh head after thieves' CAS).
    std::uint64_t h = q_->head_->load(std::memory_order_acquire);
    for (;;) {
      // Relaxed: our own writes.
      const std::uint64_t t = q_->tail_->load(std::memory_order_relaxed);
      if (h == t) return nullptr;
      void* x = q_->buf_[h & q_->mask_].load(std::memory_order_relaxed);
      // Release: our slot read is ordered before the slot can be reused. On failure, acquire the
      // thief's newer head and try again.
      if (q_->head_->compare_exchange_weak(h, h + 1, std::memory_order_release,
                                           std::memory_order_acquire)) {
        return x;
      }
    }
  }

  /// Removes up to n of the oldest items into out; returns how many. For overflow.
  std::size_t pop_oldest(void** out, std::size_t n) noexcept {
    std::size_t k = 0;
    while (k < n) {
      void* x = pop();
      if (x == nullptr) break;
      out[k++] = x;
    }
    return k;
  }

  bool empty() const noexcept { return q_->size() == 0; }
  std::uint64_t size() const noexcept { return q_->size(); }
  std::uint32_t capacity() const noexcept { return q_->capacity(); }

 private:
  run_queue* q_;
};

/// The stealers' end: any thread.
class run_queue::stealer {
 public:
  explicit stealer(run_queue& q) noexcept : q_(&q) {}

  /// Takes the older half (rounded up, at most max) of the items into out; returns how many
  /// (0 if empty or every race was lost to the owner or another thief).
  std::size_t steal_half(void** out, std::size_t max) noexcept {
    // Acquire: a fresh head (pairs with the other consumers' release CAS).
    std::uint64_t h = q_->head_->load(std::memory_order_acquire);
    for (;;) {
      // Acquire pairs with the owner's release store of tail: the slots below it are published.
      const std::uint64_t t = q_->tail_->load(std::memory_order_acquire);
      if (t <= h) return 0;
      std::uint64_t n = t - h;
      n -= n / 2;
      if (n > max) n = max;
      if (n > q_->mask_ + 1) {
        // h was stale by more than a lap; re-read it.
        h = q_->head_->load(std::memory_order_acquire);
        continue;
      }
      for (std::uint64_t i = 0; i < n; ++i) {
        // Relaxed: the acquire of tail above ordered the owner's stores; a slot rewritten since is
        // detected by the CAS below failing.
        out[i] = q_->buf_[(h + i) & q_->mask_].load(std::memory_order_relaxed);
      }
      // Release: our slot reads are ordered before the owner reuses them (it acquires head).
      if (q_->head_->compare_exchange_weak(h, h + n, std::memory_order_release,
                                           std::memory_order_acquire)) {
        return static_cast<std::size_t>(n);
      }
    }
  }

  std::uint64_t size() const noexcept { return q_->size(); }

 private:
  run_queue* q_;
};

}  // namespace coreio::detail
