// coreio/gather.hpp — gather: run tasks in parallel on the pool and wait for all of them.
//
// `co_await gather(f(), g())` gives a tuple (a task<void> child gives std::monostate);
// `co_await gather(std::move(vec))` gives a vector in the order of the input. Children run in
// parallel: all but the last are pushed on the worker's deque where idle workers steal them, the
// last runs inline. On the first failure the others are cancelled and awaited, then that failure
// is rethrown; gather never returns while a child still runs. Cancelling the awaiting task cancels
// every child.
//
// Thread safety: may only be awaited from a task running on a worker; each awaitable once.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <coreio/detail/gather_core.hpp>
#include <coreio/task.hpp>

namespace coreio {

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

template <class... Ts>
class gather_tuple_awaitable final : gather_core {
  static constexpr std::size_t n = sizeof...(Ts);

 public:
  explicit gather_tuple_awaitable(task<Ts>... ts) : tasks_(std::move(ts)...) {}

  bool await_ready() {
    check_fresh();
    std::apply([](auto&... t) { (check_valid(t), ...); }, tasks_);
    return false;
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    fill(std::index_sequence_for<Ts...>{});
    return start(parent, scope_of(parent), promises_.data(), handles_.data(), n);
  }
  std::tuple<gather_result_t<Ts>...> await_resume() {
    finish();
    return collect(std::index_sequence_for<Ts...>{});
  }

 private:
  template <class T>
  static void check_valid(const task<T>& t) {
    if (!t.valid()) throw_usage("gather of a moved-from or already-awaited coreio::task");
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

  std::tuple<task<Ts>...> tasks_;
  std::array<promise_base*, n> promises_{};
  std::array<std::coroutine_handle<>, n> handles_{};
};

template <class T>
class gather_vector_awaitable final : gather_core {
 public:
  using result_type = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;

  explicit gather_vector_awaitable(std::vector<task<T>> ts) : tasks_(std::move(ts)) {}

  bool await_ready() {
    check_fresh();
    for (auto& t : tasks_) {
      if (!t.valid()) throw_usage("gather of a moved-from or already-awaited coreio::task");
    }
    return tasks_.empty();
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    promises_.reserve(tasks_.size());
    handles_.reserve(tasks_.size());
    for (auto& t : tasks_) {
      promises_.push_back(&t.handle().promise());
      handles_.push_back(t.handle());
    }
    return start(parent, scope_of(parent), promises_.data(), handles_.data(), tasks_.size());
  }
  result_type await_resume() {
    if (tasks_.empty()) {
      if constexpr (std::is_void_v<T>) return;
      else return {};
    }
    finish();
    if constexpr (std::is_void_v<T>) {
      for (auto& t : tasks_) t.handle().promise().result();
    } else {
      std::vector<T> out;
      out.reserve(tasks_.size());
      for (auto& t : tasks_) out.push_back(t.handle().promise().result());
      return out;
    }
  }

 private:
  std::vector<task<T>> tasks_;
  std::vector<promise_base*> promises_;
  std::vector<std::coroutine_handle<>> handles_;
};

}  // namespace detail

/// Runs every task in parallel and returns a tuple of their results.
///
/// Example:  auto [a, b] = co_await coreio::gather(fetch(1), fetch(2));
template <class... Ts>
detail::gather_tuple_awaitable<Ts...> gather(task<Ts>... ts) {
  static_assert(sizeof...(Ts) > 0, "gather() needs at least one task");
  return detail::gather_tuple_awaitable<Ts...>(std::move(ts)...);
}

/// Runs every task in parallel and returns their results in input order.
template <class T>
detail::gather_vector_awaitable<T> gather(std::vector<task<T>> ts) {
  return detail::gather_vector_awaitable<T>(std::move(ts));
}

}  // namespace coreio
