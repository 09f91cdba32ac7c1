// runtime_impl.hpp — the shared state of one runtime and its shutdown protocol.
//
// Owns the workers and their threads, the global queue, the idle bookkeeping, the registry of
// spawned tasks, the monitor thread and the blocking pool (to_thread).
//
// Shutdown (~runtime_impl, on a thread that is not one of its workers):
//   1. Set closing_: from now on spawn throws runtime_closed. (The registry reads the flag under its
//      shard locks, so no spawn slips in after step 2 has walked its shard.) to_thread throws
//      runtime_closed too (submit_blocking reads the flag; a submit racing with this store may
//      still be queued: step 3b runs or drops it like any other).
//   2. Cancel every registered spawned task: each one's armed suspension point is interrupted and every
//      later one throws cancelled_error, so tasks unwind (gathers cancel their children).
//   3. Wait until the registry is empty; the workers keep running meanwhile. Every 5 s without
//      progress a line on stderr names how many tasks are still running (a task that never reaches a
//      suspension point cannot be interrupted).
//   3b. Close the blocking pool (sched/blocking_pool.hpp, close_and_join): refuse submits, drop the
//      queued calls that never started (their awaiters have all unwound in step 3, so nobody waits
//      for them), wait for the calls still running (a cancelled to_thread leaves its call running)
//      and join every pool thread. After step 3, because a task still unwinding (or shielded) may
//      still be waiting on a call; before step 4, because a call that returns may still wake a task
//      or post to a worker (promise / future), which needs the workers running. Every 5 s without
//      an end a line on stderr names how many calls are still running (a call that never returns
//      holds the destructor, as a task that never suspends does).
//   4. Stop the monitor thread (no task is left whose sleep it could fire). Set stopping_, wake
//      every worker, join the threads.
//   5. Wait until no thread that is not a worker is still inside a call on this runtime (remote_):
//      a plain thread that woke a task (push_global) or posted a cancel is still running notify / post
//      code after the push that let that task finish, and so after step 3 may have seen the
//      registry empty.
//   6. Run, on this thread, the handlers still queued on each worker's loop (worker::run_leftovers):
//      a task's frame may be freed after it left the registry (spawned_task_complete unregisters
//      first), and the sockets in it post their deletes to their owner's loop, which may have
//      stopped by then; an io_context destroyed with them queued would drop them unrun (a leaked
//      descriptor). Then the io_contexts, queues and timers are destroyed empty.
//
// Thread safety: inject/notify/submit_blocking/metrics from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/post.hpp>

#include <coreio/metrics.hpp>
#include <coreio/runtime.hpp>

#include "sched/blocking_pool.hpp"
#include "sched/global_queue.hpp"
#include "sched/monitor.hpp"
#include "sched/park.hpp"
#include "sched/registry.hpp"
#include "sched/watchdog.hpp"
#include "sched/worker.hpp"
#include "trace/tracer.hpp"

namespace coreio::detail {

/// remote_enter/remote_exit for a scope.
class remote_call {
 public:
  explicit remote_call(runtime_impl& rt) noexcept;
  ~remote_call();
  remote_call(const remote_call&) = delete;
  remote_call& operator=(const remote_call&) = delete;

 private:
  runtime_impl& rt_;
};

class runtime_impl {
 public:
  explicit runtime_impl(const runtime_options& options);
  ~runtime_impl();

  std::uint32_t worker_count() const noexcept {
    return static_cast<std::uint32_t>(workers_.size());
  }
  /// The part of worker i that other threads may touch (thieves, the monitor, metrics, sockets).
  worker_remote& remote(std::uint32_t i) noexcept { return workers_[i]->remote(); }
  /// Worker i itself, for posting to its loop (worker::post) and binding IO objects to it.
  worker& worker_at(std::uint32_t i) noexcept { return *workers_[i]; }
  /// Reports the tasks still linked through the log sink: one message, "<what>:" and the tree of
  /// dump_tasks (at most `max` task lines, then a count). Any thread.
  void report_pending(const char* what, std::size_t max) const;
  /// runtime_options::pin_workers: binds each worker thread to one of the process's CPUs. Called by
  /// the constructor once the threads exist.
  void pin_workers() noexcept;
  /// The tracer, or nullptr when tracing is off.
  const trace::tracer* tracer() const noexcept { return tracer_.get(); }
  /// The per-name task counters, or nullptr when metrics_histograms is off. Any thread.
  name_stats* task_name_stats() const noexcept { return name_stats_.get(); }

