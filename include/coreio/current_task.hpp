// coreio/current_task.hpp — the caller's task (asyncio.current_task()): its id, its name, where it
// was spawned, and a way to cancel it.
//
//   auto h = coreio::spawn(fetch(url), "fetch");        // a name (any text) and, implicitly, the
//                                                      // spawn's std::source_location
//   ...inside fetch:
//   coreio::task_ref me = co_await coreio::current_task();
//   log(me.id(), me.name(), me.spawned_at().line());
//   if (giving_up) me.cancel();                        // its next suspension point throws
//                                                      // cancelled_error, as join_handle::cancel
//
// The current task is the innermost independent thread of execution the caller runs in: the
// spawned task, or, inside a gather, the gather's child (a gather child has no id, name nor spawn
// place: id() 0, name() "", spawned_at() default; cancel() cancels that child alone). Coroutines
// awaited inline (`co_await f()`) belong to their awaiter's task, and so do the bodies of
// timeout_scope::run, wait_for and uncancellable (asyncio's timeout() and wait_for() await their
// coroutine in the current task): there current_task() is the caller's task, and its cancel()
// cancels that task, the body with it (cm.run() then throws cancelled_error, not timeout_error;
// an uncancellable body runs on).
//
// Cost: identity is three fields of the spawned task's state, set at spawn (the name, when given,
// is interned in a process-wide table under a lock); current_task() does not suspend.
//
// Thread safety: a task_ref is valid while its task runs: use it from inside the task (or while
// holding the task's join_handle). id(), name(), spawned_at() and cancel() from any thread.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <string_view>

#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/task_graph.hpp>

namespace coreio {

namespace detail {
/// The text of an interned task name (spawned_task.hpp's intern_task_name); "" for 0.
std::string_view task_name(std::uint32_t index) noexcept;

struct current_task_awaiter;
}  // namespace detail

/// A reference to a running task (see the file comment for what it refers to).
class task_ref {
 public:
  /// The task's process-unique id (> 0); 0 for a gather child.
  std::uint64_t id() const noexcept { return spawned() ? p_->spawned_->id : 0; }
  /// The name given at spawn; "" when none.
  std::string_view name() const noexcept {
    return spawned() ? detail::task_name(p_->spawned_->name) : std::string_view{};
  }
  /// Where spawn was called.
  std::source_location spawned_at() const noexcept {
    return spawned() ? p_->spawned_->where : std::source_location{};
  }
  /// Requests cancellation of the task: its current or next suspension point throws
  /// cancelled_error. Idempotent.
  void cancel() noexcept { p_->own_scope_.cancel(); }

 private:
  friend struct detail::current_task_awaiter;
  explicit task_ref(detail::promise_base* p) noexcept : p_(p) {}
  bool spawned() const noexcept { return p_->kind_ == detail::completion_kind::spawned; }
  detail::promise_base* p_;
};

namespace detail {
struct current_task_awaiter {
  promise_base* owner = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    owner = named_task(scope_of(h));
    return false;  // never suspends: only reads the caller's frame
  }
  task_ref await_resume() const noexcept { return task_ref{owner}; }
};
}  // namespace detail

/// The caller's task: `co_await coreio::current_task()`. Coroutines of coreio only; never
/// suspends, never throws.
inline detail::current_task_awaiter current_task() noexcept { return {}; }

}  // namespace coreio
