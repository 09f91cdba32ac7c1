// sched/watchdog.cpp — debug mode's blocked-worker watchdog (protocol: watchdog.hpp).
#include "sched/watchdog.hpp"

#include <pthread.h>

#include <string>

#include <coreio/log.hpp>

#include "runtime_impl.hpp"
#include "sched/task_text.hpp"

namespace coreio::detail {

watchdog::watchdog(runtime_impl& rt, std::chrono::milliseconds threshold)
    : rt_(rt), threshold_(threshold) {}

watchdog::~watchdog() { stop(); }

void watchdog::start() {
  seen_.assign(rt_.worker_count(), seen{});
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "coreio-watchdog");
    run();
  });
}

void watchdog::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void watchdog::run() {
  const auto period =
      std::max<std::chrono::milliseconds>(threshold_ / 4, std::chrono::milliseconds(1));
  std::unique_lock<std::mutex> lk(mu_);
  while (!cv_.wait_for(lk, period, [this] { return stop_; })) {
    lk.unlock();
    tick(std::chrono::steady_clock::now());
    lk.lock();
  }
}

void watchdog::tick(std::chrono::steady_clock::time_point now) {
  for (std::uint32_t i = 0; i < rt_.worker_count(); ++i) {
    worker_remote& w = rt_.remote(i);
    seen& s = seen_[i];
    const std::uint64_t seq = w.poll_sequence();
    if ((seq & 1) == 0 || seq != s.seq) {  // between polls, or a new poll since the last tick
      s = {seq, now, false};
      continue;
    }
    if (s.reported || now - s.since < threshold_) continue;
    // Seqlock read of the poll's task (worker.hpp, worker_remote's debug_* fields).
    if (w.debug_seq_.load(std::memory_order_acquire) != seq) continue;  // not published yet
    const std::uint64_t id = w.debug_task_id_.load(std::memory_order_acquire);
    const std::uint32_t name = w.debug_task_name_.load(std::memory_order_acquire);
    const char* file = w.debug_task_file_.load(std::memory_order_acquire);
    const std::uint32_t line = w.debug_task_line_.load(std::memory_order_acquire);
    if (w.poll_sequence() != seq) continue;  // the poll ended meanwhile: not blocked after all
    s.reported = true;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.since).count();
    try {
      log(log_level::warning,
          "worker " + std::to_string(i) + " is blocked: " + describe_task(id, name, file, line) +
              " has run at least " + std::to_string(ms) + " ms without suspending");
    } catch (...) {  // out of memory composing the line: dropped
    }
  }
}

}  // namespace coreio::detail
