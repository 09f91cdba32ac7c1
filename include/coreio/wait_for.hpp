// coreio/wait_for.hpp — wait_for and wait_until: await a task with a time limit (asyncio.wait_for).
//
// `T v = co_await coreio::wait_for(f(), 100ms)` runs f() as a child of the caller (inline, on the
// same worker, no allocation beyond f's frame) and arms a timer in the worker's heap. If the time
// runs out first, the timer cancels the child; once the child has unwound, wait_for throws
// timeout_error. If the child ends first, the timer is removed and its value (or exception) comes
// back. Any awaitable works, not only tasks: wait_for(q.get(), 1s), wait_for(fut, 1s).
//
// A deadline already due (zero or negative duration, a past time point) is asyncio 3.12's
// wait_for: a task (a coroutine) is never started: its frame is destroyed unrun and wait_for
// throws timeout_error. Any other awaitable (a future, a join_handle, q.get()) is awaited once
// with the caller's child already cancelled: one that is ready (a future with its value, a queue
// with an item) gives its value, as asyncio's wait_for gives a done future's result; one that
// would suspend throws, and wait_for throws timeout_error. No timer is armed.
//
// Protocol: detail/child_join.hpp's, with two shares (W = the awaitable, in the caller's frame;
// C = the child; T = the timer entry in W):
//   remaining starts at 2: one share for C, one for T. Each side drops its share exactly once:
//     C, at its final suspend (child_done): stops T (timer_cancel: if T was still pending, T's
//       on_done(false) runs now, on this thread), then drops its share;
//     T, in on_done (on the thread that fired it: its worker, or the runtime's monitor when that
//       worker is stuck in a long poll): if it fired, it records the timeout and cancels C's scope
//       first; then drops its share.
//   Whoever drops the last share resumes the caller (C by symmetric transfer, T by scheduling it),
//   so W, C's frame and T are never freed while the other side uses them. With a deadline already
//   due there is no T: remaining starts at 1 (or, for a task, C never starts: nothing is armed).
//   Cancelling the caller cancels C (the cancel node armed on the caller's scope) and W waits for
//   it like any child; the caller then sees cancelled_error.
// Result: C's value if it produced one (even if the timer fired meanwhile: nothing is lost);
// timeout_error if the timer fired and C ended in cancelled_error while the caller itself was not
// cancelled; otherwise C's exception.
//
// Memory ordering: what each side writes before dropping its share (C's result, the timed_out_
// flag) is visible to the side that drops the last share and resumes the caller (child_join).
//
// Thread safety: may only be awaited from a task running on a worker; each awaitable once.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/child_join.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>
#include <coreio/time.hpp>

namespace coreio {

namespace detail {

template <class T>
class wait_for_awaitable final : child_join {
 public:
  /// `start_when_due`: whether a deadline already due still starts t (an awaitable's wrapper: a
  /// ready one gives its value) or not (the user's own task: never started).
  wait_for_awaitable(task<T> t, steady_clock::time_point deadline, bool start_when_due)
      : task_(std::move(t)), start_when_due_(start_when_due) {
    timer_.deadline = deadline;
  }
  wait_for_awaitable(wait_for_awaitable&& o) noexcept
      : child_join(std::move(o)), task_(std::move(o.task_)), start_when_due_(o.start_when_due_) {
    timer_.deadline = o.timer_.deadline;
  }

