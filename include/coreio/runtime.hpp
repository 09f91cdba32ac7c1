// coreio/runtime.hpp — the runtime: a pool of worker threads, each with its own event loop.
//
// Threading model (the rest of the API refers to it):
//   * A runtime has N workers. Each worker thread owns an asio::io_context (its event loop: timers,
//     sockets), a run queue (a bounded FIFO ring of ready tasks) and a fork deque (Chase-Lev, for
//     gather's children, popped newest-first).
//   * A task that becomes ready on a worker (spawned, woken, yielding) goes to the back of that
//     worker's run queue; a full ring moves its older half to the global queue. Idle workers
//     steal the older half of another's run queue or fork deque. Tasks spawned from other threads
//     go through the global queue. (README, "Threading model".)
//   * A coroutine always runs on some worker; after a suspension it may resume on another one.
//     "Worker only" functions must be called from a task running on a worker.
//   * Blocking calls do not run on workers: coreio::to_thread (to_thread.hpp) hands them to the
//     runtime's blocking pool, plain threads started on demand (up to blocking_threads) that exit
//     after blocking_keep_alive without work. They are not workers: this_worker() is null there,
//     current_worker() is -1, coreio::spawn / to_thread throw usage_error.
//   * Destroying a runtime cancels every task still running, waits for them to unwind, then waits
//     for the blocking calls still running and joins the pool's threads, then joins the worker
//     threads. A task that never reaches a suspension point cannot be interrupted, nor can a
//     blocking call: both hold the destructor until they return.
//
// Thread safety: distinct objects: safe. Shared objects: spawn(), metrics() from any thread;
// block_on() from any thread that is not a worker; destruction from a thread that is not a worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/spawned_task.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/metrics.hpp>
#include <coreio/task.hpp>

namespace coreio {
enum class task_dump_format : unsigned char;
}  // namespace coreio

namespace coreio {

/// How to build a runtime. Designated initialisers: runtime_options{.workers = 4}.
struct runtime_options {
  /// Worker threads; 0 means one per hardware thread.
  std::size_t workers = 0;
  /// A busy worker looks at the global queue every this many task polls (fairness).
  std::uint32_t global_queue_interval = 61;
  /// A busy worker checks its timers and polls its event loop every this many task polls.
  std::uint32_t event_interval = 61;
  /// A worker's own wake-ups (an IO completion, a fired sleep, a lock or event it hands over)
  /// wake a parked worker to help only when this many tasks already wait in its run queue. A
  /// smaller backlog stays with the worker, which runs it next with its sockets and caches warm;
  /// one that outlasts a monitor tick wakes a parked worker then (monitor_interval). 1: every
  /// wake-up that finds another task waiting asks (Tokio's rule). Spawns and gather's children
  /// always ask. Taken as 1 when the monitor is off. Why 64 (echo through serve(), 2 workers on 2
  /// CPUs shared with the load generator, 50 connections, round trips a second and p99): 1 gave
  /// 83-84k at 1.0-1.1 ms, 4 89k at 0.8 ms, 16 98-100k at 0.8 ms, 64 106k at 0.6 ms; the run
  /// queue holds 256 (local_queue_capacity).
  std::uint32_t wake_backlog = 64;
  /// Capacity of each worker's run queue and of its fork deque (a power of two); the excess
  /// overflows to the global queue.
  std::uint32_t local_queue_capacity = 256;
  /// Most threads the blocking pool (to_thread) runs at once; >= 1. Calls beyond it queue (FIFO)
  /// until a pool thread is free. Each thread costs a stack (8 MiB of address space by default).
  std::size_t blocking_threads = 64;
  /// A blocking-pool thread that has found no job for this long exits; the next call beyond the
  /// live threads starts a new one. >= 0.
  std::chrono::milliseconds blocking_keep_alive{10'000};
  /// Tick of the monitor thread, which finds a worker stuck in one long poll and hands its queued
  /// tasks and due sleeps to idle workers (so they wait about one tick, not the whole poll).
  /// Zero turns it off. Not started with one worker.
  std::chrono::microseconds monitor_interval{1000};
  /// Tracing (README, "Profiling"): when not empty, every worker records its polls, parks,
  /// steals, spawns and wakes into a ring of its own, and the runtime writes them to this file as
  /// Chrome Trace Event JSON (Perfetto, chrome://tracing, tools/coreio-trace) when it shuts down.
  /// Empty: the environment variable COREIO_TRACE, if set, names the file; otherwise off.
  std::string trace_path{};
  /// Events each worker's ring keeps (32 bytes each); the oldest are overwritten beyond it.
  std::size_t trace_events = std::size_t{1} << 18;
  /// Debug mode (asyncio's): warnings through the log sink (log.hpp) naming the task and its
  /// spawn place when one poll runs longer than slow_callback_duration, when a worker has been
  /// inside one poll that long (a watchdog thread finds the blocked worker while it is blocked),
  /// and, at shutdown, for every task still pending. Also on when COREIO_DEBUG=1.
  bool debug = false;
  /// Detailed metrics (README, "Profiling"): per worker, histograms of poll time and of the delay
  /// from a task's wake (or spawn) to its poll; per task name, tasks spawned, completed, failed,
  /// alive and their busy time (runtime_metrics, metrics_text). Costs two steady_clock reads per
  /// poll and one per wake. Also on when COREIO_METRICS=1. Needs the tracer's hooks compiled in
  /// (CMake's COREIO_TRACE, on by default).
  bool metrics_histograms = false;
  /// Binds worker i to one CPU: the (i mod n)-th of the n CPUs the process may run on (its
  /// affinity mask when the runtime is built), so that the OS neither stacks two workers on one
  /// CPU nor migrates them. Each worker owns its sockets' event loop, so a worker descheduled
  /// behind another worker on the same CPU stalls every connection it owns. Off by default: on a
  /// machine shared with other busy processes a pinned worker cannot move away from them. Best
  /// effort: a worker whose binding the OS refuses runs unbound. Also on when
  /// COREIO_PIN_WORKERS=1.
  bool pin_workers = false;
  /// Debug mode's threshold (asyncio's slow_callback_duration, 100 ms there too). > 0.
  std::chrono::milliseconds slow_callback_duration{100};
};

class runtime {
 public:
  /// Starts the worker threads.
  explicit runtime(runtime_options options = {});
  /// Cancels every task still running, waits for them to end, waits for the blocking calls still
  /// running (to_thread) and joins the blocking pool, joins the workers. Not from a worker, nor
  /// from a blocking-pool thread of this runtime (it would join itself: abort).
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Runs t to completion on the pool and returns its result or rethrows its exception.
  /// Not from a worker thread (usage_error: it would deadlock that worker).
  template <class T>
  T block_on(task<T> t) {
    if (detail::this_worker() != nullptr) {
      detail::throw_usage("runtime::block_on on a worker thread would deadlock; co_await instead");
    }
    return spawn(std::move(t)).get();
  }
  /// Runs any awaitable to completion the same way (`rt.block_on(coreio::wait_for(f(), 1s))`,
  /// asyncio.run(asyncio.wait_for(...))): it is awaited in a task of its own. An lvalue awaitable
  /// is referenced; it outlives the call.
  template <class A>
    requires(!detail::is_task_v<std::remove_cvref_t<A>>)
  auto block_on(A&& aw) {
    return block_on(detail::as_task(std::forward<A>(aw)));
  }

