// coreio/shield.hpp — shield and uncancellable: protect an operation from the cancellation of its
// awaiter.
//
// `co_await coreio::shield(f())` spawns f() as a task of its own and awaits it. If the awaiting
// task is cancelled, the await throws cancelled_error at once, and f() runs on to its end, detached
// (its result is dropped). `co_await coreio::shield(handle)` does the same for a task already
// spawned: cancelling the awaiter does not cancel the task (a plain `co_await handle` forwards it).
//
// Protocol: the awaiter arms a cancel node on its scope, then registers as the async waiter of the
// task's completion cell. A cancel withdraws the registration (completion_cell::withdraw_async_waiter)
// and resumes the awaiter with cancelled_error; if the task completed first, the producer resumes
// it with the result instead. Nothing is ever forwarded to the task's own scope.
//
// `co_await coreio::uncancellable(cleanup())` runs cleanup() inline (no spawn) under a cancel scope
// of its own and waits for it to end, even if the awaiting task is or gets cancelled. It is how a
// cancelled task awaits its asynchronous clean-up: cancellation is sticky, so after a
// cancelled_error every other suspension point of the task throws again at once. (C++ allows no
// co_await inside a catch block: keep the exception_ptr, await after the block, then rethrow.)
// The clean-up should be bounded (wrap it in wait_for): nothing can interrupt it from outside.
// Protocol: detail/child_join.hpp's with one child and no node armed on the caller's scope.
//
// Thread safety: may only be awaited from a task running on a worker.
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/child_join.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task.hpp>

namespace coreio {

namespace detail {

/// Waits for a spawned task's completion cell; its node on the awaiter's scope (parent_link,
/// detail/child_join.hpp) withdraws the wait instead of forwarding the cancel.
template <class T>
struct shield_awaiter : parent_link {
  join_handle<T>* self;
  async_waiter rec{};
  // Set by the canceller that withdrew the waiter, before it schedules the waiter.
  bool interrupted = false;

  explicit shield_awaiter(join_handle<T>* h) noexcept : self(h) {}

  bool await_ready() {
    self->check_retrievable();
    return self->h_.promise().spawned_->cell.is_complete();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    note_awaited_by(&self->h_.promise(), scope_of(caller));  // throws if the caller is the task
    (void)bind(caller, scope_of(caller));  // a cancelled scope makes the arm below fail
    rec = {caller, this_runtime()};
    // Arm first, register last (completion_cell.hpp): once registered we may be resumed at once.
    if (!arm(&on_cancel, wait_sites::join, static_cast<std::int64_t>(self->id()))) {
      interrupted = true;
      return false;
    }
    switch (self->h_.promise().spawned_->cell.set_async_waiter(&rec)) {
      case completion_cell::registration::suspended:
        return true;
      case completion_cell::registration::cancelled:
        interrupted = true;
        return false;
      case completion_cell::registration::complete:
        break;
    }
    return false;
  }
  T await_resume() {
    disarm_if_armed();
    if (interrupted) throw_cancelled();
    self->consumed_ = true;
    return self->take_result();
  }
  static void on_cancel(cancel_node* n) noexcept {
    auto* a = static_cast<shield_awaiter*>(n);
    if (a->self->h_.promise().spawned_->cell.withdraw_async_waiter()) {
      a->interrupted = true;
      schedule(a->rec.rt, a->rec.handle);
    }
  }
};

template <class T>
task<T> shielded(task<T> t) {
  join_handle<T> h = spawn(std::move(t));
  co_return co_await shield_awaiter<T>(&h);
}

/// A join of one child whose node is never armed: the caller's cancellation does not reach it.
template <class T>
class uncancellable_awaitable final : child_join {
 public:
  explicit uncancellable_awaitable(task<T> t) noexcept : task_(std::move(t)) {}
  uncancellable_awaitable(uncancellable_awaitable&& o) noexcept
      : child_join(std::move(o)), task_(std::move(o.task_)) {}
  bool await_ready() const {
    if (!task_.valid())
      throw_usage("uncancellable of a moved-from or already-awaited coreio::task");
    return false;
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    // The caller's scope may be cancelled: the child runs anyway, under a fresh scope linked to
    // nobody's, so bind's answer is not used. The node is parked on the caller's scope with a
    // cancel function that does nothing, only so that dump_tasks shows the caller waiting here.
    cancel_scope* scope = scope_of(parent);
    (void)bind(parent, scope);
    fn = &ignore_cancel;
    scope->note_wait(&wait_sites::uncancellable);
    scope->park(this);
    adopt(task_.handle().promise(), /*same_task=*/true);  // the caller's task (current_task.hpp)
    set_shares(1);
    // Not launch(): the clean-up runs inline like an awaited task and is not counted as a forked
    // child in the metrics.
    return transfer(task_.handle());
  }
  decltype(auto) await_resume() {
    scope_->disarm(this);  // parked in await_suspend, which always runs (await_ready is false)
    return task_.handle().promise().result();
  }

 private:
  std::coroutine_handle<> child_done(promise_base*) noexcept override { return drop_share(); }
  static void ignore_cancel(cancel_node*) noexcept {}

  task<T> task_;
};

}  // namespace detail

/// Runs `aw` (a task or any awaitable) to its end even if the caller is or gets cancelled, and
/// returns its result. For the asynchronous clean-up of a cancelled task.
///
/// Example:
///   std::exception_ptr cancelled;
///   try { co_await serve(conn); }
///   catch (const coreio::cancelled_error&) { cancelled = std::current_exception(); }
///   if (cancelled) {
///     co_await coreio::uncancellable(coreio::wait_for(conn.goodbye(), 1s));
///     std::rethrow_exception(cancelled);
///   }
template <class A>
auto uncancellable(A&& aw) {
  auto t = detail::as_task(std::forward<A>(aw));
  using T = typename decltype(t)::value_type;
  return detail::uncancellable_awaitable<T>(std::move(t));
}

/// Awaits a spawned task without passing on the awaiter's cancellation: a cancelled awaiter stops
/// waiting (cancelled_error) and the task runs on. A later `co_await h` still gets the result.
template <class T>
detail::shield_awaiter<T> shield(join_handle<T>& h) noexcept {
  return detail::shield_awaiter<T>(&h);
}

/// Runs `aw` (a task or any awaitable) as a task of its own that the awaiter's cancellation does not
/// reach: a cancelled awaiter throws cancelled_error at once, the shielded work runs on detached.
///
/// Example:  co_await coreio::shield(save_to_disk(record));   // finishes even if we are cancelled
template <class A>
auto shield(A&& aw) {
  // The shielded work outlives the await exactly when the awaiter is cancelled; a referenced
  // awaitable would die with the awaiter's frame under it. join_handle& has its own overload.
  static_assert(!std::is_lvalue_reference_v<A>,
                "coreio::shield(aw) moves aw into a task of its own that may outlive the awaiter: "
                "pass an rvalue (std::move(aw)), a task, or a join_handle");
  return detail::shielded(detail::as_task(std::forward<A>(aw)));
}

}  // namespace coreio