  bool await_ready() const {
    if (started_) throw_usage("a wait_for awaitable was awaited twice");
    if (!task_.valid()) throw_usage("wait_for of a moved-from or already-awaited coreio::task");
    return false;
  }

  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) {
    started_ = true;
    rt_ = this_runtime();
    if (!bind(parent, scope_of(parent))) return parent;  // await_resume throws cancelled_error
    const bool due = timer_.deadline <= steady_clock::now();
    if (due && !start_when_due_) {
      not_started_ = true;  // await_resume throws timeout_error; task_ destroys the unrun frame
      return parent;
    }
    auto& c = task_.handle().promise();
    adopt(c, /*same_task=*/true);
    set_shares(due ? 1 : 2);
    // Arm before inserting T: once T is in the heap, the monitor may fire it at any moment, so a
    // failed arm could no longer take it back. A cancel between the two cancels C, not yet started.
    if (!arm(&on_outer_cancel, wait_sites::wait_for, deadline_ns(timer_.deadline))) return parent;
    if (due) {
      timed_out_ = true;
      c.own_scope_.cancel();  // C (an awaitable's wrapper) runs to its first suspension point
    } else {
      timer_.on_done = &on_timer;
      timer_.self = this;
      timer_insert(&timer_);
      timer_inserted_ = true;
    }
    const std::coroutine_handle<> child = task_.handle();
    return launch(&child, 1);
  }

  decltype(auto) await_resume() {
    if (not_started_) throw timeout_error{};
    join_end();
    auto& c = task_.handle().promise();
    // timed_out_ is ordered by the acquire of the last share's drop (see the file comment).
    if (c.exception_ && timed_out_ && !parent_cancelled()) {
      try {
        std::rethrow_exception(c.exception_);
      } catch (const cancelled_error&) {
        c.exception_ = nullptr;
        throw timeout_error{};
      } catch (...) {
      }
    }
    return c.result();
  }

 private:
  std::coroutine_handle<> child_done(promise_base*) noexcept override {
    count_child_completed();
    if (timer_inserted_) timer_cancel(&timer_);  // finishes T's share now, or T fired already
    return drop_share();
  }

  static void on_timer(timer_entry* e, bool fired) noexcept {
    auto* self = static_cast<wait_for_awaitable*>(static_cast<timer*>(e)->self);
    if (fired) {
      self->timed_out_ = true;
      self->task_.handle().promise().own_scope_.cancel();
    }
    self->drop_share_and_resume(self->rt_);
  }

  static void on_outer_cancel(cancel_node* n) noexcept {
    static_cast<wait_for_awaitable*>(n)->task_.handle().promise().own_scope_.cancel();
  }

  struct timer : timer_entry {
    void* self = nullptr;
  };

  task<T> task_;
  timer timer_{};
  // The caller's runtime, on which T's on_done schedules the caller if it drops the last share.
  runtime_impl* rt_ = nullptr;
  // Written by T's worker before it drops its share; read by the caller after the last drop.
  bool timed_out_ = false;
  bool started_ = false;
  bool start_when_due_;
  // The deadline was due and t is the user's task: it was never started (see the file comment).
  bool not_started_ = false;
  bool timer_inserted_ = false;
};

}  // namespace detail

/// Awaits `aw` (a task or any awaitable) until `deadline`; throws timeout_error when the time runs
/// out, after the inner operation was cancelled and has finished unwinding.
///
/// Example:  auto v = co_await coreio::wait_until(fetch(), start + 2s);
template <class A>
auto wait_until(A&& aw, std::chrono::steady_clock::time_point deadline) {
  auto t = detail::as_task(std::forward<A>(aw));
  using T = typename decltype(t)::value_type;
  constexpr bool start_when_due = !detail::is_task_v<std::remove_cvref_t<A>>;
  return detail::wait_for_awaitable<T>(std::move(t), deadline, start_when_due);
}

/// Awaits `aw` (a task or any awaitable) for at most `d` (asyncio.wait_for). Throws timeout_error
/// when the time runs out, after the inner operation was cancelled and has finished unwinding.
///
/// Example:  int v = co_await coreio::wait_for(fetch(), 100ms);
template <class A, class Rep, class Period>
auto wait_for(A&& aw, std::chrono::duration<Rep, Period> d) {
  return wait_until(std::forward<A>(aw), detail::deadline_after(d));
}

}  // namespace coreio
