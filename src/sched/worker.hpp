// sched/worker.hpp — one worker thread: its queues, timers, event loop and run loop.
//
// State is split by who may touch it, in two types (Tokio's Core / Remote split):
//   worker_remote  any thread: the stealer ends of the run queue and the fork deque, the timer
//                  queue, the event loop (post, wake), the poll sequence and the counters.
//                  runtime_impl::remote(i) hands it out to thieves, the monitor and metrics.
//   worker         the worker thread only: the owner ends of its queues, the poll countdowns, the
//                  RNG, the searching flag, the parking wake timer, the global queue's tokens.
//                  Reached only through this_worker(), that is from the thread itself.
//
// Where a ready task waits (the order of the run loop below is the order tasks run in):
//   run queue   (run_queue.hpp, FIFO) every task that became ready on this worker: spawns,
//               wake-ups, fired timers, IO completions, yields. Tasks run in the order they became
//               ready, as in asyncio.
//   fork deque  (fork_deque.hpp, LIFO) gather's children: the owner runs the newest first, so
//               fork-join runs depth-first in little memory.
//   global      (global_queue.hpp) tasks from other threads, overflow, the monitor's rescues.
//
// Run loop (run()):
//   1. Every global_queue_interval ticks, take one task from the global queue first (fairness).
//   2. Every event_interval ticks, fire due timers and, if any IO or posted operation is pending,
//      poll the event loop without blocking.
//   3. Pop the run queue (oldest first); if it is empty, pop the fork deque (newest first).
//   4. Out of local work: fire timers / poll; then take a batch from the global queue; then, as one
//      of at most half the workers, steal half of a random victim's run queue, or of its deque.
//   5. Nothing anywhere: park (park.hpp's protocol) in io_context::run_one(), which returns on a
//      wake-up post, this worker's earliest timer or an IO completion.
// A yield (yield_now, or an operation whose budget is spent: detail/coop.hpp) goes to the back of
// the run queue, behind the forked children too (they are moved to the run queue first), so that
// every task ready at that moment runs before the yielder.
//
// Each poll is bracketed by the poll sequence (odd while a task runs). The monitor
// (monitor.hpp) reads it to find a worker stuck in one long poll, and then wakes an idle worker
// to steal its queued tasks and fires its due timers itself.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <thread>

#include <coreio/metrics.hpp>
#include <coreio/runtime.hpp>

#include "sched/fork_deque.hpp"
#include "sched/global_queue.hpp"
#include "sched/histogram.hpp"
#include "sched/name_stats.hpp"
#include "sched/run_queue.hpp"
#include "time/timer_queue.hpp"
#include "trace/poll_clock.hpp"
#include "trace/tracer.hpp"

namespace coreio::detail {

/// A counter written by one thread and read by any: relaxed load + store, no RMW needed.
class owned_counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    // Relaxed: single writer; readers want a recent value, not an ordering.
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

/// The part of a worker that other threads may touch.
class worker_remote {
 public:
  explicit worker_remote(const runtime_options& options)
      : run_(options.local_queue_capacity), forks_(options.local_queue_capacity) {}
  worker_remote(const worker_remote&) = delete;
  worker_remote& operator=(const worker_remote&) = delete;

  run_queue::stealer run_stealer() noexcept { return run_queue::stealer(run_); }
  fork_deque::stealer fork_stealer() noexcept { return fork_deque::stealer(forks_); }
  /// Tasks waiting in this worker's run queue and fork deque (approximate).
  std::uint64_t queued() const noexcept {
    return run_.size() + static_cast<std::uint64_t>(forks_.size());
  }
  timer_queue& timers() noexcept { return timers_; }

  /// The worker's event loop: IO objects owned by this worker are bound to it.
  asio::io_context& io() noexcept { return ioc_; }
  /// An IO operation was started on this loop / its handler ran (keeps a busy worker polling).
  void io_begin() noexcept { io_ops_.fetch_add(1, std::memory_order_relaxed); }
  void io_end() noexcept { io_ops_.fetch_sub(1, std::memory_order_relaxed); }
  /// Unblocks run_one() if the worker is parked (or makes its next one return at once).
  void wake();

  /// The poll sequence: odd while a task runs; +2 per poll. Any thread; relaxed (a progress
  /// probe for the monitor and the polls metric; nothing is published through it).
  std::uint64_t poll_sequence() const noexcept { return poll_seq_.load(std::memory_order_relaxed); }

