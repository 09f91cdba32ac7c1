// coreio/spawn.hpp — coreio::spawn (asyncio.create_task), yield_now (asyncio.sleep(0)),
// current_worker.
//
// Thread safety: spawn and yield_now may only be called from a task running on a worker.
// current_worker() from any thread.
#pragma once

#include <coroutine>
#include <source_location>
#include <string_view>
#include <type_traits>
#include <utility>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/spawned_task.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/task.hpp>

namespace coreio {

/// Spawns t on the runtime running the caller; it starts soon, maybe on another worker. The task
/// records where it was spawned (`where`, the caller's line by default) for current_task(), the
/// tracer and the never-retrieved-exception report. Throws usage_error outside a runtime,
/// runtime_closed while the runtime shuts down.
///
/// Example:  auto h = coreio::spawn(work(i));  ...  int r = co_await h;
template <class T>
join_handle<T> spawn(task<T> t, std::source_location where = std::source_location::current()) {
  detail::runtime_impl* rt = detail::this_runtime();
  if (rt == nullptr) detail::throw_usage("coreio::spawn outside a runtime; use runtime::spawn");
  return detail::spawn_task(rt, std::move(t), {0, where});
}

/// The same, with a name (asyncio's create_task(coro, name=...)): any text, interned once per
/// distinct name in a process-wide table (a lock on that path), so prefer a few fixed names
/// ("fetch") to one per task ("fetch 17").
///
/// Example:  auto h = coreio::spawn(fetch(url), "fetch");
template <class T>
join_handle<T> spawn(task<T> t, std::string_view name,
                     std::source_location where = std::source_location::current()) {
  detail::runtime_impl* rt = detail::this_runtime();
  if (rt == nullptr) detail::throw_usage("coreio::spawn outside a runtime; use runtime::spawn");
  return detail::spawn_task(rt, std::move(t), {detail::intern_task_name(name), where});
}

/// Spawns a task that awaits aw (asyncio.ensure_future of an awaitable): an rvalue, which the task
/// owns; an lvalue could dangle, so it does not compile.
///
/// Example:  auto h = coreio::spawn(q.get());  int item = co_await h;
template <class A>
  requires(!detail::is_task_v<std::remove_cvref_t<A>>)
auto spawn(A&& aw, std::source_location where = std::source_location::current()) {
  static_assert(!std::is_lvalue_reference_v<A>,
                "coreio::spawn of an lvalue awaitable: the task would outlive it; move it in");
  return coreio::spawn(detail::as_task(std::forward<A>(aw)), where);
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
inline int current_worker() noexcept { return detail::t_current_index; }

}  // namespace coreio
