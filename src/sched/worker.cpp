// sched/worker.cpp — the worker run loop; see worker.hpp for the steps and park.hpp for parking.
#include "sched/worker.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <array>
#include <exception>

#include <coreio/detail/coop.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>
#include <coreio/log.hpp>

#include "frame_alloc.hpp"
#include "runtime_impl.hpp"
#include "sched/context.hpp"
#include "sched/first_run.hpp"
#include "sched/task_text.hpp"

namespace coreio::detail {

namespace {
using steady = std::chrono::steady_clock;

std::uint64_t ns_between(steady::time_point a, steady::time_point b) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

std::coroutine_handle<> as_handle(void* p) noexcept {
  return std::coroutine_handle<>::from_address(p);
}

/// Largest batch taken from the global queue, or stolen from a run queue, at once.
constexpr std::size_t max_batch = 128;
}  // namespace

std::coroutine_handle<> end_unstarted(std::coroutine_handle<> h) noexcept {
  promise_base& p = promise_of(h);
  p.exception_ = std::make_exception_ptr(cancelled_error{});
  return p.on_final(h);
}

worker::worker(runtime_impl& rt, std::uint32_t index, const runtime_options& options)
    : rt_(rt),
      index_(index),
      global_interval_(std::max<std::uint32_t>(1, options.global_queue_interval)),
      event_interval_(std::max<std::uint32_t>(1, options.event_interval)),
      wake_backlog_(monitor::runs(options.monitor_interval, rt.idle_state().workers())
                        ? std::max<std::uint32_t>(1, options.wake_backlog)
                        : 1),
      remote_(options),
      until_global_(global_interval_),
      until_event_(event_interval_),
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
  frame_cache_attach();
  busy_since_ = steady::now();
  for (;;) {
    if (std::coroutine_handle<> h = next_local()) {
      execute(h);
      continue;
    }
    remote_.drained_.add();
    if (maintenance(false)) continue;  // park polls this worker's loop (worker.hpp, step 5)
    if (std::coroutine_handle<> h = find_work()) {
      execute(h);
      continue;
    }
    if (rt_.stopping()) break;
    park();
  }
  if (searching_) end_searching();
  if (trace::trace_compiled && trace_ != nullptr) {
    trace_->record({.ts_ns = trace::raw_now(), .what = trace::kind::stop});  // ends the last poll
  }
  remote_.busy_ns_.add(ns_between(busy_since_, steady::now()));
  frame_cache_detach();
  set_current_worker(nullptr);
}

void worker::execute(std::coroutine_handle<> h) noexcept {
  if (searching_) end_searching();
  // Relaxed: single writer; the monitor only compares values (worker.hpp, poll sequence).
  const std::uint64_t seq = remote_.poll_seq_.load(std::memory_order_relaxed);
  remote_.poll_seq_.store(seq + 1, std::memory_order_relaxed);
  t_coop_budget = coop_budget_per_poll;
  t_poll_stack_base = static_cast<const char*>(__builtin_frame_address(0));
  if (is_first_run(h.address())) {
    h = first_run_frame(h.address());
    if (cancelled_before_start(h)) [[unlikely]] {
      // It never runs; whoever its end hands control to runs in this poll instead.
      h = end_unstarted(h);
      if (h.address() == std::noop_coroutine().address()) {
        remote_.poll_seq_.store(seq + 2, std::memory_order_relaxed);
        return;
      }
    }
  }
  if (trace::trace_compiled && instrumented_) [[unlikely]] {
    if (trace_only_) {
      execute_traced(h);
    } else {
      execute_instrumented(h);
    }
  } else {
    h.resume();
  }
  remote_.poll_seq_.store(seq + 2, std::memory_order_relaxed);
}

// Inlined into both callers: a call here cost 10 instructions a poll on skynet.
[[gnu::always_inline]] inline void worker::record_poll_begin(std::coroutine_handle<> h,
                                                             std::uint64_t id) noexcept {
  // The frame is this thread's to read and write until it is resumed (promise_base.hpp).
  promise_base& p = promise_of(h);
  const bool flow = p.trace_flow_;
  p.trace_flow_ = false;
  trace_->record({.ts_ns = trace_clock_.stamp(flow), .what = trace::kind::poll_begin, .task = id});
}

void worker::execute_traced(std::coroutine_handle<> h) noexcept {
  // execute_instrumented's tracer part alone (skynet: 58 instructions a poll there, ~40 here).
  const std::uint64_t id = trace::task_of(h);
  trace_task_ = id;
  record_poll_begin(h, id);
  h.resume();  // no poll_end: the poll ends at this worker's next scheduler event (tracer.hpp)
  trace_task_ = 0;
}

