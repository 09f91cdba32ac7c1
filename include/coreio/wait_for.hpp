// coreio/wait_for.hpp — wait_for and wait_until: await a task with a time limit (asyncio.wait_for).
//
// `T v = co_await coreio::wait_for(f(), 100ms)` runs f() as a child of the caller (inline, on the
// same worker, no allocation beyond f's frame) and arms a timer in the worker's heap. If the time
// runs out first, the timer cancels the child; once the child has unwound, wait_for throws
// timeout_error. If the child ends first, the timer is removed and its value (or exception) comes
// back. Any awaitable works, not only tasks: wait_for(q.get(), 1s), wait_for(fut, 1s).
//
// A deadline already due (zero or negative duration, a past time point) is asyncio 3.12's
// wait_for / timeout: no timer; the child starts cancelled, so it runs until its first suspension
// point, which throws, and wait_for throws timeout_error; a child that ends without suspending
// returns its value.
//
// Protocol (W = the awaitable, in the caller's frame; C = the child; T = the timer entry in W):
//   remaining_ starts at 2: one share for C, one for T. Each side finishes its share exactly once:
//     C, at its final suspend (child_done): stops T (timer_cancel: if T was still pending, T's
//       on_done(false) runs now, on this thread), then drops its share;
//     T, in on_done (on the thread that fired it: its worker, or the runtime's monitor when that
//       worker is stuck in a long poll): if it fired, it records the timeout and cancels C's scope
//       first; then drops its share.
//   Whoever drops the last share resumes the caller (C by symmetric transfer, T by scheduling it),
//   so W, C's frame and T are never freed while the other side uses them. With a deadline already
//   due there is no T: remaining_ starts at 1.
//   Cancelling the caller cancels C (the cancel node armed on the caller's scope) and W waits for
//   it like any child; the caller then sees cancelled_error.
// Result: C's value if it produced one (even if the timer fired meanwhile: nothing is lost);
// timeout_error if the timer fired and C ended in cancelled_error while the caller itself was not
// cancelled; otherwise C's exception.
//
// Memory ordering: what each side writes before its acq_rel fetch_sub on remaining_ (C's result,
// the timed_out_ flag) is visible to the side that drops the last share and resumes the caller.
//
// Thread safety: may only be awaited from a task running on a worker; each awaitable once.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>
#include <coreio/time.hpp>

namespace coreio {

namespace detail {

template <class T>
class wait_for_awaitable final : child_sink, cancel_node {
 public:
  wait_for_awaitable(task<T> t, steady_clock::time_point deadline) : task_(std::move(t)) {
    timer_.deadline = deadline;
  }
  wait_for_awaitable(wait_for_awaitable&& o) noexcept : task_(std::move(o.task_)) {
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
    parent_ = parent;
    scope_ = scope_of(parent);
    rt_ = this_runtime();
    if (scope_->cancelled()) return parent;  // await_resume throws cancelled_error
    auto& c = task_.handle().promise();
    c.make_independent(completion_kind::gathered);
    c.sink_ = this;
    const bool due = timer_.deadline <= steady_clock::now();
    // Relaxed: published to C by the symmetric transfer below, to T by the heap insertion.
    remaining_.store(due ? 1 : 2, std::memory_order_relaxed);
    // Arm before inserting T: once T is in the heap, the monitor may fire it at any moment, so a
    // failed arm could no longer take it back. A cancel between the two cancels C, not yet started.
    fn = &on_outer_cancel;
    if (!scope_->arm(this)) return parent;
    armed_ = true;
    if (due) {
      timed_out_ = true;
      c.own_scope_.cancel();  // C runs to its first suspension point, which throws
    } else {
      timer_.on_done = &on_timer;
      timer_.self = this;
      timer_insert(&timer_);
      timer_inserted_ = true;
    }
    count_child_spawned(1);
    return transfer(task_.handle());
  }

  decltype(auto) await_resume() {
    if (!armed_) throw_cancelled();
    scope_->disarm(this);
    auto& c = task_.handle().promise();
    // timed_out_ is ordered by the acquire of the last fetch_sub (see the file comment).
    if (c.exception_ && timed_out_ && !scope_->cancelled()) {
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

  std::coroutine_handle<> drop_share() noexcept {
    // acq_rel: release publishes this side's writes; the last one acquires the other side's.
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) return parent_;
    return std::noop_coroutine();
  }

  static void on_timer(timer_entry* e, bool fired) noexcept {
    auto* self = static_cast<wait_for_awaitable*>(static_cast<timer*>(e)->self);
    if (fired) {
      self->timed_out_ = true;
      self->task_.handle().promise().own_scope_.cancel();
    }
    std::coroutine_handle<> next = self->drop_share();
    if (next != std::noop_coroutine()) schedule(self->rt_, next);
  }

  static void on_outer_cancel(cancel_node* n) noexcept {
    static_cast<wait_for_awaitable*>(n)->task_.handle().promise().own_scope_.cancel();
  }

  struct timer : timer_entry {
    void* self = nullptr;
  };

  task<T> task_;
  timer timer_{};
  std::coroutine_handle<> parent_{};
  cancel_scope* scope_ = nullptr;
  runtime_impl* rt_ = nullptr;
  // Shares still held (C and T). RMW only.
  std::atomic<int> remaining_{0};
  // Written by T's worker before it drops its share; read by the caller after the last drop.
  bool timed_out_ = false;
  bool armed_ = false;
  bool started_ = false;
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
  return detail::wait_for_awaitable<T>(std::move(t), deadline);
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
