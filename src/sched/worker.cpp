// sched/worker.cpp — the worker run loop; see worker.hpp for the steps and idle.hpp for parking.
#include "sched/worker.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <array>

#include "runtime_impl.hpp"
#include "sched/context.hpp"

namespace coreio::detail {

namespace {
using steady = std::chrono::steady_clock;

std::uint64_t ns_between(steady::time_point a, steady::time_point b) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

std::coroutine_handle<> as_handle(void* p) noexcept {
  return std::coroutine_handle<>::from_address(p);
}

/// Consecutive LIFO-slot runs allowed before the slot's task goes to the back of the line.
constexpr std::uint32_t max_lifo_streak = 3;
/// Largest batch taken from the global queue at once.
constexpr std::size_t max_global_batch = 32;
}  // namespace

worker::worker(runtime_impl& rt, std::uint32_t index, const runtime_options& options)
    : rt_(rt),
      index_(index),
      global_interval_(std::max<std::uint32_t>(1, options.global_queue_interval)),
      event_interval_(std::max<std::uint32_t>(1, options.event_interval)),
      queue_(options.local_queue_capacity),
      rng_(0x9E3779B9u * (index + 1)),
      ptok_(rt.global().make_producer()),
      ctok_(rt.global().make_consumer()) {}

std::uint32_t worker::next_random() noexcept {
  // xorshift32: victim selection only needs to be cheap and not synchronised across workers.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 17;
  rng_ ^= rng_ << 5;
  return rng_;
}

void worker::run() {
  set_current_worker(this);
  busy_since_ = steady::now();
  for (;;) {
    if (std::coroutine_handle<> h = next_local()) {
      execute(h);
      continue;
    }
    if (maintenance()) continue;
    if (std::coroutine_handle<> h = find_work()) {
      execute(h);
      continue;
    }
    if (rt_.stopping()) break;
    park();
  }
  if (searching_) end_searching();
  busy_ns_.add(ns_between(busy_since_, steady::now()));
  set_current_worker(nullptr);
}

/// Operations a task poll may complete without suspending (Tokio uses 128 as well).
constexpr std::uint32_t task_budget = 128;

void worker::execute(std::coroutine_handle<> h) noexcept {
  if (searching_) end_searching();
  polls_.add();
  budget_ = task_budget;
  h.resume();
}

std::coroutine_handle<> worker::next_local() noexcept {
  ++tick_;
  if (tick_ % global_interval_ == 0) {
    void* x = nullptr;
    if (rt_.global().pop(ctok_, x)) {
      global_pulls_.add();
      return as_handle(x);
    }
  }
  if (tick_ % event_interval_ == 0) {
    maintenance();
    flush_yielded();
  }
  if (lifo_) {
    std::coroutine_handle<> h = std::exchange(lifo_, nullptr);
    if (++lifo_streak_ <= max_lifo_streak) return h;
    lifo_streak_ = 0;
    rt_.global().push(ptok_, h.address());
  }
  lifo_streak_ = 0;
  if (void* x = queue_.pop()) return as_handle(x);
  if (flush_yielded()) {
    if (void* x = queue_.pop()) return as_handle(x);
  }
  return nullptr;
}

bool worker::flush_yielded() noexcept {
  if (yielded_.empty()) return false;
  // Newest first, so that the oldest ends on top of the deque and runs first (FIFO among yielders).
  for (std::size_t i = yielded_.size(); i-- > 0;) {
    if (!queue_.push(yielded_[i])) overflow(yielded_[i]);
  }
  yielded_.clear();
  idle& id = rt_.idle_state();
  if (id.sleeping_hint() != 0 && id.searching_hint() == 0) rt_.notify_one_parked();
  return true;
}

bool worker::maintenance() {
  bool did = false;
  if (!timers_.empty()) did = fire_timers(steady::now());
  // Relaxed: a hint; a handler posted just after this read is picked up by the next poll or park.
  if (io_ops_.load(std::memory_order_relaxed) > 0 && ioc_.poll() > 0) did = true;
  return did;
}

bool worker::fire_timers(steady::time_point now) {
  bool fired = false;
  while (!timers_.empty() && timers_.top()->deadline <= now) {
    timer_entry* e = timers_.pop();
    // acq_rel: the winner of pending -> fired/cancelled resumes the waiter; see timer.cpp.
    // A compare-exchange, not an exchange: an entry a canceller already moved to `cancelled` (its
    // removal posted here, not yet run) must keep that state, which its sleeper reads on resuming.
    std::uint8_t expected = timer_entry::pending;
    if (e->state.compare_exchange_strong(expected, timer_entry::fired, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      timers_fired_.add();
      timer_finish(e, true);  // e may be gone after this: a thief can run the waiter at once
      fired = true;
    }
  }
  return fired;
}

std::coroutine_handle<> worker::find_work() {
  if (std::coroutine_handle<> h = pop_global_batch()) return h;
  if (!searching_) {
    if (!rt_.idle_state().try_begin_search()) return nullptr;
    searching_ = true;
  }
  if (std::coroutine_handle<> h = steal()) return h;
  return pop_global_batch();
}

std::coroutine_handle<> worker::pop_global_batch() {
  inject_queue& g = rt_.global();
  std::size_t want = g.size_approx() / rt_.worker_count() + 1;
  want = std::min({want, max_global_batch, static_cast<std::size_t>(queue_.capacity() / 2)});
  std::array<void*, max_global_batch> buf;
  std::size_t n = g.pop_bulk(ctok_, buf.data(), want);
  if (n == 0) return nullptr;
  global_pulls_.add(n);
  // Keep the batch's order: buf[1] is popped next (the deque pops LIFO).
  for (std::size_t i = n; i-- > 1;) {
    if (!queue_.push(buf[i])) g.push(ptok_, buf[i]);
  }
  return as_handle(buf[0]);
}

std::coroutine_handle<> worker::steal() {
  const std::uint32_t n = rt_.worker_count();
  if (n < 2) return nullptr;
  const std::uint32_t start = next_random() % n;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t v = (start + i) % n;
    if (v == index_) continue;
    local_queue& victim = rt_.worker_at(v).queue();
    std::int64_t avail = victim.size();
    if (avail == 0) continue;
    std::int64_t room = static_cast<std::int64_t>(queue_.capacity()) - queue_.size();
    std::int64_t want = std::min((avail + 1) / 2, room);
    void* first = nullptr;
    std::uint64_t got = 0;
    for (std::int64_t k = 0; k < want; ++k) {
      void* x = victim.steal();
      if (x == nullptr) break;
      ++got;
      if (first == nullptr) first = x;
      else if (!queue_.push(x)) rt_.global().push(ptok_, x);
    }
    if (first != nullptr) {
      steals_.add(got);
      steal_ops_.add();
      return as_handle(first);
    }
  }
  return nullptr;
}

void worker::end_searching() {
  searching_ = false;
  // The last searcher to find work wakes the next sleeper if more work is waiting (idle.hpp, 3).
  if (rt_.idle_state().end_search() && (!queue_.empty() || rt_.global().size_approx() > 0)) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    rt_.notify_one_parked();
  }
}

