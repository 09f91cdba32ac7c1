// coreio/spawn.hpp — coreio::spawn (asyncio.create_task), yield_now (asyncio.sleep(0)),
// current_worker.
//
// Thread safety: spawn and yield_now may only be called from a task running on a worker.
// current_worker() from any thread.
#pragma once

#include <coroutine>

#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/task.hpp>

namespace coreio {

/// Spawns t on the runtime running the caller; it starts soon, maybe on another worker.
/// Throws usage_error outside a runtime, runtime_closed while the runtime shuts down.
///
/// Example:  auto h = coreio::spawn(work(i));  ...  int r = co_await h;
template <class T>
join_handle<T> spawn(task<T> t) {
  detail::runtime_impl* rt = detail::this_runtime();
  if (rt == nullptr) detail::throw_usage("coreio::spawn outside a runtime; use runtime::spawn");
  return detail::spawn_task(rt, std::move(t));
}

namespace detail {
struct yield_awaiter {
  cancel_scope* scope = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    scope = scope_of(h);
    if (scope->cancelled()) return false;
    yield_to_back(h);
    return true;
  }
  void await_resume() const {
    if (scope->cancelled()) throw_cancelled();
  }
};
}  // namespace detail

/// Lets every other ready task run before the caller continues (asyncio.sleep(0)). Throws
/// cancelled_error if the task is cancelled. Worker only.
inline detail::yield_awaiter yield_now() noexcept { return {}; }

/// Index of the worker running the caller, or -1 on a thread that is not a worker.
int current_worker() noexcept;

}  // namespace coreio
