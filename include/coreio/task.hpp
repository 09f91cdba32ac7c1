// coreio/task.hpp — task<T>, the lazy coroutine type of coreio.
//
// A task<T> does nothing until it is awaited (`co_await f()`), spawned (coreio::spawn /
// runtime::spawn) or handed to a combinator (gather). Awaiting runs it inline by symmetric
// transfer: no queue round trip, no allocation beyond the frame. Its result, or the exception its
// body ended with, comes back to the awaiter. task<void> and task<T&> work.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe (a task is move-only and single-use).
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/config.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>

namespace coreio {

template <class T = void>
class task;

namespace detail {

template <class T>
struct task_promise_storage {
  std::optional<T> value_;
  template <class U>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(v));
  }
  T take() { return std::move(*value_); }
};

template <class T>
struct task_promise_storage<T&> {
  T* value_ = nullptr;
  void return_value(T& v) noexcept { value_ = std::addressof(v); }
  T& take() { return *value_; }
};

template <>
struct task_promise_storage<void> {
  void return_void() noexcept {}
  void take() {}
};

template <class T>
struct task_promise final : promise_base, task_promise_storage<T> {
  task<T> get_return_object() noexcept;

  /// The result, or the body's exception rethrown. Call once, after the body ended.
  decltype(auto) result() {
    // Move the exception out: the frame (freed later, maybe on another worker) then no longer
    // shares the exception object with the thread that catches it.
    if (exception_) std::rethrow_exception(std::exchange(exception_, nullptr));
    return this->take();
  }
};

template <class T>
struct task_awaiter {
  using handle_type = std::coroutine_handle<task_promise<T>>;
  handle_type h;
  explicit task_awaiter(handle_type x) noexcept : h(x) {}
  task_awaiter(task_awaiter&& o) noexcept : h(std::exchange(o.h, nullptr)) {}
  ~task_awaiter() {
    if (h) h.destroy();
  }
  bool await_ready() const {
    if (!h) throw_usage("co_await on a moved-from or already-awaited coreio::task");
    return false;
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
    auto& p = h.promise();
    p.continuation_ = caller.address();
    p.scope_ = scope_of(caller);
    return transfer(h);
  }
  decltype(auto) await_resume() { return h.promise().result(); }
};

}  // namespace detail

/// A lazy coroutine returning T. Move-only; awaiting consumes it.
///
/// Example:
///   coreio::task<int> answer() { co_await coreio::sleep_for(1ms); co_return 42; }
///   int v = co_await answer();
template <class T>
class [[nodiscard("a coreio::task does nothing until it is awaited or spawned")]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { destroy(); }

  /// True if this task holds a coroutine (it was not moved from, awaited, or spawned).
  bool valid() const noexcept { return h_ != nullptr; }

  /// Runs the task inline by symmetric transfer; yields its result or rethrows its exception.
  /// The task is consumed: awaiting it again throws usage_error.
  auto operator co_await() && noexcept { return detail::task_awaiter<T>{release()}; }

  /// Gives up ownership of the frame (for spawn and combinators).
  handle_type release() noexcept { return std::exchange(h_, nullptr); }
  handle_type handle() const noexcept { return h_; }

 private:
  void destroy() noexcept {
    if (h_) std::exchange(h_, nullptr).destroy();
  }
  handle_type h_{};
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  // The scheduler and the tracer read any frame's promise_base at the offset that an alignment of
  // at most two pointers gives (detail::promise_of); frames do not honour more (frame_alloc).
  static_assert(alignof(task_promise<T>) <= 2 * sizeof(void*),
                "coreio::task<T>: T aligned beyond 16 bytes; return it through a std::unique_ptr");
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}

/// Marks t's body to run even if t, once spawned or gathered, is cancelled before it first runs
/// (promise_base.hpp): for library wrappers whose bodies keep books that must balance (a
/// task_group member, an as_completed child, a server's accept loop and connections). Such a body
/// checks for itself before it starts the user's code. Before t is handed on; t must be valid.
template <class T>
task<T> must_start(task<T> t) noexcept {
  t.handle().promise().must_start_ = true;
  return t;
}

template <class X>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<task<T>> = true;
}  // namespace detail

}  // namespace coreio
