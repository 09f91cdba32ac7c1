// sched/monitor.hpp — the runtime's monitor thread: nothing waits behind a busy worker.
//
// A worker runs one task at a time and nobody preempts it, so a task that computes for 400 ms
// holds back what is queued on that worker: the task it just woke (Tokio issue 4941) and the sleeps
// in its timer queue (Tokio issue 4730). Idle workers would take such work if they knew of it; the
// monitor tells them. Every tick (runtime_options::monitor_interval, 1 ms by default) it reads each
// worker's poll sequence (worker.hpp); a worker that is inside the same poll as at the previous
// tick is stuck in a long poll, and
//   - if tasks wait in its run queue or fork deque, the monitor wakes one parked worker (a notify,
//     as a spawn would): it searches and steals them, within about a tick;
//   - if a sleep in its timer queue is due, the monitor fires it itself (time/timer.cpp,
//     timer_fire_due): the sleeper goes to the global queue, where an idle worker takes it. (A
//     sleep a tick late on a worker that is inside a poll, stuck or not, is fired the same way.)
// A worker that never ran out of local work during the whole tick (its drained count unchanged)
// and still has tasks queued has a backlog that outlasted the tick: the monitor wakes a parked
// worker for it too. This is the bound on runtime_options::wake_backlog, which leaves a smaller
// backlog to its own worker instead of waking a helper at once: such a backlog waits at most
// about a tick for help.
// It also reads each worker's event-loop poll count: a loop with IO pending that nobody polled for
// a whole tick, and whose token nobody holds (its owner is preempted by the OS, or busy in long
// polls), is marked stale and a parked worker is woken; the next worker to run maintenance takes
// the loop's token and polls it, and the IO completions there make their tasks ready on that
// worker (worker.hpp, "Loop stealing"). A worker stuck in a long poll then no longer holds its
// sockets; one that the OS descheduled inside a loop step (a read's recv) still holds its token.
// (Go's runtime has the same thread, sysmon, for the same reasons.)
//
// Cost: the thread wakes once a tick while any worker is awake and reads a few words per worker;
// the workers' hot paths do nothing for it but bump their poll sequence. When every worker has
// been parked for deep_sleep_ticks ticks in a row, it sleeps until a worker unparks (park.cpp
// calls resume_after_unpark, one load when the monitor is awake). Not started with one worker:
// there is nobody to hand the work to.
//
// Thread safety: the constructor and stop() from the runtime's owner thread; resume_after_unpark
// from any worker.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace coreio::detail {

class runtime_impl;

class monitor {
 public:
  monitor(runtime_impl& rt, std::chrono::microseconds interval);
  ~monitor();
  monitor(const monitor&) = delete;
  monitor& operator=(const monitor&) = delete;

  /// Whether the thread runs: two workers or more and a positive interval. With one worker there
  /// is no one to wake for a backlog (worker.cpp, wake_backlog_).
  static bool runs(std::chrono::microseconds interval, std::uint32_t workers) noexcept {
    return interval.count() > 0 && workers >= 2;
  }

  /// Starts the thread (after the workers exist). No-op unless runs().
  void start();
  /// Stops and joins the thread. Idempotent.
  void stop();

  /// Called by a worker that has just unparked: wakes the monitor from its deep sleep.
  void resume_after_unpark() noexcept {
    // seq_cst: the worker's half of a Dekker pair with the monitor going to sleep (it stores
    // deep_ and then reads the sleeper count; the worker changed the sleeper count before this
    // load), so either the monitor sees the worker awake or the worker sees deep_.
    if (deep_.load(std::memory_order_seq_cst)) wake_from_deep();
  }

 private:
  void run();
  void tick(std::chrono::steady_clock::time_point now);
  void wake_from_deep();

  /// Ticks with every worker parked before the deep sleep.
  static constexpr std::uint32_t deep_sleep_ticks = 50;

  runtime_impl& rt_;
  const std::chrono::microseconds interval_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  bool stop_ = false;
  // True while the monitor sleeps until a worker unparks. Writers: the monitor (under mu_), a
  // waking worker (under mu_). Reader: every unparking worker, without the lock.
  std::atomic<bool> deep_{false};
  // The monitor thread only: each worker's poll sequence at the previous tick.
  std::vector<std::uint64_t> last_seq_;
  // The monitor thread only: each worker's event-loop poll count at the previous tick.
  std::vector<std::uint64_t> last_loop_polls_;
  // The monitor thread only: how often each worker had run out of local work, at the previous tick.
  std::vector<std::uint64_t> last_drained_;
};

}  // namespace coreio::detail