  /// Queues h on the global queue and wakes a parked worker if none is searching. Any thread.
  void push_global(std::coroutine_handle<> h);
  /// The same for a queue entry (a first run's mark, sched/first_run.hpp).
  void push_global_entry(void* entry);
  /// Wakes one parked worker if work may be waiting for it and nobody searches. The caller has made
  /// that work visible and issued a seq_cst fence (idle.hpp, step 1). Any thread.
  void notify_one_parked();

  /// The spawned tasks not ended yet (detail/spawned_task.hpp, steps 2 and 7), and the flag they
  /// are refused by once closing (step 1).
  registry& tasks() noexcept { return registry_; }
  const registry& tasks() const noexcept { return registry_; }
  const std::atomic<bool>& closing_flag() const noexcept { return closing_; }
  /// Step 7 of a spawned task: unregisters it, telling a draining destructor (step 3).
  void task_ended(promise_base* p);
  void count_external_spawn() noexcept {
    // Relaxed: a statistic.
    external_spawned_.fetch_add(1, std::memory_order_relaxed);
  }
  /// Queues a to_thread call on the blocking pool; runtime_closed from step 1 on (the job dropped).
  /// Any thread.
  void submit_blocking(blocking_job* job);
  /// A worker unparked (park.cpp): the monitor resumes ticking if it slept.
  void monitor_resume() noexcept { monitor_.resume_after_unpark(); }

  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  /// Brackets a call from any thread that touches this runtime after making a task ready (step 5).
  /// Relaxed increment: it precedes, in program order, the push that lets the task (and so the
  /// shutdown) proceed. Release decrement: pairs with the acquire wait in the destructor.
  void remote_enter() noexcept { remote_.fetch_add(1, std::memory_order_relaxed); }
  void remote_exit() noexcept { remote_.fetch_sub(1, std::memory_order_release); }
  runtime_metrics metrics() const;

  global_queue& global() noexcept { return global_; }
  idle& idle_state() noexcept { return idle_; }

 private:
  global_queue global_;
  idle idle_;
  registry registry_;
  // to_thread's threads; closed and joined in step 3b.
  blocking_pool blocking_;
  // The tracer (trace/tracer.hpp) when tracing is on, and the file written at shutdown. Made
  // before the workers, which keep a pointer to their ring; written after they are joined.
  std::unique_ptr<trace::tracer> tracer_;
  std::string trace_path_;
  // metrics_histograms (COREIO_METRICS=1): per-name counters, made before the workers, which keep
  // a pointer to it (sched/name_stats.hpp).
  std::unique_ptr<name_stats> name_stats_;
  // Debug mode (runtime_options::debug, COREIO_DEBUG=1): the watchdog (started after the workers,
  // stopped before they are joined) and the pending-task report at shutdown.
  bool debug_ = false;
  std::unique_ptr<watchdog> watchdog_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  // Started after the workers, stopped in step 4.
  monitor monitor_;
  // Set once by the destructor (step 1). Read by spawns under the registry's shard locks, and by
  // blocking submits (relaxed: an early refusal only; the pool's own lock is the barrier, step 3b).
  std::atomic<bool> closing_{false};
  // Set once by the destructor (step 4). Read by workers when idle; acquire/release pair.
  std::atomic<bool> stopping_{false};
  // Calls in progress that touch this runtime after making work ready (step 5).
  std::atomic<std::int64_t> remote_{0};
  // Spawns from threads that are not workers (workers count their own).
  std::atomic<std::uint64_t> external_spawned_{0};
  // Step 3's wait.
  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
};

inline remote_call::remote_call(runtime_impl& rt) noexcept : rt_(rt) { rt_.remote_enter(); }
inline remote_call::~remote_call() { rt_.remote_exit(); }

template <class F>
void worker::post(F&& f) {
  remote_call guard(rt_);
  io_begin();
  asio::post(remote_.ioc_, [this, f = std::forward<F>(f)]() mutable {
    io_end();
    f();
  });
}

inline void worker::post_op(asio::detail::scheduler_operation* op) noexcept {
  remote_call guard(rt_);
  io_begin();
  asio::use_service<asio::detail::scheduler>(remote_.ioc_).post_immediate_completion(op, false);
}

}  // namespace coreio::detail