  worker_metrics snapshot() const;
  /// The monitor's counters for this worker. The monitor thread only.
  void count_stuck_with_queued() noexcept { stuck_with_queued_.add(); }
  void count_fired_by_monitor(std::uint64_t n) noexcept { monitor_fired_.add(n); }
  std::uint64_t spawned() const noexcept { return spawned_.get(); }
  std::uint64_t completed() const noexcept { return completed_.get(); }

 private:
  friend class worker;
  friend class watchdog;

  run_queue run_;
  fork_deque forks_;
  timer_queue timers_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
  // Operations posted to ioc_ (or IO started on it) whose handlers have not run yet; a busy worker
  // polls ioc_ only when this is non-zero. Writers: posters (fetch_add), owner (fetch_sub). Relaxed:
  // a hint; the handler's execution is ordered by asio's own queue lock.
  std::atomic<std::int64_t> io_ops_{0};
  // Writer: the owner (poll start and end). Readers: the monitor, metrics.
  std::atomic<std::uint64_t> poll_seq_{0};
  // Debug mode: the task of the poll in progress, for the watchdog (watchdog.hpp), a seqlock read
  // with one writer. The owner, after the poll_seq_ store that opens poll s: each field (release:
  // a reader that sees a later poll's field also sees that poll's poll_seq_), then debug_seq_ = s
  // (release: publishes the fields). The watchdog: debug_seq_ (acquire) must equal the poll it
  // watches, then the fields (acquire: the re-read of poll_seq_ after them stays after them), then
  // poll_seq_ again, unchanged, or it drops what it read.
  std::atomic<std::uint64_t> debug_task_id_{0};
  std::atomic<std::uint32_t> debug_task_name_{0};
  std::atomic<std::uint32_t> debug_task_line_{0};
  std::atomic<const char*> debug_task_file_{nullptr};
  std::atomic<std::uint64_t> debug_seq_{0};
  owned_counter steals_, steal_ops_, parks_, overflows_, busy_ns_, global_pulls_, timers_fired_,
      spawned_, completed_;
  // metrics_histograms only; written by the owner (histogram.hpp).
  owned_histogram poll_time_, wake_to_poll_;
  // Written by the monitor thread only (monitor.hpp).
  owned_counter stuck_with_queued_, monitor_fired_;
};

class worker {
 public:
  worker(runtime_impl& rt, std::uint32_t index, const runtime_options& options);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// The thread body.
  void run();
  /// Gives the worker its tracer ring (trace/tracer.hpp). Before its thread starts.
  void attach_trace(trace::trace_buffer* ring) noexcept {
    trace_ = ring;
    update_instrumented();
  }
  /// Debug mode: warn about polls longer than `threshold`. Before its thread starts.
  void enable_debug(std::chrono::nanoseconds threshold) noexcept {
    slow_poll_ns_ = static_cast<std::uint64_t>(threshold.count());
    update_instrumented();
  }
  /// metrics_histograms: time each poll and each wake-to-poll delay, and count busy time per task
  /// name into `names` (the runtime's). Before its thread starts.
  void enable_histograms(name_stats* names) noexcept {
    names_ = names;
    update_instrumented();
  }

  // ---- the worker thread only (reached through this_worker()) ------------------------------
  /// A task made ready here by a wake-up (a lock, an event, a future, a timer, IO): the back of the
  /// run queue. Wakes a parked worker only if other ready tasks wait before it (it would otherwise
  /// run next here; if this worker then stays busy, the monitor wakes one).
  void push_woken(std::coroutine_handle<> h) noexcept;
  /// A spawned task: the back of the run queue, waking a parked worker (new work to share).
  void push_spawned(std::coroutine_handle<> h) noexcept;
  /// A forked child (gather): the fork deque, waking a parked worker.
  void push_fork(std::coroutine_handle<> h) noexcept;
  /// yield_now: behind every task ready here, the forked children included.
  void push_yielded(std::coroutine_handle<> h) noexcept;
  /// The tracer's ring of this worker, or nullptr when tracing is off (trace/tracer.hpp).
  trace::trace_buffer* trace() const noexcept { return trace_; }
  /// The tracer's id of the task being polled here; 0 between polls.
  std::uint64_t trace_task() const noexcept { return trace_task_; }
  void count_spawned(std::uint64_t n) noexcept { remote_.spawned_.add(n); }
  void count_completed(std::uint64_t n = 1) noexcept { remote_.completed_.add(n); }

