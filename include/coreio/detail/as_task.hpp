// coreio/detail/as_task.hpp — turns any awaitable (a future, a join_handle, a queue get, ...) into a
// task, so that the combinators that need a task frame (wait_for, shield) accept it too.
//
// An lvalue awaitable is referenced, not copied: it must outlive the returned task (it does when
// the combinator is awaited in the same full expression, the usual case).
//
// Giving back (when_any's children, as_any_child): an awaitable that takes something from a shared
// source (a queue get its item, a socket read its bytes) may say how to put it back: a member
// `give_back(value)` (the gives_back concept). when_any keeps only its first child's value; a
// loser's would be dropped, and an item or bytes it had been handed before the cancel reached it
// would be lost (Tokio's select! has no such case: a losing future never completed). So such an
// awaitable runs in await_giving_back: once it has its value, the child asks the when_any whether
// it is the first (claim_first: the winner is decided there, before the value is returned); if not,
// it gives the value back and ends cancelled. A failure it took (a socket read's reset, which the
// kernel reports once) goes back the same way if the awaitable has `give_back_failure(ep)`; else
// a losing failure is dropped, as any loser's.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>

namespace coreio::detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else {
    return std::forward<A>(a);
  }
}

/// The type `co_await a` gives.
template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

template <class A>
task<await_result_t<A>> await_in_task(A a) {
  co_return co_await std::forward<A>(a);
}

/// t itself if it is a task, else a task that awaits it. A task must be an rvalue; an awaitable
/// may be an lvalue, referenced by the task (see the file comment).
template <class A>
auto as_task(A&& a) {
  if constexpr (is_task_v<std::remove_cvref_t<A>>) {
    return std::remove_cvref_t<A>(std::forward<A>(a));
  } else {
    return await_in_task<A>(std::forward<A>(a));
  }
}

/// An awaitable that can put back what `co_await a` gave it (see the file comment).
template <class A>
concept gives_back = !std::is_void_v<await_result_t<A>> &&
                     requires(std::remove_reference_t<decltype(get_awaiter(std::declval<A>()))>& w,
                              await_result_t<A>&& v) { w.give_back(std::move(v)); };

/// An awaitable that can also put back a failure it took (see the file comment).
template <class A>
concept gives_back_failure =
    requires(std::remove_reference_t<decltype(get_awaiter(std::declval<A>()))>& w,
             std::exception_ptr e) { w.give_back_failure(e); };

/// `co_await claim_first{}` in a gathered child: whether its sink takes the child's value
/// (child_sink::claim_first). Never suspends: await_suspend returns false, so the child goes on at
/// once; it only needs the child's promise.
struct claim_first {
  bool first = true;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    promise_base& p = h.promise();
    // sink_ is the gathering combinator's while the child runs (promise_base: set before it starts).
    first = p.kind_ != completion_kind::gathered || p.sink_->claim_first(&p);
    return false;
  }
  bool await_resume() const noexcept { return first; }
};

/// Awaits *w itself. g++ 12 moves an awaiter named in `co_await std::move(w)` into a temporary of
/// its own and awaits that, so the state the await left (a read's claim on its stream, what it
/// took) would be in the temporary, destroyed at the end of the co_await, and not in w; through
/// this pointer it stays in w.
template <class W>
struct await_in_place {
  W* w;
  bool await_ready() { return w->await_ready(); }
  template <class P>
  auto await_suspend(std::coroutine_handle<P> h) {
    return w->await_suspend(h);
  }
  decltype(auto) await_resume() { return w->await_resume(); }
};

/// await_in_task for a when_any child that gives back what it took if another child won.
/// A is the awaiter's type, or a reference to an lvalue awaiter (referenced, as await_in_task).
template <class A>
task<await_result_t<A>> await_giving_back(A a) {
  // An awaiter itself (as_any_child checks it: a queue get, a read_some), awaited in place: its
  // give_back needs what the await left in it.
  std::optional<await_result_t<A>> v;
  std::exception_ptr failed;
  try {
    v.emplace(co_await await_in_place<std::remove_reference_t<A>>{&a});
  } catch (const cancelled_error&) {
    throw;  // it lost (or the when_any was cancelled) before it took anything
  } catch (...) {
    if constexpr (!gives_back_failure<A>) throw;
    failed = std::current_exception();
  }
  const bool first = co_await claim_first{};
  if (!first) {
    if constexpr (gives_back_failure<A>) {
      if (failed) {
        a.give_back_failure(failed);
        throw_cancelled();
      }
    }
    a.give_back(std::move(*v));
    throw_cancelled();
  }
  if (failed) std::rethrow_exception(failed);
  co_return std::move(*v);
}

/// as_task for a child of when_any: a giving-back awaiter runs in await_giving_back (see the file
/// comment; moved in, or referenced if an lvalue, as as_task), everything else as as_task.
template <class A>
auto as_any_child(A&& a) {
  if constexpr (!is_task_v<std::remove_cvref_t<A>> &&
                !std::is_const_v<std::remove_reference_t<A>> && gives_back<A> &&
                std::is_same_v<std::remove_cvref_t<decltype(get_awaiter(std::declval<A>()))>,
                               std::remove_cvref_t<A>>) {
    return await_giving_back<A>(std::forward<A>(a));
  } else {
    return as_task(std::forward<A>(a));
  }
}

template <class A>
struct as_task_value {
  using type = await_result_t<A>;
};
template <class A>
  requires is_task_v<std::remove_cvref_t<A>>
struct as_task_value<A> {
  using type = typename std::remove_cvref_t<A>::value_type;
};
/// The value type of as_task(a): what `co_await a` gives. Named without instantiating as_task, so
/// that naming it costs no coroutine body (as_any_child may not use await_in_task at all).
template <class A>
using as_task_value_t = typename as_task_value<A>::type;

}  // namespace coreio::detail
