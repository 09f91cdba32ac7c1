// sched/spawned_task.cpp — steps 2, 7 and 9 of a spawned task's life (detail/spawned_task.hpp).
#include <coreio/detail/spawned_task.hpp>

#include <atomic>
#include <exception>
#include <string>

#include <coreio/log.hpp>

#include "runtime_impl.hpp"
#include "sched/first_run.hpp"
#include "sched/task_text.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

namespace {

/// A process-unique task id without a shared counter per spawn: each thread takes a block of ids
/// from the shared counter once per 2^16 spawns.
std::uint64_t next_task_id() noexcept {
  constexpr std::uint64_t block = std::uint64_t{1} << 16;
  static std::atomic<std::uint64_t> next_block{1};  // relaxed: only uniqueness matters
  thread_local std::uint64_t next = 0, end = 0;
  if (next == end) {
    next = next_block.fetch_add(1, std::memory_order_relaxed) * block;
    end = next + block;
  }
  return next++;
}

}  // namespace

void spawned_task_start(runtime_impl* rt, promise_base* p, std::coroutine_handle<> h) {
  p->spawned_->id = next_task_id();
  if (!rt->tasks().link(p, rt->closing_flag())) throw runtime_closed();
  worker* w = this_worker();
  const bool local = w != nullptr && &w->rt() == rt;
  if (name_stats* names = rt->task_name_stats(); trace::trace_compiled && names != nullptr)
      [[unlikely]] {
    if (p->spawned_->name != 0) names->spawned(p->spawned_->name);
    // The wake-to-poll histogram times a spawn on a worker as a wake (worker.cpp).
    if (local) p->spawned_->ready_ns = monotonic_ns();
  }
  if (local) {
    if (trace::trace_compiled && w->trace() != nullptr) [[unlikely]] {
      const spawned_state* st = p->spawned_;
      const std::uint64_t now = trace::raw_now();
      w->trace()->record({.ts_ns = now,
                          .what = trace::kind::spawn,
                          .aux = st->where.line(),
                          .task = st->id,
                          .arg = w->trace_task()});
      w->trace()->record({.ts_ns = now,
                          .what = trace::kind::spawn_where,
                          .aux = st->name,
                          .task = st->id,
                          .arg = reinterpret_cast<std::uintptr_t>(st->where.file_name())});
      p->trace_flow_ = true;  // not queued yet: the push below publishes it (promise_base.hpp)
    }
    w->count_spawned(1);
    w->push_spawned(h);
  } else {
    rt->count_external_spawn();
    rt->push_global_entry(first_run_entry(h));  // its first run (sched/first_run.hpp)
  }
}

namespace {

/// asyncio's "Task exception was never retrieved": a task that failed (not cancelled) and whose
/// join handle is gone without taking the result. Reported through the log sink.
void report_unretrieved(const promise_base* p, const spawned_state* st) noexcept {
  if (!p->exception_ || st->failure_taken) return;
  std::string what;
  try {
    std::rethrow_exception(p->exception_);
  } catch (const cancelled_error&) {
    return;  // cancellation is how a task is told to stop, not a failure (as asyncio)
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "a non-std::exception";
  }
  try {
    std::string text = "task exception was never retrieved: " +
                       describe_task(st->id, st->name, st->where.file_name(), st->where.line());
    text.append(": ").append(what);
    log(log_level::error, text);
  } catch (...) {  // out of memory while composing the line: the report is dropped
  }
}

/// Drops one owner's reference; the last frees the frame and its state, reporting a failure that
/// no one retrieved (`retrieved`: this owner is a handle that took the result).
/// Ended by an exception other than cancellation (a failure in asyncio's sense).
bool failed(const promise_base* p) noexcept {
  if (!p->exception_) return false;
  try {
    std::rethrow_exception(p->exception_);
  } catch (const cancelled_error&) {
    return false;
  } catch (...) {
    return true;
  }
}

void release(promise_base* p, std::coroutine_handle<> h, bool retrieved) noexcept {
  spawned_state* st = p->spawned_;
  if (st->cell.release_ref()) {
    if (!retrieved) report_unretrieved(p, st);
    h.destroy();
    delete st;
  }
}

}  // namespace

std::coroutine_handle<> spawned_task_complete(promise_base* p, std::coroutine_handle<> h) noexcept {
  spawned_state* st = p->spawned_;
  st->rt->task_ended(p);
  if (worker* w = this_worker()) w->count_completed();
  if (name_stats* names = st->rt->task_name_stats();
      trace::trace_compiled && names != nullptr && st->name != 0) [[unlikely]] {
    names->ended(st->name, failed(p));  // before the joiner can see the task ended
  }
  async_waiter* waiter = st->cell.complete();
  // Read before dropping our reference: the waiter lives in the joiner's frame, which the joiner
  // (suspended until we resume it) cannot free; nothing below touches shared state after the drop.
  std::coroutine_handle<> next = std::noop_coroutine();
  if (waiter != nullptr) {
    if (waiter->rt == st->rt)
      next = waiter->handle;                    // same runtime: run it here by symmetric transfer
    else schedule(waiter->rt, waiter->handle);  // a task of another runtime resumes on its own pool
  }
  release(p, h, /*retrieved=*/false);  // if last, the handle was dropped without the result
  return next;
}

void spawned_task_release(promise_base* p, std::coroutine_handle<> h, bool retrieved) noexcept {
  release(p, h, retrieved);
}

}  // namespace coreio::detail