  // ---- any thread --------------------------------------------------------------------------
  worker_remote& remote() noexcept { return remote_; }
  asio::io_context& io() noexcept { return remote_.ioc_; }
  void io_begin() noexcept { remote_.io_begin(); }
  void io_end() noexcept { remote_.io_end(); }
  /// Runs f on this worker's thread, from its event loop. Any thread; counted as a remote call
  /// (runtime_impl.hpp, shutdown step 5) and as pending IO so that a busy worker polls for it.
  template <class F>
  void post(F&& f);
  /// post for an operation that lives in its owner's object (no allocation, so it cannot fail):
  /// its complete() runs on this worker's loop and must call io_end(). Any thread.
  void post_op(asio::detail::scheduler_operation* op) noexcept;
  /// Shutdown, after the worker thread has been joined: runs the handlers still queued on the
  /// loop (the deletes of sockets whose frames were freed while the workers stopped), so that
  /// none is dropped unrun by the io_context's destructor. Caller: the runtime's destructor.
  void run_leftovers() noexcept;
  runtime_impl& rt() const noexcept { return rt_; }
  std::uint32_t index() const noexcept { return index_; }

 private:
  friend class parker;

  std::coroutine_handle<> next_local() noexcept;
  std::coroutine_handle<> find_work();
  std::coroutine_handle<> pop_global_batch();
  std::coroutine_handle<> steal();
  void trace_steal(std::uint32_t victim, std::uint64_t tasks) noexcept;
  void execute(std::coroutine_handle<> h) noexcept;
  void execute_instrumented(std::coroutine_handle<> h) noexcept;
  void execute_traced(std::coroutine_handle<> h) noexcept;
  /// The tracer's poll_begin for h, about to be resumed (both execute paths above).
  void record_poll_begin(std::coroutine_handle<> h, std::uint64_t id) noexcept;
  void report_slow_poll(const trace::task_identity& who, std::uint64_t took_ns) noexcept;
  void woken_instrumented(std::coroutine_handle<> h) noexcept;
  void update_instrumented() noexcept {
    instrumented_ = trace_ != nullptr || slow_poll_ns_ != 0 || names_ != nullptr;
    trace_only_ = trace_ != nullptr && slow_poll_ns_ == 0 && names_ == nullptr;
  }
  bool maintenance();
  void park();
  void end_searching();
  void push_run(void* x) noexcept;
  void overflow_run(void* x) noexcept;
  void overflow_forks(void* x) noexcept;
  void notify_if_sleepers() noexcept;
  std::uint32_t next_random() noexcept;

  runtime_impl& rt_;
  const std::uint32_t index_;
  const std::uint32_t global_interval_;
  const std::uint32_t event_interval_;

  worker_remote remote_;

  // ---- the worker thread only --------------------------------------------------------------
  run_queue::owner run_{remote_.run_};
  fork_deque::owner forks_{remote_.forks_};
  // Polls left until the next global-queue check / event-loop poll (run loop steps 1 and 2).
  std::uint32_t until_global_;
  std::uint32_t until_event_;
  std::uint32_t rng_;
  bool searching_ = false;
  // Tracing (trace/tracer.hpp): this worker's ring (null: off), the task being polled, when its
  // polls read the clock (trace/poll_clock.hpp), and what a wake recorded now means (wake by that
  // task, or a timer or IO completion during maintenance).
  trace::trace_buffer* trace_ = nullptr;
  std::uint64_t trace_task_ = 0;
  trace::poll_clock trace_clock_;
  trace::kind wake_kind_ = trace::kind::wake;
  // Debug mode: the slow-poll threshold in ns (0: off). metrics_histograms: the runtime's per-name
  // counters (null: off). instrumented_: tracing, debug mode or histograms, the one branch the
  // poll path takes for all three.
  std::uint64_t slow_poll_ns_ = 0;
  name_stats* names_ = nullptr;
  bool instrumented_ = false;
  // Tracing alone, the common instrumented case: execute_traced, which reads nothing else.
  bool trace_only_ = false;
  asio::steady_timer wake_timer_{remote_.ioc_};
  bool wake_timer_armed_ = false;
  std::chrono::steady_clock::time_point wake_timer_deadline_{};
  std::chrono::steady_clock::time_point busy_since_{};
  global_queue::producer_token ptok_;
  global_queue::consumer_token ctok_;
};

}  // namespace coreio::detail
