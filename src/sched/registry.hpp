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
#include <vector>

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
    p->reg_shard_ = static_cast<std::uint16_t>(s);
    p->reg_index_ = static_cast<std::uint32_t>(sh.tasks.size());
    sh.tasks.push_back(p);
    return true;
  }

  void unlink(promise_base* p) {
    shard& sh = *shards_[p->reg_shard_];
    std::lock_guard<std::mutex> g(sh.mu);
    promise_base* last = sh.tasks.back();
    sh.tasks[p->reg_index_] = last;
    last->reg_index_ = p->reg_index_;
    sh.tasks.pop_back();
  }

  /// Cancels every linked task. Tasks stay linked until they end.
  void cancel_all() {
    for (std::uint32_t s = 0; s < n_; ++s) {
      shard& sh = *shards_[s];
      std::lock_guard<std::mutex> g(sh.mu);
      // Safety: a task unlinks itself under this lock before its frame can be freed.
      for (promise_base* p : sh.tasks) p->own_scope_.cancel();
    }
  }

  /// Tasks linked now (each shard read under its lock).
  std::size_t alive() const {
    std::size_t n = 0;
    for (std::uint32_t s = 0; s < n_; ++s) {
      shard& sh = *shards_[s];
      std::lock_guard<std::mutex> g(sh.mu);
      n += sh.tasks.size();
    }
    return n;
  }

 private:
  struct shard {
    std::mutex mu;
    // The linked tasks, in no order; each knows its index (swap-remove). Guarded by mu.
    std::vector<promise_base*> tasks;
  };
  const std::uint32_t n_;
  std::unique_ptr<cache_padded<shard>[]> shards_;
};

}  // namespace coreio::detail
