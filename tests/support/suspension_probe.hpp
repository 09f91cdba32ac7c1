// support/suspension_probe.hpp — deterministic waits for "the task is suspended in X by now",
// instead of sleeping and hoping.
//
// A test that cancels, wakes or times out a waiter must know the waiter is really queued in the
// primitive, or the path it names (a cancelled waiter, a hand-off to the next one) may never run.
// Setting a flag just before the `co_await` is not enough on several workers: the flag is seen
// while the task is still between the store and its suspension. These probes close that gap:
//
//   * count_suspension(aw, &n): awaits `aw` exactly as `co_await aw` would, and bumps `n` once
//     the awaiter has suspended the task (its await_suspend returned: the task is queued in the
//     primitive, the timer, the future...). Any thread may then wait for `n` (wait_until on a plain
//     thread, yield_until in a task) and act on a task that is certainly waiting. If `aw` completes
//     without suspending, `n` is not bumped, so a test that expects a wait fails instead of taking
//     the other path in silence.
//   * yield_until(&n, k): a task yields until n >= k. On one worker, a flag or counter that another
//     task bumps right before its `co_await` is enough too: tasks are not preempted, so once this
//     task sees it, that task has reached its suspension point.
//   * ready_tasks_ran(): on one worker, from a plain thread, lets every task made ready before run
//     up to its next suspension (a woken waiter that must now wait for something else).
//
// Safety: once the inner await_suspend has returned, the task may already have been resumed on
// another thread and its frame (which holds this awaiter) destroyed; the counter pointer is copied
// to a local first and nothing of *this is touched afterwards. The counter itself is written after
// the task may have been resumed and even ended, so it must outlive that store: wait for it (the
// usual case), or keep it alive until the runtime is destroyed (a loop that never reads it).
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <coreio/spawn.hpp>
#include <coreio/task.hpp>

namespace coreio_test {

namespace probe_detail {

template <class A>
concept has_member_co_await = requires(A&& a) { std::forward<A>(a).operator co_await(); };

template <class A>
decltype(auto) awaiter_of(A&& a) {
  if constexpr (has_member_co_await<A>) {
    return std::forward<A>(a).operator co_await();  // a prvalue: built in place, never moved
  } else {
    return static_cast<A&>(a);  // the awaitable is its own awaiter: used in place
  }
}

template <class T>
constexpr bool is_counter_v = false;
template <class I>
constexpr bool is_counter_v<std::atomic<I>> = std::is_integral_v<I>;

/// Release pairs with the acquire loads of yield_until (and with wait_until's seq_cst loads).
template <class I>
void bump(std::atomic<I>* n) noexcept {
  if constexpr (std::is_same_v<I, bool>) {
    n->store(true, std::memory_order_release);
  } else {
    n->fetch_add(1, std::memory_order_release);
  }
}

}  // namespace probe_detail

/// The awaitable count_suspension returns; holds `A`'s awaiter (or a reference to `A` itself when
/// it is its own awaiter: the temporary lives until the end of the co_await's full-expression).
/// It is not itself the awaiter: operator co_await hands out a small one that points back here, so
/// that an lvalue suspension_counter (given to wait_for, say) is never copied: GCC 12 asks for a
/// copy of an lvalue awaiter in `co_await std::forward<A>(a)` (detail/as_task.hpp).
template <class A, class Counter>
class suspension_counter {
 public:
  using awaiter_type = decltype(probe_detail::awaiter_of(std::declval<A>()));

  suspension_counter(A&& a, Counter* n)
      : inner_(probe_detail::awaiter_of(std::forward<A>(a))), n_(n) {}
  suspension_counter(const suspension_counter&) = delete;
  suspension_counter& operator=(const suspension_counter&) = delete;

  class awaiter {
   public:
    explicit awaiter(suspension_counter* c) noexcept : c_(c) {}
    bool await_ready() { return c_->inner_.await_ready(); }

    template <class P>
    auto await_suspend(std::coroutine_handle<P> h) {
      Counter* n = c_->n_;  // *this and *c_ may be gone once the inner await_suspend has returned
      using result = decltype(c_->inner_.await_suspend(h));
      if constexpr (std::is_void_v<result>) {
        c_->inner_.await_suspend(h);
        probe_detail::bump(n);
      } else if constexpr (std::is_same_v<result, bool>) {
        const bool suspended = c_->inner_.await_suspend(h);
        if (suspended) probe_detail::bump(n);
        return suspended;
      } else {  // a coroutine handle to transfer to: the task is suspended
        auto next = c_->inner_.await_suspend(h);
        probe_detail::bump(n);
        return next;
      }
    }

    decltype(auto) await_resume() { return c_->inner_.await_resume(); }

   private:
    suspension_counter* c_;
  };

  awaiter operator co_await() noexcept { return awaiter(this); }

 private:
  awaiter_type inner_;
  Counter* n_;
};

/// `co_await count_suspension(aw, &n)` is `co_await aw`, and bumps n (a std::atomic of an integer
/// type, or sets a std::atomic<bool>) once the task is suspended in it. `aw` may be a temporary
/// (`q->get()`, `m->lock()`, a future) or an lvalue awaiter the caller keeps alive. An awaitable
/// that transfers control to another coroutine (a task, wait_for, shield) counts as suspended
/// before that coroutine has run: probe what it awaits inside instead when that matters.
template <class A, class Counter>
  requires probe_detail::is_counter_v<Counter>
suspension_counter<A, Counter> count_suspension(A&& aw, Counter* n) {
  return suspension_counter<A, Counter>(std::forward<A>(aw), n);
}

/// Yields until *n >= k. Throws std::runtime_error after `timeout` (the test fails, it does not
/// hang), so that a wait that never comes is reported as such.
inline coreio::task<void> yield_until(
    const std::atomic<int>* n, int k,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (n->load(std::memory_order_acquire) < k) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("yield_until: timed out");
    co_await coreio::yield_now();
  }
}

/// Yields until *flag is true (as above).
inline coreio::task<void> yield_until(
    const std::atomic<bool>* flag,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!flag->load(std::memory_order_acquire)) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("yield_until: timed out");
    co_await coreio::yield_now();
  }
}

/// Yields until pred() is true (as above). On one worker, pred may read what the other tasks
/// write without a lock: they all run on this thread.
template <class Pred>
  requires std::is_invocable_r_v<bool, Pred&>
coreio::task<void> yield_until(
    Pred pred, std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("yield_until: timed out");
    co_await coreio::yield_now();
  }
}

/// From a plain thread on a runtime with one worker, `rt.block_on(ready_tasks_ran())` returns once
/// every task this thread made ready before (spawned, woken, cancelled) has run up to its next
/// suspension. They went through the global queue ahead of this task (one producer: FIFO), so they
/// were taken off it first; the yield then puts this task behind every task ready at that moment
/// (README, "Threading model").
inline coreio::task<void> ready_tasks_ran() { co_await coreio::yield_now(); }

}  // namespace coreio_test
