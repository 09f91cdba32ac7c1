// coreio/detail/spawned_task.hpp — a spawned task, from spawn to free, in one place.
//
// A spawned task is a task<T> frame turned into an independent thread of execution by
// coreio::spawn / runtime::spawn / block_on (asyncio's create_task). Its life, with the function
// that performs each step:
//   1. created    spawn_task (below): the frame gets its own cancel scope (kind `spawned`) and a
//                 spawned_state (promise_base.hpp): a runtime, a join cell and two references,
//                 the running task and the join handle.
//   2. queued     spawned_task_start (src/sched/spawned_task.cpp): linked in the runtime's registry
//                 (shutdown cancels what is linked; runtime_closed once closing), then pushed on
//                 the spawning worker's run queue (worker::push_spawned) or, from a plain thread,
//                 on the global queue (runtime_impl::push_global); a parked worker is woken.
//   3. running    a worker pops it and resumes it (worker::execute); it runs until it suspends.
//   4. suspended  it awaits something that is not ready; that awaitable holds its handle.
//   5. woken      whoever completes the awaitable makes it ready again (detail::schedule): the back
//                 of the waker's run queue, or the global queue from a plain thread.
//   6. stolen     while queued (2 or 5), an idle worker may steal it; it then runs there (3).
//   7. completed  at its final suspend, spawned_task_complete: unlinks it from the registry,
//                 completes its join cell (the result is published), resumes the task awaiting its
//                 join handle by symmetric transfer (same runtime) or schedules it, and drops the
//                 running task's reference.
//   8. joined     the join handle's co_await or get() takes the result (join_handle.hpp).
//   9. freed      the last of the two references frees the frame and its spawned_state: the
//                 running task's at 7, or the join handle's when it is destroyed or detached
//                 (spawned_task_release).
//
// Thread safety: spawn_task from any thread (runtime::spawn) or a worker (coreio::spawn);
// spawned_task_complete on a worker; spawned_task_release from any thread.
#pragma once

#include <coroutine>
#include <cstdint>
#include <source_location>
#include <string_view>
#include <utility>

#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>

namespace coreio {
template <class T>
class task;
template <class T>
class join_handle;
}  // namespace coreio

namespace coreio::detail {

/// Step 2: links the task whose promise is p and whose frame is h in rt's registry and queues it.
/// Throws runtime_closed if rt is shutting down (the frame is then not taken). Any thread.
void spawned_task_start(runtime_impl* rt, promise_base* p, std::coroutine_handle<> h);
/// Step 7, from the task's final suspend. Returns the coroutine to transfer to. Worker only.
std::coroutine_handle<> spawned_task_complete(promise_base* p, std::coroutine_handle<> h) noexcept;
/// Step 9: drops one reference (the join handle's); frees the frame on the last. `retrieved`:
/// the handle took the result; a failure nobody took is reported (coreio/log.hpp). Any thread.
void spawned_task_release(promise_base* p, std::coroutine_handle<> h, bool retrieved) noexcept;
/// The index of a task name in the process's name table (0 for ""). Any thread; takes a lock.
std::uint32_t intern_task_name(std::string_view name);

/// Where and as what a task is spawned (coreio/current_task.hpp).
struct spawn_site {
  std::uint32_t name = 0;
  std::source_location where{};
};

/// Steps 1 and 2: turns t into a spawned task on rt and returns its handle. Throws runtime_closed
/// if rt is closing, usage_error if t is empty.
template <class T>
join_handle<T> spawn_task(runtime_impl* rt, task<T> t, spawn_site site = {}) {
  if (!t.valid()) throw_usage("spawn of a moved-from or already-awaited coreio::task");
  auto h = t.handle();
  auto& p = h.promise();
  auto* st = new spawned_state;
  st->cell.set_refs(2);  // the running task and the handle; published by the queue push
  st->rt = rt;
  st->name = site.name;
  st->where = site.where;
  p.make_independent(completion_kind::spawned);
  p.spawned_ = st;
  try {
    spawned_task_start(rt, &p, h);
  } catch (...) {
    delete st;  // t still owns the frame and frees it
    throw;
  }
  (void)t.release();
  return join_handle<T>{h};
}

}  // namespace coreio::detail
