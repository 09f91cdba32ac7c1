// sched/park.cpp — worker::park: the whole parking protocol of park.hpp in one function.
#include <algorithm>
#include <chrono>

#include "runtime_impl.hpp"
#include "sched/park.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

namespace {
using steady = std::chrono::steady_clock;

std::uint64_t ns_between(steady::time_point a, steady::time_point b) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}
}  // namespace

void worker::park() {
  // Parking runs this worker's loop (the wake timer, run_one): it needs the loop token for the
  // whole park (worker.hpp, "Loop stealing"). A worker stealing a poll of it holds it for that
  // poll only: go round the run loop again instead (the next park finds the token free).
  loop_hold hold{remote_};
  if (!hold) return;
  idle& id = rt_.idle_state();
  // 1. Register as a sleeper (a searcher stops searching).
  id.add_sleeper(index_, searching_);
  searching_ = false;
  // 2. seq_cst fence: the registration is ordered before the re-check (park.hpp, step 2).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // 3. Re-check every queue and this worker's due timers.
  bool work = rt_.stopping() || rt_.global().size_approx() > 0;
  for (std::uint32_t i = 0; !work && i < rt_.worker_count(); ++i)
    work = rt_.remote(i).queued() != 0;
  const steady::time_point next = remote_.timers_.next_deadline();
  if (!work && next <= steady::now()) work = true;
  if (work) {
    if (!id.remove_sleeper(index_)) searching_ = true;  // a notifier counted us as a searcher
    return;
  }
  // 4. Arm the wake timer for the earliest sleep (kept armed across parks while it still fits).
  if (next != steady::time_point::max() && !(wake_timer_armed_ && wake_timer_deadline_ <= next)) {
    wake_timer_armed_ = true;
    wake_timer_deadline_ = next;
    wake_timer_.expires_at(next);  // cancels a pending wait: its handler sees operation_aborted
    wake_timer_.async_wait([this](const std::error_code& ec) {
      if (!ec) wake_timer_armed_ = false;
    });
  }
  // 5. Block until a wake-up post, the wake timer or an IO completion.
  const steady::time_point start = steady::now();
  remote_.busy_ns_.add(ns_between(busy_since_, start));
  remote_.parks_.add();
  if (trace::trace_compiled && trace_ != nullptr) [[unlikely]] {
    trace_->record({.ts_ns = trace::raw_now(), .what = trace::kind::park});
    wake_kind_ = trace::kind::io_complete;  // what run_one's handler makes ready (or a timer)
  }
  remote_.ioc_.run_one();
  remote_.count_loop_poll(true);
  busy_since_ = steady::now();
  if (trace::trace_compiled && trace_ != nullptr) [[unlikely]] {
    wake_kind_ = trace::kind::wake;
    trace_->record({.ts_ns = trace::raw_now(), .what = trace::kind::unpark});
  }
  // 6. Unregister, unless a notifier already did (then we were woken as a searcher).
  if (!id.remove_sleeper(index_)) searching_ = true;
  rt_.monitor_resume();
}

}  // namespace coreio::detail
