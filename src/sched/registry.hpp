// sched/registry.hpp — every root (spawned) task of a runtime that has not ended yet.
//
// Shutdown needs it: destroying a runtime cancels each of these and waits until none is left.
// Sharded by the spawning worker (one extra shard for outside threads) so that concurrent spawns on
// different workers do not contend; a task may end on another worker and unlink itself from the
// shard it was spawned on, hence the per-shard mutex. Links live in the task's promise (intrusive).
//
// Thread safety: all members from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include <coreio/detail/promise_base.hpp>

#include "util/cache_padded.hpp"

namespace coreio::detail {

class registry {
 public:
  explicit registry(std::uint32_t shards) : n_(shards), shards_(new cache_padded<shard>[shards]) {}

  std::uint32_t shards() const noexcept { return n_; }

  /// Links p into shard s unless the runtime is closing. `closing` is read under the shard lock, so
  /// a task is either linked before cancel_all walks this shard, or refused.
  bool link(promise_base* p, std::uint32_t s, const std::atomic<bool>& closing) {
    shard& sh = *shards_[s];
    std::lock_guard<std::mutex> g(sh.mu);
    // Relaxed: ordered by sh.mu against the store in the closing thread, which takes every shard
    // lock after setting the flag.
    if (closing.load(std::memory_order_relaxed)) return false;
    p->reg_shard_ = s;
    p->reg_prev_ = nullptr;
    p->reg_next_ = sh.head;
    if (sh.head) sh.head->reg_prev_ = p;
    sh.head = p;
    ++sh.count;
    return true;
  }

  void unlink(promise_base* p) {
    shard& sh = *shards_[p->reg_shard_];
    std::lock_guard<std::mutex> g(sh.mu);
    if (p->reg_prev_) p->reg_prev_->reg_next_ = p->reg_next_;
    else sh.head = p->reg_next_;
    if (p->reg_next_) p->reg_next_->reg_prev_ = p->reg_prev_;
    --sh.count;
  }

  /// Cancels every linked task. Tasks stay linked until they end.
  void cancel_all() {
    for (std::uint32_t s = 0; s < n_; ++s) {
      shard& sh = *shards_[s];
      std::lock_guard<std::mutex> g(sh.mu);
      // Safety: a task unlinks itself under this lock before its frame can be freed.
      for (promise_base* p = sh.head; p; p = p->reg_next_) p->own_scope_.cancel();
    }
  }

  /// Tasks linked now (each shard read under its lock).
  std::size_t alive() const {
    std::size_t n = 0;
    for (std::uint32_t s = 0; s < n_; ++s) {
      shard& sh = *shards_[s];
      std::lock_guard<std::mutex> g(sh.mu);
      n += sh.count;
    }
    return n;
  }

 private:
  struct shard {
    std::mutex mu;
    promise_base* head = nullptr;  // guarded by mu
    std::size_t count = 0;         // guarded by mu
  };
  const std::uint32_t n_;
  std::unique_ptr<cache_padded<shard>[]> shards_;
};

}  // namespace coreio::detail
