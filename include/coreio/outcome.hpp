// coreio/outcome.hpp — outcome<T>: the value or the exception a task ended with.
//
// What gather_settled gives for each child (asyncio's gather(..., return_exceptions=True)), and what
// as_completed hands out: has_value() tells which; value() returns the value or rethrows the
// exception; error() gives the std::exception_ptr (null when there is a value). outcome<void> holds
// nothing or an exception.
//
// Thread safety: a plain value type; distinct objects: safe; shared objects: const use only.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace coreio {

/// The value or the exception of one finished task.
///
/// Example:
///   for (auto& r : co_await coreio::gather_settled(std::move(tasks)))
///     if (r.has_value()) use(r.value()); else log(r.error());
template <class T>
class outcome {
 public:
  using value_type = T;

  /// A value.
  template <class... A>
  explicit outcome(std::in_place_t, A&&... a) : value_(std::in_place, std::forward<A>(a)...) {}
  /// An exception (must not be null).
  explicit outcome(std::exception_ptr e) noexcept : error_(std::move(e)) {}

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value, or the exception rethrown.
  T& value() & {
    check();
    return *value_;
  }
  const T& value() const& {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }

  /// The exception, or null when there is a value.
  std::exception_ptr error() const noexcept { return error_; }

 private:
  void check() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::optional<T> value_;
  std::exception_ptr error_;
};

template <class T>
class outcome<T&> {
 public:
  using value_type = T&;
  explicit outcome(std::in_place_t, T& v) noexcept : value_(std::addressof(v)) {}
  explicit outcome(std::exception_ptr e) noexcept : error_(std::move(e)) {}
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() const {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  std::exception_ptr error() const noexcept { return error_; }

 private:
  T* value_ = nullptr;
  std::exception_ptr error_;
};

template <>
class outcome<void> {
 public:
  using value_type = void;
  explicit outcome(std::in_place_t) noexcept {}
  explicit outcome(std::exception_ptr e) noexcept : error_(std::move(e)) {}
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  /// Returns if the task succeeded, else rethrows its exception.
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::exception_ptr error() const noexcept { return error_; }

 private:
  std::exception_ptr error_;
};

}  // namespace coreio