void worker::execute_instrumented(std::coroutine_handle<> h) noexcept {
  // Who runs: read before resuming, while the frame is this thread's (trace/tracer.hpp).
  const trace::task_identity who = trace::identity_of(h);
  trace_task_ = who.id;
  // Debug mode and histograms time the poll with steady_clock; the tracer with its own clock.
  const bool timed = slow_poll_ns_ != 0 || names_ != nullptr;
  std::uint64_t start = 0;
  if (slow_poll_ns_ != 0) {
    // Release each, then the publishing release: the seqlock of worker_remote's debug_* fields.
    remote_.debug_task_id_.store(who.id, std::memory_order_release);
    remote_.debug_task_name_.store(who.name, std::memory_order_release);
    remote_.debug_task_file_.store(who.file, std::memory_order_release);
    remote_.debug_task_line_.store(who.line, std::memory_order_release);
    remote_.debug_seq_.store(remote_.poll_seq_.load(std::memory_order_relaxed),  // our own write
                             std::memory_order_release);
  }
  if (timed) {
    start = monotonic_ns();
    if (names_ != nullptr) {
      // The stamp of its wake (woken_instrumented) or spawn: written before the push that queued
      // it, so the queue's hand-off orders it before this read; cleared so that a later resume
      // not through a timed push (another thread's wake, a yield) is not counted.
      if (spawned_state* st = trace::spawned_of(h); st != nullptr && st->ready_ns != 0) {
        remote_.wake_to_poll_.record(start > st->ready_ns ? start - st->ready_ns : 0);
        st->ready_ns = 0;
      }
    }
  }
  if (trace_ != nullptr) record_poll_begin(h, who.id);
  h.resume();  // no poll_end: the poll ends at this worker's next scheduler event (tracer.hpp)
  if (timed) {
    const std::uint64_t end = monotonic_ns();
    const std::uint64_t took = end > start ? end - start : 0;
    if (names_ != nullptr) {
      remote_.poll_time_.record(took);
      if (who.name != 0) names_->busy(who.name, took);
    }
    if (slow_poll_ns_ != 0 && took >= slow_poll_ns_) report_slow_poll(who, took);
  }
  trace_task_ = 0;
}

void worker::report_slow_poll(const trace::task_identity& who, std::uint64_t took_ns) noexcept {
  try {
    log(log_level::warning, "slow poll: " + describe_task(who.id, who.name, who.file, who.line) +
                                " ran " + std::to_string(took_ns / 1'000'000) +
                                " ms without suspending on worker " + std::to_string(index_) +
                                " (slow_callback_duration " +
                                std::to_string(slow_poll_ns_ / 1'000'000) +
                                " ms); every task queued there waited behind it");
  } catch (...) {  // out of memory composing the line: dropped
  }
}

std::coroutine_handle<> worker::next_local() noexcept {
  // Countdowns rather than `tick % interval`: the intervals are runtime values, and a division per
  // poll costs more than the rest of this function.
  if (--until_global_ == 0) {
    until_global_ = global_interval_;
    void* x = nullptr;
    if (rt_.global().pop(ctok_, x)) {
      remote_.global_pulls_.add();
      return as_handle(x);
    }
  }
  if (--until_event_ == 0) {
    until_event_ = event_interval_;
    maintenance(true);
  }
  // Tasks an overflow moved to the global queue are older than everything left in the run queue:
  // they go first, as they would have from the run queue (overflow_run). Taken one every
  // global_interval_ polls instead, they waited while newer tasks cycled through the run queue:
  // an HTTP server at 1,000 connections on one worker had p90 latencies of 166-191 ms at a p50
  // of 5-10 ms.
  if (spilled_ != 0) [[unlikely]] {
    void* x = nullptr;
    if (rt_.global().pop(ctok_, x)) {
      --spilled_;
      remote_.global_pulls_.add();
      return as_handle(x);
    }
    spilled_ = 0;
  }
  if (void* x = run_.pop()) return as_handle(x);
  if (void* x = forks_.pop()) return as_handle(x);
  return nullptr;
}

bool worker::maintenance(bool poll_loop) {
  bool did = false;
  if (!remote_.timers_.empty()) {
    wake_kind_ = trace::kind::timer_fire;  // for the tracer: what the wakes below are
    if (timer_fire_due(remote_.timers_, steady::now(), remote_.timers_fired_) != 0) did = true;
  }
  // Relaxed: a hint; a handler posted just after this read is picked up by the next poll or park.
  if (poll_loop && remote_.io_ops_.load(std::memory_order_relaxed) > 0) {
    // Held by a worker polling this loop for us (a steal) now: it runs what is ready.
    if (loop_hold h{remote_}) {
      wake_kind_ = trace::kind::io_complete;
      if (remote_.poll_loop(true) > 0) did = true;
    }
  }
  if (poll_stale_loops()) did = true;
  wake_kind_ = trace::kind::wake;
  return did;
}

