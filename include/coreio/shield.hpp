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
//
// Thread safety: may only be awaited from a task running on a worker.
#pragma once

#include <coroutine>
#include <type_traits>
#include <utility>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task.hpp>

namespace coreio {

namespace detail {

template <class T>
struct shield_awaiter : cancel_node {
  join_handle<T>* self;
  cancel_scope* scope = nullptr;
  async_waiter rec{};
  bool armed = false;
  // Set by the canceller that withdrew the waiter, before it schedules the waiter.
  bool interrupted = false;

  explicit shield_awaiter(join_handle<T>* h) noexcept : self(h) {}

  bool await_ready() {
    self->check_retrievable();
    return self->h_.promise().spawned_->cell.is_complete();
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    scope = scope_of(caller);
    fn = &on_cancel;
    rec = {caller, this_runtime()};
    // Arm first, register last (completion_cell.hpp): once registered we may be resumed at once.
    if (!scope->arm(this)) {
      interrupted = true;
      return false;
    }
    armed = true;
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
    if (armed) scope->disarm(this);
    if (interrupted) throw_cancelled();
    self->consumed_ = true;
    return self->h_.promise().result();
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

template <class T>
class uncancellable_awaitable final : child_sink {
 public:
  explicit uncancellable_awaitable(task<T> t) noexcept : task_(std::move(t)) {}
  bool await_ready() const {
    if (!task_.valid()) throw_usage("uncancellable of a moved-from or already-awaited coreio::task");
    return false;
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    parent_ = parent;
    auto& c = task_.handle().promise();
    c.make_independent(completion_kind::gathered);  // a fresh scope, linked to nobody's
    c.sink_ = this;
    return transfer(task_.handle());
  }
  decltype(auto) await_resume() { return task_.handle().promise().result(); }

 private:
  std::coroutine_handle<> child_done(promise_base*) noexcept override { return parent_; }

  task<T> task_;
  std::coroutine_handle<> parent_{};
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
