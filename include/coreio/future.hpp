// coreio/future.hpp — promise<T> / future<T>: a one-shot value handed across threads; and
// shared_future<T>, the same value awaited by many (asyncio's Future, which any number of tasks may
// await).
//
// set_value / set_exception from any thread (a worker or a plain thread); `co_await fut` from a
// task on any worker, or fut.get() from a plain thread. A promise destroyed without a value makes
// its future throw broken_promise. A task cancelled while awaiting a future stops waiting at once
// and throws cancelled_error; the future keeps its value for nobody.
//
// Protocol: detail/future_state.hpp (the shared state, its owners, how the one future and the
// shared_futures wait and are woken without a lost wake-up).
//
// shared_future from future: future::share() and the converting constructor, both as in std::
// (std::promise has no get_shared_future: a promise hands out its one future, and sharing it is an
// explicit step on the consumer side). Awaiting a shared_future gives a const T& to the value in
// the shared state (T& for shared_future<T&>, nothing for void), as std::shared_future::get() does:
// no copy, and T need not be copyable; it stays valid while any shared_future of that state exists.
//
// Thread safety: distinct objects: safe. Shared objects: one promise and its future may be used
// from two different threads at once; each of them by one thread at a time. shared_future: distinct
// copies of one shared_future (of one state) may be used from any threads at once, one object by
// one thread at a time (as std::shared_future).
// Memory ordering: everything the producer wrote before set_value happens-before the consumer's
// return from co_await / get(), for the future and for every shared_future of the state.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/completion_cell.hpp>
#include <coreio/detail/coop.hpp>
#include <coreio/detail/future_state.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/spinlock.hpp>
#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

template <class T>
class future;
template <class T>
class shared_future;
namespace detail {
struct future_access;
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
    if (!s_->claim())
      detail::throw_usage("promise already satisfied (set_value/set_exception twice)");
  }
  void abandon() noexcept {
    if (!s_) return;
    if (s_->claim()) {
      s_->error = std::make_exception_ptr(broken_promise{});
      s_->publish();
    }
    std::exchange(s_, nullptr)->release();
  }

  friend struct detail::future_access;
  detail::future_state<T>* s_;
  bool retrieved_ = false;
};

namespace detail {
/// Sets what an awaiter of p's future waits on (detail/wait_site.hpp); before the future is
/// handed out (to_thread: the blocking pool).
struct future_access {
  template <class T>
  static void set_wait_site(promise<T>& p, const wait_site* site) noexcept {
    p.s_->site = site;
  }
};
}  // namespace detail

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

  /// Moves this future's state into a shared_future (as std::future::share); this future is empty
  /// afterwards. An empty future gives an empty shared_future; usage_error if the value was
  /// already retrieved.
  ///
  /// Example:  coreio::shared_future<int> sf = p.get_future().share();
  shared_future<T> share() { return shared_future<T>(std::move(*this)); }

 private:
  template <class>
  friend class promise;
  template <class>
  friend class shared_future;
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
      scope->note_wait(self->s_->site, 0);
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

/// The value of one promise, awaited by any number of tasks and threads (asyncio's Future, which
/// every awaiter sees; std::shared_future). Copyable: every copy refers to the same state.
///
/// `co_await sf` gives a const T& to the value in the shared state (T& for shared_future<T&>;
/// nothing for void), or rethrows the promise's exception (broken_promise if it was dropped) to
/// every awaiter. The reference stays valid while any shared_future of that state exists: keep
/// one (the awaited object is enough) for as long as the reference is used. A ready value is
/// taken without suspending (spending the task's budget, detail/coop.hpp); otherwise the task
/// waits, and a cancel makes its co_await throw cancelled_error without disturbing the other
/// awaiters. get() blocks a plain thread for the value.
///
/// Thread safety: distinct objects: safe, including distinct copies of one shared_future used from
/// many threads at once. Shared objects: one shared_future object by one thread at a time.
/// Memory ordering: what the producer wrote before set_value happens-before the return of every
/// co_await / get() of every copy.
///
/// Example (single flight: the first caller computes, the others await the same value):
///   coreio::promise<std::string> p;
///   coreio::shared_future<std::string> sf = p.get_future().share();
///   // any number of tasks:  const std::string& body = co_await sf;
///   p.set_value(fetch());    // wakes them all
template <class T>
class shared_future {
 public:
  /// What co_await and get() give: const T&, T& for a reference, void.
  using result_type = typename detail::shared_result<T>::type;

  shared_future() noexcept = default;
  /// Takes f's state (std::shared_future(std::future&&)); f is empty afterwards. An empty f gives
  /// an empty shared_future; usage_error if f's value was already retrieved.
  shared_future(future<T>&& f) {  // NOLINT(google-explicit-constructor): as std::shared_future
    if (f.consumed_) detail::throw_usage("future::share after its value was retrieved");
    s_ = std::exchange(f.s_, nullptr);
  }
  shared_future(const shared_future& o) noexcept : s_(o.s_) {
    if (s_) s_->cell.add_ref();
  }
  shared_future(shared_future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  shared_future& operator=(const shared_future& o) noexcept {
    if (s_ != o.s_) {
      if (o.s_) o.s_->cell.add_ref();
      if (s_) s_->release();
      s_ = o.s_;
    }
    return *this;
  }
  shared_future& operator=(shared_future&& o) noexcept {
    if (this != &o) {
      if (s_) s_->release();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~shared_future() {
    if (s_) s_->release();
  }

  /// True if this refers to a state (not default-constructed, moved from, or made from an empty
  /// future). Any thread.
  bool valid() const noexcept { return s_ != nullptr; }
  /// True once a value, an exception or a broken promise is in. Any thread.
  bool ready() const noexcept { return s_ && s_->cell.is_complete(); }

  /// Blocks until the value is in and returns it (or rethrows), as many times and from as many
  /// threads as wanted. usage_error if empty, or on a worker thread (co_await instead).
  result_type get() const {
    check();
    if (detail::this_worker() != nullptr) {
      detail::throw_usage("shared_future::get() on a worker thread would block it; co_await it");
    }
    s_->cell.wait_blocking();
    return s_->shared_result();
  }

  /// Awaitable giving result_type; usage_error (when awaited) if empty. Worker only.
  auto operator co_await() const noexcept { return awaiter(s_); }

 private:
  class awaiter : detail::waiter_base {
   public:
    explicit awaiter(detail::future_state<T>* s) noexcept : s_(s) {}
    bool await_ready() {
      if (s_ == nullptr) throw_empty();
      return this->ready(complete_state());
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return this->suspend(h, s_->shared_lock, s_->shared_waiters, *s_->site,
                           [this](detail::wake_list&) { return complete_state(); });
    }
    result_type await_resume() {
      if (this->finish() == detail::wait_state::cancelled) detail::throw_cancelled();
      return s_->shared_result();
    }

   private:
    detail::wait_state complete_state() const noexcept {
      // is_complete's acquire pairs with complete()'s release: the value is visible.
      return s_->cell.is_complete() ? detail::wait_state::granted : detail::wait_state::init;
    }
    detail::future_state<T>* s_;
  };

  void check() const {
    if (!s_) throw_empty();
  }
  [[noreturn]] static void throw_empty() {
    detail::throw_usage(
        "shared_future is empty (default-constructed, moved from, or made from an empty future)");
  }

  detail::future_state<T>* s_ = nullptr;
};

}  // namespace coreio