bool worker::poll_stale_loops() {
  const std::uint32_t n = rt_.worker_count();
  bool did = false;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (v == index_) continue;
    worker_remote& victim = rt_.remote(v);
    if (!victim.loop_stale()) continue;
    loop_hold h{victim};
    if (!h) continue;  // its owner or another stealer polls it now
    wake_kind_ = trace::kind::io_complete;
    // The handlers make their tasks ready here (io.cpp, resume).
    if (victim.poll_loop(false) > 0) did = true;
    remote_.loop_steals_.add();
  }
  return did;
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
  global_queue& g = rt_.global();
  // An empty queue costs one pass over its producers here, instead of that pass and a dequeue's
  // (which walks them again before failing): a worker that runs out of tasks comes here twice
  // before it parks (find_work), for a server about once per request. Missing an item pushed
  // just now is no loss: park() registers the sleeper, fences and reads size_approx() again.
  const std::size_t queued = g.size_approx();
  if (queued == 0) return nullptr;
  std::size_t want = queued / rt_.worker_count() + 1;
  want = std::min({want, max_batch, static_cast<std::size_t>(run_.capacity() / 2)});
  std::array<void*, max_batch> buf;
  std::size_t n = g.pop_bulk(ctok_, buf.data(), want);
  if (n == 0) return nullptr;
  remote_.global_pulls_.add(n);
  // Keep the batch's order: buf[0] runs now, buf[1] next.
  for (std::size_t i = 1; i < n; ++i) push_run(buf[i]);
  return as_handle(buf[0]);
}

void worker::trace_steal(std::uint32_t victim, std::uint64_t tasks) noexcept {
  if (trace::trace_compiled && trace_ != nullptr) [[unlikely]] {
    trace_->record({.ts_ns = trace::raw_now(),
                    .what = trace::kind::steal,
                    .aux = static_cast<std::uint32_t>(tasks),
                    .arg = victim});
  }
}

std::coroutine_handle<> worker::steal() {
  const std::uint32_t n = rt_.worker_count();
  if (n < 2) return nullptr;
  const std::uint32_t start = next_random() % n;
  std::array<void*, max_batch> buf;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t v = (start + i) % n;
    if (v == index_) continue;
    worker_remote& victim = rt_.remote(v);
    // Ready tasks first (they have waited longest), the older half, in their order.
    const std::size_t room = std::min<std::size_t>(max_batch, run_.capacity() - run_.size());
    if (std::size_t got = victim.run_stealer().steal_half(buf.data(), room); got != 0) {
      for (std::size_t k = 1; k < got; ++k) push_run(buf[k]);
      remote_.steals_.add(got);
      remote_.steal_ops_.add();
      trace_steal(v, got);
      return as_handle(buf[0]);
    }
    // Then forked children, the oldest (biggest) first, one at a time (fork_deque.hpp).
    fork_deque::stealer forks = victim.fork_stealer();
    const std::int64_t avail = forks.size();
    if (avail == 0) continue;
    const std::int64_t want = std::min<std::int64_t>(
        (avail + 1) / 2, static_cast<std::int64_t>(forks_.capacity()) - forks_.size());
    void* first = nullptr;
    std::uint64_t got = 0;
    for (std::int64_t k = 0; k < want; ++k) {
      void* x = forks.steal();
      if (x == nullptr) break;
      ++got;
      if (first == nullptr) first = x;
      else if (!forks_.push(x)) rt_.global().push(ptok_, x);
    }
    if (first != nullptr) {
      remote_.steals_.add(got);
      remote_.steal_ops_.add();
      trace_steal(v, got);
      return as_handle(first);
    }
  }
  return nullptr;
}

void worker::end_searching() {
  searching_ = false;
  // The last searcher to find work wakes the next sleeper if more work is waiting (park.hpp, 3).
  if (rt_.idle_state().end_search() && (remote_.queued() != 0 || rt_.global().size_approx() > 0)) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    rt_.notify_one_parked();
  }
}

void worker::notify_if_sleepers() noexcept {
  idle& id = rt_.idle_state();
  // Cheap relaxed check (park.hpp, "pushes on a worker's own queues"); a miss is repaired by the
  // monitor if this worker then stays busy.
  if (id.sleeping_hint() != 0 && id.searching_hint() == 0) rt_.notify_one_parked();
}

