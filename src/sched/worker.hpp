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
//   global      (global_queue.hpp) tasks from other threads, overflow (the run queue's older
//               half, which its worker takes back first: step 3), the monitor's rescues.
// An entry is a frame's address; a spawned task's or forked child's first run carries a mark that
// execute() reads (first_run.hpp: one cancelled before it first ran never runs its body).
//
// Run loop (run()):
//   1. Every global_queue_interval ticks, take one task from the global queue first (fairness).
//   2. Every event_interval ticks, fire due timers and, if any IO or posted operation is pending,
//      poll the event loop without blocking.
//   3. Pop the run queue (oldest first); if it is empty, pop the fork deque (newest first). While
//      tasks that an overflow of the run queue moved to the global queue are left (spilled_),
//      take those first: they are older than the run queue's (overflow_run), so a run queue that
//      overflows still runs tasks in the order they became ready.
//   4. Out of local work: fire due timers (and poll another worker's stale loop); then take a batch
//      from the global queue; then, as one of at most half the workers, steal half of a random
//      victim's run queue, or of its deque.
//   5. Nothing anywhere: park (park.hpp's protocol) in io_context::run_one(), which returns on a
//      wake-up post, this worker's earliest timer or an IO completion; it runs a completion that
//      is ready already without blocking. Step 4 does not poll the worker's own loop: that poll's
//      epoll_wait(0) was a second syscall per idle turn beside run_one's (echo, 2 workers: 0.72
//      epoll_wait per round trip against Tokio's 0.30; without it 0.32, and 4-13% more round
//      trips a second for 5-9% less CPU time per round trip).
// A yield (yield_now, or an operation whose budget is spent: detail/coop.hpp) goes to the back of
// the run queue, behind the forked children too (they are moved to the run queue first), so that
// every task ready at that moment runs before the yielder.
//
// Loop stealing. A worker's event loop holds the IO of the sockets it owns; asio runs a loop's
// steps one at a time. A worker that the OS preempted, or that is stuck in one long poll, would
// leave that IO waiting until it comes back (the tail behind a busy worker). So a loop's steps are
// not tied to its thread but to its loop token (loop_holder_): a worker runs a step of loop L (a
// poll of L, starting, cancelling or closing an operation on an object of L, a read deadline's
// step, a look at a socket's readiness) only while it holds L's token (loop_hold), and every such
// step of every thread is then serialised by the token, as asio and the sockets' own state
// (stream.cpp, "Read readiness") need. The owner takes its token to poll and to park (it holds it
// while blocked in run_one, so that nobody else runs the loop then). A task's operation is started
// inline if the task runs on the owner, else posted to the loop, as long as the owner is there. The
// monitor marks a loop stale when a whole tick passed without a poll while operations were pending
// and nobody held the token (monitor.hpp), and wakes a parked worker; then every worker's
// maintenance polls the stale loop if it can take the token (poll_stale_loops), and any worker
// starts its task's operations on that loop inline, until the owner polls its loop again and so
// ends the mark. A completion handler makes its task ready on the worker that runs the handler: a
// stolen poll hands the tasks to the idle stealer. A stream's send needs no token (src/net/
// stream.cpp, "Writes"), nor a connect's connect(2) (src/net/sockets.hpp, connect_op: nothing
// else knows the new socket), nor a read's recv on another worker while the socket's readiness
// stands (stream.cpp, "Read readiness", step 7). Limit: clearing the readiness (a recv that
// would block, then the wait queued) is a step under the token, so the owner's recvs are made
// under it, and a worker that the OS deschedules inside one still holds its loop. Taking that
// out of the token needs readiness that any thread may clear (Tokio's ScheduledIo tick) and a
// read wait that stays queued.
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

