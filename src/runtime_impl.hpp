// runtime_impl.hpp — the shared state of one runtime and its shutdown protocol.
//
// Owns the workers and their threads, the global injection queue, the idle bookkeeping and the
// registry of root tasks.
//
// Shutdown (~runtime_impl, on a thread that is not one of its workers):
//   1. Set closing_: from now on spawn throws runtime_closed. (The registry reads the flag under its
//      shard locks, so no spawn slips in after step 2 has walked its shard.)
//   2. Cancel every registered root task: each one's armed suspension point is interrupted and every
//      later one throws cancelled_error, so tasks unwind (gathers cancel their children).
//   3. Wait until the registry is empty; the workers keep running meanwhile. Every 5 s without
//      progress a line on stderr names how many tasks are still running (a task that never reaches a
//      suspension point cannot be interrupted).
//   4. Set stopping_, wake every worker, join the threads. The io_contexts, queues and timers are
//      destroyed empty.
//
// Thread safety: inject/notify/metrics from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <coreio/metrics.hpp>
#include <coreio/runtime.hpp>

#include "sched/idle.hpp"
#include "sched/inject.hpp"
#include "sched/registry.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

class runtime_impl {
 public:
  explicit runtime_impl(const runtime_options& options);
  ~runtime_impl();

  std::uint32_t worker_count() const noexcept { return static_cast<std::uint32_t>(workers_.size()); }
  worker& worker_at(std::uint32_t i) noexcept { return *workers_[i]; }

  /// Queues h on the global queue and wakes a parked worker if none is searching. Any thread.
  void inject(std::coroutine_handle<> h);
  /// Wakes one parked worker if work may be waiting for it and nobody searches. The caller has made
  /// that work visible and issued a seq_cst fence (idle.hpp, step 1). Any thread.
  void notify_one_parked();

  void spawn_root(promise_base* p, std::coroutine_handle<> h);
  void root_ended(promise_base* p);

  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
  runtime_metrics metrics() const;

  inject_queue& global() noexcept { return global_; }
  idle& idle_state() noexcept { return idle_; }

 private:
  inject_queue global_;
  idle idle_;
  registry registry_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  // Set once by the destructor (step 1). Read by spawns under the registry's shard locks.
  std::atomic<bool> closing_{false};
  // Set once by the destructor (step 4). Read by workers when idle; acquire/release pair.
  std::atomic<bool> stopping_{false};
  // Spawns from threads that are not workers (workers count their own).
  std::atomic<std::uint64_t> external_spawned_{0};
  // Step 3's wait.
  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
};

}  // namespace coreio::detail