void worker::push_run(void* x) noexcept {
  if (!run_.push(x)) overflow_run(x);
}

void worker::woken_instrumented(std::coroutine_handle<> h) noexcept {
  if (trace_ != nullptr) {
    trace_->record({.ts_ns = trace::raw_now(),
                    .what = wake_kind_,
                    .task = trace::task_of(h),
                    .arg = trace_task_});
    // Suspended and not queued: its frame is ours until the push publishes it.
    promise_of(h).trace_flow_ = true;
  }
  if (names_ != nullptr) {
    // The task is suspended and not queued: its state is ours until the push below publishes it.
    if (spawned_state* st = trace::spawned_of(h)) st->ready_ns = monotonic_ns();
  }
}

void worker::push_woken(std::coroutine_handle<> h) noexcept {
  if (trace::trace_compiled && instrumented_) [[unlikely]] {
    woken_instrumented(h);
  }
  // A backlog below wake_backlog_ stays here (runtime_options::wake_backlog); the monitor wakes a
  // parked worker for one that outlasts a tick.
  const bool backlog = run_.size() >= wake_backlog_;
  push_run(h.address());
  if (backlog) notify_if_sleepers();
}

void worker::push_spawned(std::coroutine_handle<> h) noexcept {
  push_run(first_run_entry(h));
  notify_if_sleepers();
}

void worker::push_fork(std::coroutine_handle<> h) noexcept {
  void* entry = first_run_entry(h);
  if (!forks_.push(entry)) overflow_forks(entry);
  notify_if_sleepers();
}

void worker::push_yielded(std::coroutine_handle<> h) noexcept {
  // The forked children are ready too: move them to the run queue first, newest first (the order
  // the deque would have run them in), so that the yielder runs after them.
  while (void* x = forks_.pop()) push_run(x);
  push_run(h.address());
}

void worker::overflow_run(void* x) noexcept {
  // Move the older half to the global queue, where every worker can take it, then push x. This
  // worker takes them back before its run queue (spilled_, next_local), so they keep their turn.
  std::array<void*, 512> batch;
  const std::size_t half = std::min<std::size_t>(run_.capacity() / 2, batch.size());
  const std::size_t n = run_.pop_oldest(batch.data(), half);
  rt_.global().push_bulk(ptok_, batch.data(), n);
  spilled_ += n;
  remote_.overflows_.add();
  if (!run_.push(x)) {
    rt_.global().push(ptok_, x);
    ++spilled_;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  rt_.notify_one_parked();
}

void worker::overflow_forks(void* x) noexcept {
  std::array<void*, 512> batch;
  std::size_t n = 0;
  const std::size_t half = std::min<std::size_t>(forks_.capacity() / 2, batch.size());
  while (n < half) {
    void* y = forks_.pop_oldest();
    if (y == nullptr) break;
    batch[n++] = y;
  }
  rt_.global().push_bulk(ptok_, batch.data(), n);
  remote_.overflows_.add();
  if (!forks_.push(x)) rt_.global().push(ptok_, x);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  rt_.notify_one_parked();
}

void worker::run_leftovers() noexcept {
  // Handlers may use worker-only hooks; no other thread runs this worker now. The caller may be a
  // worker of another runtime (a runtime destroyed inside a task): it gets its own worker back.
  worker* const previous = this_worker();
  set_current_worker(this);
  try {
    remote_.ioc_.restart();
    while (remote_.ioc_.poll() > 0) {
    }
  } catch (...) {
    // A handler threw during shutdown: nothing is left to report it to.
  }
  set_current_worker(previous);
}

void worker_remote::wake() {
  asio::post(ioc_, [] {});
}

worker_metrics worker_remote::snapshot() const {
  worker_metrics m;
  m.polls = poll_sequence() / 2;
  m.steals = steals_.get();
  m.steal_operations = steal_ops_.get();
  m.loop_steals = loop_steals_.get();
  m.parks = parks_.get();
  m.local_queue_depth = queued();
  m.overflows = overflows_.get();
  m.busy_ns = busy_ns_.get();
  m.global_pulls = global_pulls_.get();
  m.timers_fired = timers_fired_.get();
  m.stuck_with_queued_tasks = stuck_with_queued_.get();
  m.timers_fired_by_monitor = monitor_fired_.get();
  m.poll_time = poll_time_.snapshot();
  m.wake_to_poll = wake_to_poll_.snapshot();
  return m;
}

}  // namespace coreio::detail
