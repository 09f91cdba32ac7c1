// coreio/future.hpp — promise<T> / future<T>: a one-shot value handed across threads.
//
// set_value / set_exception from any thread (a worker or a plain thread); `co_await fut` from a task
// on any worker, or fut.get() from a plain thread. A promise destroyed without a value makes its
// future throw broken_promise. A task cancelled while awaiting a future stops waiting at once and
// throws cancelled_error; the future keeps its value for nobody.
//
// Thread safety: distinct objects: safe. Shared objects: one promise and its future may be used from
// two different threads at once; each of them by one thread at a time.
// Memory ordering: everything the producer wrote before set_value happens-before the consumer's
// return from co_await / get().
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/completion_cell.hpp>
#include <coreio/detail/coop.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>

namespace coreio {

template <class T>
class future;

namespace detail {

template <class T>
struct future_value {
  std::optional<T> v;
  T take() { return std::move(*v); }
};
template <class T>
struct future_value<T&> {
  T* v = nullptr;
  T& take() { return *v; }
};
template <>
struct future_value<void> {
  void take() {}
};

/// The state shared by one promise and its future; freed by the last of the two.
template <class T>
struct future_state {
  completion_cell cell;
  // Set by the first set_value/set_exception/break; detects a second one. Any thread, RMW.
  std::atomic<bool> satisfied{false};
  future_value<T> value;
  std::exception_ptr error;

  // Owners (cell's refcount): the promise, and the future once made.
  future_state() noexcept { cell.set_refs(1); }
  void release() noexcept {
    if (cell.release_ref()) delete this;
  }
  bool claim() noexcept { return !satisfied.exchange(true, std::memory_order_relaxed); }
  void publish() noexcept {
    if (async_waiter* w = cell.complete()) schedule(w->rt, w->handle);
  }
  decltype(auto) result() {
    if (error) std::rethrow_exception(error);
    return value.take();
  }
};

}  // namespace detail

/// The producing end. Move-only.
///
/// Example:
///   coreio::promise<int> p;  auto f = p.get_future();
///   std::thread t([&] { p.set_value(42); });   int v = co_await f;
template <class T>
class promise {
 public:
  promise() : s_(new detail::future_state<T>) {}
  promise(promise&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), retrieved_(std::exchange(o.retrieved_, false)) {}
  promise& operator=(promise&& o) noexcept {
    if (this != &o) {
      abandon();
      s_ = std::exchange(o.s_, nullptr);
      retrieved_ = std::exchange(o.retrieved_, false);
    }
    return *this;
  }
  promise(const promise&) = delete;
  promise& operator=(const promise&) = delete;
  ~promise() { abandon(); }

  /// The future of this promise; once only (usage_error after).
  future<T> get_future() {
    if (!s_) detail::throw_usage("promise::get_future on a moved-from promise");
    if (retrieved_) detail::throw_usage("promise::get_future called twice");
    retrieved_ = true;
    s_->cell.add_ref();
    return future<T>(s_);
  }

  /// Stores the value and wakes the waiter. Any thread. usage_error if already set.
  template <class... A>
  void set_value(A&&... a) {
    claim_or_throw();
    if constexpr (std::is_reference_v<T>) {
      static_assert(sizeof...(A) == 1, "promise<T&>::set_value takes one reference");
      ((s_->value.v = std::addressof(a)), ...);
    } else if constexpr (!std::is_void_v<T>) {
      s_->value.v.emplace(std::forward<A>(a)...);
    }
    s_->publish();
  }

  /// Stores an exception for the waiter to rethrow. Any thread. usage_error if already set.
  void set_exception(std::exception_ptr e) {
    claim_or_throw();
    s_->error = std::move(e);
    s_->publish();
  }

 private:
  void claim_or_throw() {
    if (!s_) detail::throw_usage("promise used after being moved from");
    if (!s_->claim()) detail::throw_usage("promise already satisfied (set_value/set_exception twice)");
  }
  void abandon() noexcept {
    if (!s_) return;
    if (s_->claim()) {
      s_->error = std::make_exception_ptr(broken_promise{});
      s_->publish();
    }
    std::exchange(s_, nullptr)->release();
  }

  detail::future_state<T>* s_;
  bool retrieved_ = false;
};

/// The consuming end. Move-only; the value can be retrieved once.
template <class T>
class future {
 public:
  future() noexcept = default;
  future(future&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), consumed_(std::exchange(o.consumed_, false)) {}
  future& operator=(future&& o) noexcept {
    if (this != &o) {
      if (s_) s_->release();
      s_ = std::exchange(o.s_, nullptr);
      consumed_ = std::exchange(o.consumed_, false);
    }
    return *this;
  }
  future(const future&) = delete;
  future& operator=(const future&) = delete;
  ~future() {
    if (s_) s_->release();
  }

  /// True once a value, an exception or a broken promise is in. Any thread.
  bool ready() const noexcept { return s_ && s_->cell.is_complete(); }
  bool valid() const noexcept { return s_ != nullptr; }

  /// Blocks until the value is in and returns it (or rethrows). Not from a worker thread: it
  /// would block that worker (usage_error; co_await instead).
  T get() {
    check();
    if (detail::this_worker() != nullptr) {
      detail::throw_usage("future::get() on a worker thread would block it; co_await it");
    }
    s_->cell.wait_blocking();
    consumed_ = true;
    return s_->result();
  }

  auto operator co_await() noexcept { return awaiter{this}; }

 private:
  template <class>
  friend class promise;
  explicit future(detail::future_state<T>* s) noexcept : s_(s) {}

  struct awaiter : detail::cancel_node {
    future* self;
    detail::cancel_scope* scope = nullptr;
    detail::async_waiter rec{};
    bool armed = false;
    // Set by the canceller that withdrew the waiter, before it schedules the waiter.
    bool interrupted = false;
    detail::coop_point coop;

    explicit awaiter(future* f) noexcept : self(f) {}
    bool await_ready() {
      self->check();
      if (!self->s_->cell.is_complete()) return false;
      coop.completed = true;  // a ready future: spend the budget (detail/coop.hpp)
      return coop.take();
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      if (coop.completed) return coop.yield(caller);
      scope = detail::scope_of(caller);
      fn = &on_cancel;
      rec = {caller, detail::this_runtime()};
      // Arm first, register last: once registered, the producer may resume us at any moment. A
      // cancel that lands in between is remembered by the cell (withdraw before registration).
      if (!scope->arm(this)) {
        interrupted = true;
        return false;
      }
      armed = true;
      switch (self->s_->cell.set_async_waiter(&rec)) {
        case detail::completion_cell::registration::suspended:
          return true;
        case detail::completion_cell::registration::cancelled:
          interrupted = true;
          return false;
        case detail::completion_cell::registration::complete:
          break;
      }
      return false;
    }
    T await_resume() {
      if (armed) scope->disarm(this);
      if (interrupted) detail::throw_cancelled();
      self->consumed_ = true;
      return self->s_->result();
    }
    static void on_cancel(detail::cancel_node* n) noexcept {
      auto* a = static_cast<awaiter*>(n);
      if (a->self->s_->cell.withdraw_async_waiter()) {
        a->interrupted = true;
        detail::schedule(a->rec.rt, a->rec.handle);
      }
    }
  };

  void check() const {
    if (!s_) detail::throw_usage("future is empty (moved from or default-constructed)");
    if (consumed_) detail::throw_usage("future value already retrieved");
  }

  detail::future_state<T>* s_ = nullptr;
  bool consumed_ = false;
};

}  // namespace coreio