void worker::schedule_lifo(std::coroutine_handle<> h) noexcept {
  if (lifo_) push_local(lifo_);
  lifo_ = h;
}

void worker::push_local(std::coroutine_handle<> h) noexcept {
  if (!queue_.push(h.address())) overflow(h.address());
  idle& id = rt_.idle_state();
  // Cheap check (idle.hpp, "pushes on a worker's own deque").
  if (id.sleeping_hint() != 0 && id.searching_hint() == 0) rt_.notify_one_parked();
}

void worker::overflow(void* x) noexcept {
  // Move the older half to the global queue, where every worker can take it, then push x.
  std::array<void*, 512> batch;
  std::size_t n = 0;
  const std::size_t half = std::min<std::size_t>(queue_.capacity() / 2, batch.size());
  while (n < half) {
    void* y = queue_.steal();
    if (y == nullptr) break;
    batch[n++] = y;
  }
  rt_.global().push_bulk(ptok_, batch.data(), n);
  overflows_.add();
  if (!queue_.push(x)) rt_.global().push(ptok_, x);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  rt_.notify_one_parked();
}

void worker::yield_to_back(std::coroutine_handle<> h) { yielded_.push_back(h.address()); }

bool worker::work_visible() const {
  if (lifo_ || !queue_.empty() || !yielded_.empty() || rt_.stopping()) return true;
  if (rt_.global().size_approx() > 0) return true;
  for (std::uint32_t i = 0; i < rt_.worker_count(); ++i) {
    if (rt_.worker_at(i).queue().size() > 0) return true;
  }
  if (!timers_.empty() && timers_.top()->deadline <= steady::now()) return true;
  return false;
}

void worker::park() {
  idle& id = rt_.idle_state();
  id.add_sleeper(index_, searching_);
  searching_ = false;
  // seq_cst fence: idle.hpp step 2 — the registration above is ordered before the re-check.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (work_visible()) {
    if (!id.remove_sleeper(index_)) searching_ = true;  // a notifier counted us as a searcher
    return;
  }
  arm_wake_timer();
  const steady::time_point start = steady::now();
  busy_ns_.add(ns_between(busy_since_, start));
  parks_.add();
  ioc_.run_one();
  busy_since_ = steady::now();
  if (!id.remove_sleeper(index_)) searching_ = true;
}

void worker::arm_wake_timer() {
  if (timers_.empty()) return;
  const steady::time_point d = timers_.top()->deadline;
  if (wake_timer_armed_ && wake_timer_deadline_ <= d) return;
  wake_timer_armed_ = true;
  wake_timer_deadline_ = d;
  wake_timer_.expires_at(d);  // cancels a pending wait: its handler sees operation_aborted
  wake_timer_.async_wait([this](const std::error_code& ec) {
    if (!ec) wake_timer_armed_ = false;
  });
}

void worker::post_timer_cancel(timer_entry* e) {
  post([this, e] {
    timers_.erase(e);
    timer_finish(e, false);
  });
}

void worker::run_leftovers() noexcept {
  // Handlers may use worker-only hooks; no other thread runs this worker now. The caller may be a
  // worker of another runtime (a runtime destroyed inside a task): it gets its own worker back.
  worker* const previous = this_worker();
  set_current_worker(this);
  try {
    ioc_.restart();
    while (ioc_.poll() > 0) {
    }
  } catch (...) {
    // A handler threw during shutdown: nothing is left to report it to.
  }
  set_current_worker(previous);
}

void worker::wake() {
  asio::post(ioc_, [] {});
}

worker_metrics worker::snapshot() const {
  worker_metrics m;
  m.polls = polls_.get();
  m.steals = steals_.get();
  m.steal_operations = steal_ops_.get();
  m.parks = parks_.get();
  m.local_queue_depth = static_cast<std::uint64_t>(queue_.size());
  m.overflows = overflows_.get();
  m.busy_ns = busy_ns_.get();
  m.global_pulls = global_pulls_.get();
  m.timers_fired = timers_fired_.get();
  return m;
}

}  // namespace coreio::detail
