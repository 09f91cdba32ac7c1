// coreio/gather.hpp — gather, gather_settled and when_any: run tasks in parallel on the pool and
// wait for all of them (gather, gather_settled) or for the first (when_any).
//
// `co_await gather(f(), g())` gives a tuple (a task<void> child gives std::monostate); any
// awaitable may stand for a task (`gather(q.get(), fut, f())`): it is awaited in a task of its own;
// `co_await gather(std::move(vec))` gives a vector in the order of the input. Children run in
// parallel: all but the first are pushed on the worker's deque where idle workers steal them, the
// first runs inline. On the first failure the others are cancelled and awaited, then that failure
// is rethrown; gather never returns while a child still runs. Cancelling the awaiting task cancels
// every child.
//
// `co_await gather_settled(...)` (asyncio's return_exceptions=True) never cancels a sibling: it
// waits for every child and gives one outcome<T> per child, value or exception, in input order.
//
// `auto [index, value] = co_await when_any(f(), g())` gives the first child to end: its index and
// its value (the value type when all children share it, else a std::variant indexed like the
// children), or rethrows its exception; the others are cancelled and awaited before it returns.
// A losing `q.get()` or `s.read_some(buf)` given to when_any directly takes nothing: if it was
// handed an item or read bytes before the cancel reached it, it puts them back (the item at the
// head of the queue, the bytes in front of the stream's buffer; a read's failure, such as a reset
// the kernel reports once, for the next read to throw), so `when_any(q.get(),
// sleep_for(tick))` in a loop loses no item, as Tokio's select! over a channel's recv. A losing
// task's value is dropped (as a select! branch's future): a task that takes an item and then
// loses loses the item, so give when_any the get itself, not a task that wraps it.
//
// Thread safety: may only be awaited from a task running on a worker; each awaitable once.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/gather_core.hpp>
#include <coreio/outcome.hpp>
#include <coreio/task.hpp>

namespace coreio {

/// What when_any gives: the index of the first child to end and its value.
template <class V>
struct when_any_result {
  std::size_t index;
  V value;
};

namespace detail {

template <class T>
using gather_result_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
gather_result_t<T> take_gather_result(task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    t.handle().promise().result();
    return {};
  } else {
    return t.handle().promise().result();
  }
}

template <class T>
outcome<T> take_outcome(task<T>& t) {
  auto& p = t.handle().promise();
  if (p.exception_) return outcome<T>(std::exchange(p.exception_, nullptr));
  if constexpr (std::is_void_v<T>) {
    return outcome<T>(std::in_place);
  } else {
    return outcome<T>(std::in_place, p.take());
  }
}

template <class T>
void check_gather_child(const task<T>& t) {
  if (!t.valid()) throw_usage("gather/when_any of a moved-from or already-awaited coreio::task");
}

/// A tuple-form argument: a task or any awaitable, not a vector of tasks (the vector forms).
template <class A>
inline constexpr bool is_task_vector_v = false;
template <class T>
inline constexpr bool is_task_vector_v<std::vector<task<T>>> = true;
template <class A>
concept gatherable = !is_task_vector_v<std::remove_cvref_t<A>>;

/// The value type of when_any over Ts: the shared type, or a variant indexed like the children.
template <class T0, class... Ts>
struct when_any_value {
  using type = std::conditional_t<(std::is_same_v<T0, Ts> && ...), gather_result_t<T0>,
                                  std::variant<gather_result_t<T0>, gather_result_t<Ts>...>>;
};
template <class... Ts>
using when_any_value_t = typename when_any_value<Ts...>::type;

template <gather_mode M, class... Ts>
class gather_tuple_awaitable final : gather_core {
  static constexpr std::size_t n = sizeof...(Ts);

 public:
  explicit gather_tuple_awaitable(task<Ts>... ts) : gather_core(M), tasks_(std::move(ts)...) {}

