// sched/monitor.cpp — the monitor thread (protocol: monitor.hpp).
#include "sched/monitor.hpp"

#include <coreio/detail/saturating_time.hpp>

#include <pthread.h>

#include "runtime_impl.hpp"
#include "time/timer_queue.hpp"

namespace coreio::detail {

monitor::monitor(runtime_impl& rt, std::chrono::microseconds interval)
    : rt_(rt), interval_(interval) {}

monitor::~monitor() { stop(); }

void monitor::start() {
  if (!runs(interval_, rt_.worker_count())) return;
  last_seq_.assign(rt_.worker_count(), 0);
  last_loop_polls_.assign(rt_.worker_count(), 0);
  last_drained_.assign(rt_.worker_count(), 0);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "coreio-monitor");
    run();
  });
}

void monitor::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void monitor::wake_from_deep() {
  {
    std::lock_guard<std::mutex> g(mu_);
    // Relaxed: under mu_, which the monitor holds while it tests the flag before waiting.
    deep_.store(false, std::memory_order_relaxed);
  }
  cv_.notify_all();
}

void monitor::run() {
  std::uint32_t all_parked = 0;
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    if (all_parked >= deep_sleep_ticks) {
      // seq_cst store, then the seq_cst re-check of the sleeper count: the monitor's half of the
      // Dekker pair in resume_after_unpark.
      deep_.store(true, std::memory_order_seq_cst);
      if (rt_.idle_state().sleeping() == rt_.worker_count()) {
        cv_.wait(lk, [this] { return stop_ || !deep_.load(std::memory_order_relaxed); });
      }
      deep_.store(false, std::memory_order_relaxed);
      all_parked = 0;
      continue;
    }
    cv_.wait_for(lk, interval_, [this] { return stop_; });
    if (stop_) break;
    lk.unlock();
    tick(std::chrono::steady_clock::now());
    all_parked = rt_.idle_state().sleeping() == rt_.worker_count() ? all_parked + 1 : 0;
    lk.lock();
  }
}

void monitor::tick(std::chrono::steady_clock::time_point now) {
  bool stuck_with_work = false;
  for (std::uint32_t i = 0; i < rt_.worker_count(); ++i) {
    worker_remote& w = rt_.remote(i);
    // An event loop with IO pending, unpolled since the last tick and free to take: stale.
    const std::uint64_t loop_polls = w.loop_polls();
    if (loop_polls == last_loop_polls_[i] && w.loop_waits()) {
      w.mark_loop_stale();
      stuck_with_work = true;
    }
    last_loop_polls_[i] = loop_polls;
    const std::uint64_t seq = w.poll_sequence();
    const bool in_poll = (seq & 1) != 0;
    const bool stuck = in_poll && seq == last_seq_[i];
    last_seq_[i] = seq;
    if (stuck && w.queued() != 0) {
      stuck_with_work = true;
      w.count_stuck_with_queued();
    }
    // Never out of local work for a whole tick, with tasks waiting: a backlog that outlasted the
    // tick (runtime_options::wake_backlog leaves smaller ones to their worker). A parked worker
    // comes to steal it.
    const std::uint64_t drained = w.drained();
    if (drained == last_drained_[i] && w.queued() != 0) stuck_with_work = true;
    last_drained_[i] = drained;
    // A due sleep on a worker stuck in one poll, or a tick late on a worker inside a poll: fire it
    // here (the owner fires its own between polls; a parked owner's wake timer fires them).
    const auto next = w.timers().next_deadline();
    if ((stuck && next <= now) || (in_poll && saturating_add(next, interval_) <= now)) {
      // Each sleeper goes to the global queue, with a notify.
      timer_fire_due(w.timers(), now, w.fired_by_monitor_counter());
    }
  }
  if (stuck_with_work) {
    // seq_cst fence: park.hpp step 1 (the queued work is visible before we read the sleepers).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    rt_.notify_one_parked();
  }
}

}  // namespace coreio::detail
