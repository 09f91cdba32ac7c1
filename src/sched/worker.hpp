// sched/worker.hpp — one worker thread: its run loop, queues, timers and event loop.
//
// State is split by who may touch it (Tokio's core / remote split):
//   core    (owner thread only, plain fields): LIFO slot, tick counter, RNG, searching flag, timer
//           heap, queue tokens, wake-timer bookkeeping.
//   remote  (any thread): the steal end of the deque, the io_context (post), counters (relaxed
//           atomics written by the owner only, read by metrics()), io_ops_.
//
// Run loop (run()):
//   1. Every global_queue_interval ticks, take one task from the global queue first (fairness).
//   2. Every event_interval ticks, fire due timers and, if any IO or posted operation is pending,
//      poll the event loop without blocking.
//   3. Run the LIFO slot (at most 3 times in a row; the 4th goes to the back of the global queue so
//      that two tasks waking each other cannot starve the rest), else pop the deque, else move the
//      tasks that yielded (yield_now) back onto the deque, oldest on top.
//   4. Out of local work: fire timers / poll; then take a batch from the global queue; then, as one
//      of at most half the workers, steal half of a random victim's deque.
//   5. Nothing anywhere: park (idle.hpp's protocol) in io_context::run_one(), which returns on a
//      wake-up post, a timer (the earliest sleep of this worker) or an IO completion.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <thread>
#include <vector>

#include <coreio/metrics.hpp>
#include <coreio/runtime.hpp>
#include <coreio/time.hpp>

#include "sched/inject.hpp"
#include "sched/local_queue.hpp"
#include "time/timer_heap.hpp"

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

class worker {
 public:
  worker(runtime_impl& rt, std::uint32_t index, const runtime_options& options);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// The thread body.
  void run();

  // ---- owner thread only -------------------------------------------------------------------
  /// Makes h the next task to run here; the previous occupant of the slot goes to the deque.
  void schedule_lifo(std::coroutine_handle<> h) noexcept;
  /// Pushes h on the deque (overflowing half to the global queue if full) and maybe wakes a worker.
  void push_local(std::coroutine_handle<> h) noexcept;
  /// Puts h behind every task ready on this worker (yield_now).
  void yield_to_back(std::coroutine_handle<> h);
  void insert_timer(timer_entry* e) { timers_.insert(e); }
  void erase_timer(timer_entry* e) noexcept { timers_.erase(e); }
  void count_spawned(std::uint64_t n) noexcept { spawned_.add(n); }
  /// Takes one unit of the running task's budget (reset for every task poll); false when spent,
  /// so that operations that complete at once still let other tasks run (Tokio's coop budget).
  bool take_budget() noexcept { return budget_ != 0 && budget_-- != 0; }
  void count_completed() noexcept { completed_.add(); }

  // ---- any thread --------------------------------------------------------------------------
  /// The worker's event loop: IO objects owned by this worker are bound to it.
  asio::io_context& io() noexcept { return ioc_; }
  /// An IO operation was started on this loop / its handler ran (keeps a busy worker polling).
  void io_begin() noexcept { io_ops_.fetch_add(1, std::memory_order_relaxed); }
  void io_end() noexcept { io_ops_.fetch_sub(1, std::memory_order_relaxed); }
  /// Resumes the sleep e (already marked cancelled) on this worker's loop.
  void post_timer_cancel(timer_entry* e);
  /// Unblocks run_one() if the worker is parked (or makes its next one return at once).
  void wake();
  /// Shutdown, after the worker thread has been joined: runs the handlers still queued on the
  /// loop (the deletes of sockets whose frames were freed while the workers stopped), so that
  /// none is dropped unrun by the io_context's destructor. Caller: the runtime's destructor.
  void run_leftovers() noexcept;
  /// Runs f on this worker's thread, from its event loop. Any thread; counted as a remote call
  /// (runtime_impl.hpp, shutdown step 5) and as pending IO so that a busy worker polls for it.
  template <class F>
  void post(F&& f);
  runtime_impl& rt() const noexcept { return rt_; }
  std::uint32_t index() const noexcept { return index_; }
  local_queue& queue() noexcept { return queue_; }
  worker_metrics snapshot() const;
  std::uint64_t spawned() const noexcept { return spawned_.get(); }
  std::uint64_t completed() const noexcept { return completed_.get(); }

 private:
  std::coroutine_handle<> next_local() noexcept;
  std::coroutine_handle<> find_work();
  std::coroutine_handle<> pop_global_batch();
  std::coroutine_handle<> steal();
  void execute(std::coroutine_handle<> h) noexcept;
  bool maintenance();
  bool fire_timers(std::chrono::steady_clock::time_point now);
  void park();
  bool work_visible() const;
  void arm_wake_timer();
  void end_searching();
  void overflow(void* x) noexcept;
  bool flush_yielded() noexcept;
  std::uint32_t next_random() noexcept;

  runtime_impl& rt_;
  const std::uint32_t index_;
  const std::uint32_t global_interval_;
  const std::uint32_t event_interval_;

  // ---- remote ------------------------------------------------------------------------------
  local_queue queue_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
  // Operations posted to ioc_ (or IO started on it) whose handlers have not run yet; a busy worker
  // polls ioc_ only when this is non-zero. Writers: posters (fetch_add), owner (fetch_sub). Relaxed:
  // a hint; the handler's execution is ordered by asio's own queue lock.
  std::atomic<std::int64_t> io_ops_{0};
  owned_counter polls_, steals_, steal_ops_, parks_, overflows_, busy_ns_, global_pulls_,
      timers_fired_, spawned_, completed_;

  // ---- core (owner thread only) ------------------------------------------------------------
  std::coroutine_handle<> lifo_{};
  std::uint32_t lifo_streak_ = 0;
  std::uint32_t tick_ = 0;
  // Operations the running task may still complete without suspending (take_budget).
  std::uint32_t budget_ = 0;
  std::uint32_t rng_;
  bool searching_ = false;
  timer_heap timers_;
  asio::steady_timer wake_timer_{ioc_};
  // Tasks that yielded, oldest first. They go back on the deque (where thieves can take them) when
  // it runs dry, or every global_queue_interval ticks, so that each ready task runs once before a
  // yielder runs again.
  std::vector<void*> yielded_;
  bool wake_timer_armed_ = false;
  std::chrono::steady_clock::time_point wake_timer_deadline_{};
  std::chrono::steady_clock::time_point busy_since_{};
  inject_queue::producer_token ptok_;
  inject_queue::consumer_token ctok_;
};

}  // namespace coreio::detail