  bool await_ready() {
    check_fresh();
    std::apply([](auto&... t) { (check_gather_child(t), ...); }, tasks_);
    return false;
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    fill(std::index_sequence_for<Ts...>{});
    return start(
        parent, scope_of(parent), n, [this](std::size_t i) { return child(i); }, &cancel_children);
  }
  auto await_resume() {
    promise_base* winner = finish();
    if constexpr (M == gather_mode::all) {
      return collect(std::index_sequence_for<Ts...>{});
    } else if constexpr (M == gather_mode::settled) {
      return settle(std::index_sequence_for<Ts...>{});
    } else {
      return pick(winner, std::index_sequence_for<Ts...>{});
    }
  }

 private:
  /// Child i seen through its promise_base and an untyped handle (the children's types differ).
  struct erased_child {
    promise_base* p;
    std::coroutine_handle<> h;
    promise_base& promise() const noexcept { return *p; }
    operator std::coroutine_handle<>() const noexcept { return h; }
  };
  erased_child child(std::size_t i) const noexcept { return {promises_[i], handles_[i]}; }
  static void cancel_children(gather_core* self, const promise_base* except) noexcept {
    for (promise_base* c : static_cast<gather_tuple_awaitable*>(self)->promises_) {
      if (c != except) c->own_scope_.cancel();
    }
  }

  template <std::size_t... I>
  void fill(std::index_sequence<I...>) noexcept {
    ((promises_[I] = &std::get<I>(tasks_).handle().promise(),
      handles_[I] = std::get<I>(tasks_).handle()),
     ...);
  }
  template <std::size_t... I>
  std::tuple<gather_result_t<Ts>...> collect(std::index_sequence<I...>) {
    return std::tuple<gather_result_t<Ts>...>(take_gather_result(std::get<I>(tasks_))...);
  }
  template <std::size_t... I>
  std::tuple<outcome<Ts>...> settle(std::index_sequence<I...>) {
    return std::tuple<outcome<Ts>...>(take_outcome(std::get<I>(tasks_))...);
  }
  template <std::size_t... I>
  auto pick(promise_base* winner, std::index_sequence<I...>) {
    using V = when_any_value_t<Ts...>;
    std::optional<when_any_result<V>> out;
    auto one = [&]<std::size_t J>(std::integral_constant<std::size_t, J>) {
      if (promises_[J] != winner) return;
      if constexpr (std::is_same_v<V,
                                   gather_result_t<std::tuple_element_t<J, std::tuple<Ts...>>>>) {
        out.emplace(when_any_result<V>{J, take_gather_result(std::get<J>(tasks_))});
      } else {
        out.emplace(when_any_result<V>{
            J, V(std::in_place_index<J>, take_gather_result(std::get<J>(tasks_)))});
      }
    };
    (one(std::integral_constant<std::size_t, I>{}), ...);
    return std::move(*out);
  }

  std::tuple<task<Ts>...> tasks_;
  std::array<promise_base*, n> promises_{};
  std::array<std::coroutine_handle<>, n> handles_{};
};

template <gather_mode M, class T>
class gather_vector_awaitable final : gather_core {
 public:
  explicit gather_vector_awaitable(std::vector<task<T>> ts)
      : gather_core(M), tasks_(std::move(ts)) {
    if (M == gather_mode::any && tasks_.empty())
      throw_usage("when_any of an empty vector of tasks");
  }