#include <coreio/detail/sched_hooks.hpp>
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

  /// The worker's event loop: IO objects owned by this worker are bound to it. Its steps (a poll,
  /// starting or cancelling an operation on one of its objects) need the loop token (loop_hold).
  asio::io_context& io() noexcept { return ioc_; }
  /// The loop token ("Loop stealing" above): `me` (a worker) takes it if nobody holds it. True
  /// also when `me` holds it already; `acquired` then says false (the outer holder releases).
  bool hold_loop(const worker* me, bool& acquired) noexcept {
    // Relaxed: a holder only ever sees its own store here (no other thread changes the token
    // while we hold it), and any other value only makes us try the CAS or give up.
    const worker* cur = loop_holder_.load(std::memory_order_relaxed);
    acquired = false;
    if (cur == me) return me != nullptr;
    if (cur != nullptr || me == nullptr) return false;
    // Acquire: the previous holder's steps on the loop and its objects (the release below)
    // happen-before ours.
    acquired = loop_holder_.compare_exchange_strong(cur, me, std::memory_order_acquire,
                                                    std::memory_order_relaxed);
    return acquired;
  }
  void release_loop() noexcept {
    // Release: publishes our steps on the loop and its objects to the next holder.
    loop_holder_.store(nullptr, std::memory_order_release);
  }
  /// Polls the loop (the caller holds the token) and counts the poll for the monitor's staleness
  /// probe. The owner's own poll ends a stale mark (it is back); a stealer's leaves it, so that
  /// the other workers go on polling the loop at each maintenance while its owner is away.
  /// Returns how many handlers ran.
  std::size_t poll_loop(bool by_owner) {
    count_loop_poll(by_owner);
    return ioc_.poll();
  }
  /// Counts a poll of the loop (poll_loop, or the owner's run_one in park) for the monitor; the
  /// owner's ends a stale mark. The caller holds the token.
  void count_loop_poll(bool by_owner) noexcept {
    // Relaxed: a progress probe (single writer at a time: the token holder); the monitor compares.
    loop_polls_.store(loop_polls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (by_owner && loop_stale_.load(std::memory_order_relaxed))
      loop_stale_.store(false, std::memory_order_relaxed);
  }
  /// True if `me` holds the token now. Relaxed: only `me` can make it true (see hold_loop).
  bool loop_held_by(const worker* me) const noexcept {
    return me != nullptr && loop_holder_.load(std::memory_order_relaxed) == me;
  }
  /// True if the monitor found this loop unpolled for a whole tick with operations pending and the
  /// token free. Relaxed: a hint; a stealer still has to take the token.
  bool loop_stale() const noexcept { return loop_stale_.load(std::memory_order_relaxed); }
  /// The monitor's probe: polls of the loop so far, and whether it could be stolen now (operations
  /// pending, token free). Relaxed: hints, re-checked by the stealer through the token.
  std::uint64_t loop_polls() const noexcept { return loop_polls_.load(std::memory_order_relaxed); }
  bool loop_waits() const noexcept {
    return io_ops_.load(std::memory_order_relaxed) > 0 &&
           loop_holder_.load(std::memory_order_relaxed) == nullptr;
  }
  void mark_loop_stale() noexcept { loop_stale_.store(true, std::memory_order_relaxed); }
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
  owned_counter& fired_by_monitor_counter() noexcept { return monitor_fired_; }
  std::uint64_t spawned() const noexcept { return spawned_.get(); }
  std::uint64_t completed() const noexcept { return completed_.get(); }
  std::uint64_t drained() const noexcept { return drained_.get(); }

 private:
  friend class worker;
  friend class watchdog;

  run_queue run_;
  fork_deque forks_;
  timer_queue timers_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
  // The loop token: the worker running a step of ioc_ (null: nobody). hold_loop / release_loop.
  // Its own cache line with the poll count: the owner writes both for each IO step and poll.
  alignas(64) std::atomic<const worker*> loop_holder_{nullptr};
  // Polls of ioc_ by any holder (the monitor's probe).
  std::atomic<std::uint64_t> loop_polls_{0};
  // The monitor's mark that no poll came for a tick (monitor.hpp). Its own cache line: every other
  // worker reads it at each maintenance, and it is written only when it changes.
  alignas(64) std::atomic<bool> loop_stale_{false};
  // Operations posted to ioc_ (or IO started on it) whose handlers have not run yet; a busy worker
  // polls ioc_ only when this is non-zero. Writers: posters (fetch_add), owner (fetch_sub). Relaxed:
  // a hint; the handler's execution is ordered by asio's own queue lock.
  std::atomic<std::int64_t> io_ops_{0};
  // Writer: the owner (poll start and end). Readers: the monitor, metrics.
  // (Its own cache line, away from loop_stale_: the owner writes it twice a poll.)
  alignas(64) std::atomic<std::uint64_t> poll_seq_{0};
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
  owned_counter steals_, steal_ops_, loop_steals_, parks_, overflows_, busy_ns_, global_pulls_,
      timers_fired_, spawned_, completed_;
  // Times the owner found its run queue and fork deque empty (run loop step 4). The monitor reads
  // it across a tick: unchanged with tasks queued means a backlog that outlasted the tick.
  owned_counter drained_;
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
  /// A spawned task: the back of the run queue, waking a parked worker (new work to share). Its
  /// entry is marked as a first run (sched/first_run.hpp).
  void push_spawned(std::coroutine_handle<> h) noexcept;
  /// A forked child (gather), not run yet: the fork deque, waking a parked worker. Its entry is
  /// marked as a first run (sched/first_run.hpp).
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
  /// Runs f as a step of this worker's event loop: on this worker's thread, or on a worker that
  /// polls the loop in its stead ("Loop stealing"). Any thread; counted as a remote call
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
  /// Fires due timers, polls this worker's loop if `poll_loop` and IO is pending, and polls the
  /// stale loops of others. True if it made anything ready.
  bool maintenance(bool poll_loop);
  bool poll_stale_loops();
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
  // runtime_options::wake_backlog (1 without a monitor): push_woken asks for help from this many.
  const std::uint32_t wake_backlog_;

  worker_remote remote_;

  // ---- the worker thread only --------------------------------------------------------------
  run_queue::owner run_{remote_.run_};
  fork_deque::owner forks_{remote_.forks_};
  // Polls left until the next global-queue check / event-loop poll (run loop steps 1 and 2).
  std::uint32_t until_global_;
  std::uint32_t until_event_;
  // Tasks this worker's run-queue overflows moved to the global queue and that it has not taken
  // back yet (an estimate: other workers may take some): while non-zero, it takes from the global
  // queue before its own run queue (overflow_run).
  std::size_t spilled_ = 0;
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

/// Holds an event loop's token for a scope if the calling worker can take it, or holds it already
/// (worker.hpp, "Loop stealing"): then it may run that loop's steps here. Empty on a thread that is
/// not a worker, or while another worker holds the token. Thread safety: a scope object of the
/// thread that made it (it releases what that thread acquired); the token itself is atomic.
class loop_hold {
 public:
  /// For the loop's polls: the owner (maintenance, park) and a stealer of a stale loop.
  explicit loop_hold(worker_remote& loop) noexcept
      : loop_(loop), held_(loop.hold_loop(this_worker(), acquired_)) {}
  /// For a step that the running task (or a handler) would run inline on owner's loop: taken by the
  /// owner itself, by a worker that holds the token already (a handler of a poll it runs), or by
  /// another worker while the monitor has the loop marked stale (its owner away); otherwise empty,
  /// and the caller posts the step to the loop. (Another worker taking a busy owner's token makes
  /// the owner skip its polls and post its own IO: echo's p99 grew by about 0.4 ms when any worker
  /// could.)
  explicit loop_hold(worker* owner) noexcept : loop_(owner->remote()) {
    const worker* const me = this_worker();
    if (me == owner || loop_.loop_stale() || loop_.loop_held_by(me)) {
      held_ = loop_.hold_loop(me, acquired_);
    }
  }
  loop_hold(const loop_hold&) = delete;
  loop_hold& operator=(const loop_hold&) = delete;
  ~loop_hold() {
    if (acquired_) loop_.release_loop();
  }
  explicit operator bool() const noexcept { return held_; }

 private:
  worker_remote& loop_;
  bool acquired_ = false;
  bool held_ = false;
};

}  // namespace coreio::detail
