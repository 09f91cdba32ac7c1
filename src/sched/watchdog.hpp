// sched/watchdog.hpp — debug mode's watchdog: finds a worker blocked inside one poll while it is
// still blocked, and says which task blocks it.
//
// A slow poll is reported by its worker when it ends (worker.cpp, report_slow_poll); a poll that
// never ends (a task blocked in a system call, a deadlock on a std::mutex) would never be. The
// watchdog thread wakes every quarter of slow_callback_duration and reads each worker's poll
// sequence (odd inside a poll) and the task of the poll in progress (worker_remote's debug_*
// fields, a seqlock read against the poll sequence). A worker found inside the same poll for at
// least the threshold is reported once per poll: "worker 1 is blocked: task 7 'fetch' spawned at
// main.cpp:12 has run 250 ms without suspending".
//
// Started by the runtime in debug mode only (also with one worker, unlike the monitor); stopped
// before the workers are joined. Thread safety: start/stop from the runtime's owner thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace coreio::detail {

class runtime_impl;

class watchdog {
 public:
  watchdog(runtime_impl& rt, std::chrono::milliseconds threshold);
  ~watchdog();
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  void start();
  void stop();

 private:
  struct seen {
    std::uint64_t seq = 0;                          // the poll sequence at first sight
    std::chrono::steady_clock::time_point since{};  // when the poll was first seen
    bool reported = false;
  };
  void run();
  void tick(std::chrono::steady_clock::time_point now);

  runtime_impl& rt_;
  const std::chrono::milliseconds threshold_;
  std::vector<seen> seen_;  // watchdog thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace coreio::detail