  bool await_ready() {
    check_fresh();
    for (auto& t : tasks_) check_gather_child(t);
    return tasks_.empty();
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    return start(
        parent, scope_of(parent), tasks_.size(),
        [this](std::size_t i) { return tasks_[i].handle(); }, &cancel_children);
  }
  auto await_resume() {
    if constexpr (M == gather_mode::all) {
      if (!tasks_.empty()) finish();
      if constexpr (std::is_void_v<T>) {
        for (auto& t : tasks_) t.handle().promise().result();
      } else {
        std::vector<T> out;
        out.reserve(tasks_.size());
        for (auto& t : tasks_) out.push_back(t.handle().promise().result());
        return out;
      }
    } else if constexpr (M == gather_mode::settled) {
      if (!tasks_.empty()) finish();
      std::vector<outcome<T>> out;
      out.reserve(tasks_.size());
      for (auto& t : tasks_) out.push_back(take_outcome(t));
      return out;
    } else {
      promise_base* winner = finish();
      std::size_t i = 0;
      while (static_cast<promise_base*>(&tasks_[i].handle().promise()) != winner) ++i;
      return when_any_result<gather_result_t<T>>{i, take_gather_result(tasks_[i])};
    }
  }

 private:
  static void cancel_children(gather_core* self, const promise_base* except) noexcept {
    for (auto& t : static_cast<gather_vector_awaitable*>(self)->tasks_) {
      promise_base& c = t.handle().promise();
      if (&c != except) c.own_scope_.cancel();
    }
  }

  std::vector<task<T>> tasks_;
};

/// gather() and gather_settled() of nothing: ready at once with an empty tuple, no suspension.
struct gather_nothing {
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  std::tuple<> await_resume() const noexcept { return {}; }
};

}  // namespace detail

/// With no tasks: an empty tuple at once, without suspending (asyncio.gather() gives []).
inline detail::gather_nothing gather() noexcept { return {}; }

/// Runs every task in parallel and returns a tuple of their results.
///
/// Example:  auto [a, b] = co_await coreio::gather(fetch(1), fetch(2));
template <class... As>
  requires(sizeof...(As) > 0 && (detail::gatherable<As> && ...))
auto gather(As&&... as) {
  return detail::gather_tuple_awaitable<detail::gather_mode::all, detail::as_task_value_t<As>...>(
      detail::as_task(std::forward<As>(as))...);
}

/// Runs every task in parallel and returns their results in input order (nothing for task<void>).
template <class T>
detail::gather_vector_awaitable<detail::gather_mode::all, T> gather(std::vector<task<T>> ts) {
  return detail::gather_vector_awaitable<detail::gather_mode::all, T>(std::move(ts));
}

/// With no tasks: an empty tuple at once, without suspending.
inline detail::gather_nothing gather_settled() noexcept { return {}; }

/// Runs every task in parallel to its end, failures included, and returns a tuple of outcomes.
///
/// Example:  auto [a, b] = co_await coreio::gather_settled(f(), g());  if (!a) log(a.error());
template <class... As>
  requires(sizeof...(As) > 0 && (detail::gatherable<As> && ...))
auto gather_settled(As&&... as) {
  return detail::gather_tuple_awaitable<detail::gather_mode::settled,
                                        detail::as_task_value_t<As>...>(
      detail::as_task(std::forward<As>(as))...);
}

/// Runs every task in parallel to its end and returns their outcomes in input order.
template <class T>
detail::gather_vector_awaitable<detail::gather_mode::settled, T> gather_settled(
    std::vector<task<T>> ts) {
  return detail::gather_vector_awaitable<detail::gather_mode::settled, T>(std::move(ts));
}

/// Runs the tasks in parallel; the first to end wins: returns {index, value} or rethrows its
/// exception, after the others were cancelled and have ended.
///
/// Example:  auto [index, value] = co_await coreio::when_any(from_cache(), from_db());
template <class... As>
  requires(sizeof...(As) > 0 && (detail::gatherable<As> && ...))
auto when_any(As&&... as) {
  return detail::gather_tuple_awaitable<detail::gather_mode::any, detail::as_task_value_t<As>...>(
      detail::as_any_child(std::forward<As>(as))...);
}

/// when_any over a vector (usage_error if it is empty).
template <class T>
detail::gather_vector_awaitable<detail::gather_mode::any, T> when_any(std::vector<task<T>> ts) {
  return detail::gather_vector_awaitable<detail::gather_mode::any, T>(std::move(ts));
}

}  // namespace coreio
