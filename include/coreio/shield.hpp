// coreio/shield.hpp — shield: protect an operation from the cancellation of its awaiter
// (asyncio.shield).
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
// Thread safety: may only be awaited from a task running on a worker.
#pragma once

#include <coroutine>
#include <utility>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/promise_base.hpp>
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
    return self->h_.promise().cell_.is_complete();
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
    switch (self->h_.promise().cell_.set_async_waiter(&rec)) {
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
    if (a->self->h_.promise().cell_.withdraw_async_waiter()) {
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

}  // namespace detail

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
  return detail::shielded(detail::as_task(std::forward<A>(aw)));
}

}  // namespace coreio
