// coreio/detail/as_task.hpp — turns any awaitable (a future, a join_handle, a queue get, ...) into a
// task, so that the combinators that need a task frame (wait_for, shield) accept it too.
//
// An lvalue awaitable is referenced, not copied: it must outlive the returned task (it does when
// the combinator is awaited in the same full expression, the usual case).
#pragma once

#include <type_traits>
#include <utility>

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

/// The value type of as_task(a): what `co_await a` gives.
template <class A>
using as_task_value_t = typename decltype(as_task(std::declval<A>()))::value_type;

}  // namespace coreio::detail