  /// Spawns t on the pool. Any thread. Throws runtime_closed once shutdown has begun. `where`
  /// and `name`: as coreio::spawn (spawn.hpp).
  template <class T>
  join_handle<T> spawn(task<T> t, std::source_location where = std::source_location::current()) {
    return detail::spawn_task(impl_.get(), std::move(t), {0, where});
  }
  template <class T>
  join_handle<T> spawn(task<T> t, std::string_view name,
                       std::source_location where = std::source_location::current()) {
    return detail::spawn_task(impl_.get(), std::move(t), {detail::intern_task_name(name), where});
  }
  /// Spawns a task that awaits aw (an rvalue: the task owns it; an lvalue could dangle).
  template <class A>
    requires(!detail::is_task_v<std::remove_cvref_t<A>>)
  auto spawn(A&& aw, std::source_location where = std::source_location::current()) {
    static_assert(!std::is_lvalue_reference_v<A>,
                  "runtime::spawn of an lvalue awaitable: the task would outlive it; move it in");
    return spawn(detail::as_task(std::forward<A>(aw)), where);
  }

  /// A snapshot of the counters. Any thread; cheap.
  runtime_metrics metrics() const;

  /// True when this runtime records a trace (runtime_options::trace_path, COREIO_TRACE).
  bool tracing() const noexcept;
  /// Writes the trace recorded so far (the newest trace_events per worker) to path as Chrome
  /// Trace Event JSON. Any thread. Throws usage_error when tracing is off, std::system_error when
  /// the file cannot be written.
  void write_trace(const std::string& path) const;

  /// The number of worker threads.
  std::size_t workers() const noexcept;

 private:
  friend std::string dump_tasks(const runtime& rt, task_dump_format format);
  std::unique_ptr<detail::runtime_impl> impl_;
};

/// asyncio.run: builds a runtime, runs t to completion on it, shuts it down, returns t's result.
template <class T>
T run(task<T> t, runtime_options options = {}) {
  runtime rt{options};
  return rt.block_on(std::move(t));
}
/// coreio::run of any awaitable (`coreio::run(coreio::when_any(f(), g()))`).
template <class A>
  requires(!detail::is_task_v<std::remove_cvref_t<A>>)
auto run(A&& aw, runtime_options options = {}) {
  return run(detail::as_task(std::forward<A>(aw)), options);
}

}  // namespace coreio
