// sched/registry.hpp — every spawned task of a runtime that has not ended yet.
//
// Shutdown needs it: destroying a runtime cancels each of these and waits until none is left.
// A task is linked when spawned and unlinked when it ends, usually on another worker (it was
// stolen), so the shard is chosen by hashing the task's address over 8 shards per worker: the
// spawning and the completing worker then rarely want the same shard at the same time. Each shard
// is guarded by a spinlock (the critical sections are a push_back or a swap-remove; a std::mutex
// put the loser to sleep in the kernel and cost 25% of the spawn benchmark). Links live in the task's promise (intrusive).
//
// Thread safety: all members from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <coreio/detail/promise_base.hpp>

#include <coreio/detail/spinlock.hpp>
#include "util/cache_padded.hpp"

namespace coreio::detail {

class registry {
 public:
  explicit registry(std::uint32_t workers)
      : n_(shard_count(workers)), shards_(new cache_padded<shard>[n_]) {}

  /// Links p unless the runtime is closing. `closing` is read under the shard lock, so a task is
  /// either linked before cancel_all walks its shard, or refused.
  bool link(promise_base* p, const std::atomic<bool>& closing) {
    const std::uint32_t s = shard_of(p);
    shard& sh = *shards_[s];
    std::lock_guard<spinlock> g(sh.mu);
    // Relaxed: ordered by sh.mu against the store in the closing thread, which takes every shard
    // lock after setting the flag.
    if (closing.load(std::memory_order_relaxed)) return false;
    p->spawned_->reg_shard = static_cast<std::uint16_t>(s);
    p->spawned_->reg_index = static_cast<std::uint32_t>(sh.tasks.size());
    sh.tasks.push_back(p);
    return true;
  }

  void unlink(promise_base* p) {
    shard& sh = *shards_[p->spawned_->reg_shard];
    std::lock_guard<spinlock> g(sh.mu);
    promise_base* last = sh.tasks.back();
    sh.tasks[p->spawned_->reg_index] = last;
    last->spawned_->reg_index = p->spawned_->reg_index;
    sh.tasks.pop_back();
  }

  /// Cancels every linked task. Tasks stay linked until they end.
  void cancel_all() {
    for (std::uint32_t s = 0; s < n_; ++s) {
      shard& sh = *shards_[s];
      std::lock_guard<spinlock> g(sh.mu);
      // Safety: a task unlinks itself under this lock before its frame can be freed.
      for (promise_base* p : sh.tasks) p->own_scope_.cancel();
    }
  }

  /// Calls f(p) for each linked task, under its shard's lock: f must be short and must not spawn
  /// or end a task. A task's identity (spawned_state's name, id, where) is fixed before it is linked.
  template <class F>
  void for_each(F&& f) const {
    for (std::uint32_t s = 0; s < n_; ++s) {
      shard& sh = *shards_[s];
      std::lock_guard<spinlock> g(sh.mu);
      for (const promise_base* p : sh.tasks) f(p);
    }
  }

  /// Tasks linked now (each shard read under its lock).
  std::size_t alive() const {
    std::size_t n = 0;
    for (std::uint32_t s = 0; s < n_; ++s) {
      shard& sh = *shards_[s];
      std::lock_guard<spinlock> g(sh.mu);
      n += sh.tasks.size();
    }
    return n;
  }

 private:
  static std::uint32_t shard_count(std::uint32_t workers) {
    std::uint32_t n = 8;
    while (n < 8 * workers && n < (1u << 15)) n <<= 1;
    return n;
  }
  std::uint32_t shard_of(const promise_base* p) const noexcept {
    // Frames are at least 64-byte granular; mix the higher bits (Fibonacci hashing).
    auto a = reinterpret_cast<std::uintptr_t>(p) >> 6;
    return static_cast<std::uint32_t>((a * 0x9E3779B97F4A7C15ull) >> 40) & (n_ - 1);
  }

  struct shard {
    spinlock mu;
    // The linked tasks, in no order; each knows its index (swap-remove). Guarded by mu.
    std::vector<promise_base*> tasks;
  };
  const std::uint32_t n_;
  std::unique_ptr<cache_padded<shard>[]> shards_;
};

}  // namespace coreio::detail
