// coreio/timeout.hpp — timeout_scope, timeout and timeout_at: run a body of several awaits under
// one deadline that can be moved (asyncio.timeout / asyncio.timeout_at, Python 3.11+ with 3.12's
// changes).
//
// asyncio writes `async with asyncio.timeout(2) as cm: ...`; a coroutine cannot run a scope around
// a block, so the block is a task (or any awaitable) that the scope runs:
//
//   coreio::timeout_scope cm{2s};                      // asyncio.timeout(2)
//   int v = co_await cm.run(fetch_all(cm));            // async with cm: v = await fetch_all(cm)
//   if (cm.expired()) ...                              // cm.expired()
//
//   int v = co_await coreio::timeout(2s, [&](coreio::timeout_scope& cm) -> coreio::task<int> {
//     co_await login();
//     cm.reschedule(std::chrono::steady_clock::now() + 10s);   // more time for the download
//     co_return co_await download();
//   });
//
// Semantics (asyncio's):
//   * The deadline is a steady_clock time point, or none (std::nullopt; set one later with
//     reschedule). A duration d means now + d, taken when the scope is made (as asyncio.timeout);
//     it saturates: duration::max() is "never", zero and negative durations are due.
//   * When the deadline passes while the body runs, the body is cancelled at its current or next
//     suspension point. Once it has unwound, a cancelled_error it ends with becomes timeout_error,
//     but only if this deadline cancelled it: if the awaiting task was cancelled too (an outer
//     cancel, or an outer scope's deadline), the cancelled_error stays. A value or another
//     exception the body ends with passes through (an error raised while unwinding, a value
//     returned after catching the cancel).
//   * A deadline already due when the body starts cancels it at its first suspension point; a
//     body that finishes without suspending returns its value (asyncio 3.12).
//   * reschedule(when) moves the deadline: to an earlier or past time it fires promptly (a due time
//     fires at once, on the calling thread), to a later time or none it disarms the old one.
//   * expired() says whether the deadline has fired. It stays true after the body ends, also when
//     the body returned a value after all (the firing came too late to cancel it, or the body
//     caught the cancel).
//   * Scopes nest: each one converts only the cancel it caused, so each timeout_error is thrown by
//     the scope whose deadline fired, and passes through the outer ones as the body's exception.
// Differences from asyncio, each forced by threads or C++: reschedule before run() records the
// deadline, and reschedule after the deadline fired or after the body ended returns false instead
// of raising RuntimeError (from another thread the caller cannot know which came first); a due
// deadline (at entry or in reschedule) counts as expired even when the body then finishes without
// suspending (asyncio's call_soon callback would not have run yet).
//
// Cost: a scope is one timer entry in a worker's timer heap (none while the deadline is none or
// max), an insert and an erase per reschedule, and a small lock; no allocation beyond the body's
// frame (and a capturing lambda's copy in the awaitable).
//
// Protocol (threads, holds, the timer entry's life, the reschedule/firing race): detail/
// timeout_state.hpp. The awaitable below runs the body on detail/child_join.hpp, as wait_for runs
// its child (an inline independent child, a cancel node armed on the caller's scope that forwards
// an outer cancel); the holds of the timeout state are the shares of its countdown.
//
// Thread safety: see timeout_scope.
#pragma once

#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/as_task.hpp>
#include <coreio/detail/child_join.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/detail/timeout_state.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>
#include <coreio/time.hpp>

namespace coreio {

namespace detail {

/// Runs a timeout_scope's body B as an independent inline child of the awaiting task P.
template <class T>
class timeout_awaitable final : child_join {
 public:
  timeout_awaitable(timeout_state* s, task<T> body) noexcept : state_(s), task_(std::move(body)) {}
  /// Movable until first awaited (gather, wait_for, spawn take it by value).
  timeout_awaitable(timeout_awaitable&& o) noexcept
      : child_join(std::move(o)), state_(o.state_), task_(std::move(o.task_)) {}

  bool await_ready() {
    if (!task_.valid())
      throw_usage("timeout_scope::run of a moved-from or already-awaited coreio::task");
    state_->enter();  // usage_error the second time (this awaitable or the scope awaited again)
    return false;
  }

  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    if (!bind(parent, scope_of(parent))) return parent;  // await_resume throws; B never runs
    auto& b = task_.handle().promise();
    adopt(b, /*same_task=*/true);
    set_shares(1);  // B's hold; the state adds E's and the cancellers' (timeout_state.hpp)
    // Arm before the deadline: once E is in a heap it may fire at any moment (as in wait_for). A
    // cancel of P between the two cancels B, not yet started.
    const std::optional<steady_clock::time_point> due = state_->when();
    if (!arm(&on_outer_cancel, wait_sites::timeout, due ? deadline_ns(*due) : 0)) return parent;
    state_->start(&b.own_scope_, this, this_runtime());
    const std::coroutine_handle<> body = task_.handle();
    return launch(&body, 1);
  }

  decltype(auto) await_resume() {
    join_end();
    auto& b = task_.handle().promise();
    if (b.exception_ && state_->timed_out() && !parent_cancelled()) {
      try {
        std::rethrow_exception(b.exception_);
      } catch (const cancelled_error&) {
        b.exception_ = nullptr;
        throw timeout_error{};
      } catch (...) {
      }
    }
    return b.result();
  }

 private:
  std::coroutine_handle<> child_done(promise_base*) noexcept override {
    count_child_completed();
    state_->finish_body();
    return drop_share();  // *this may be gone once it returns noop
  }

  static void on_outer_cancel(cancel_node* n) noexcept {
    static_cast<timeout_awaitable*>(n)->task_.handle().promise().own_scope_.cancel();
  }

  timeout_state* state_;
  task<T> task_;
};

template <class F>
class timeout_call;

}  // namespace detail

/// A deadline for a body of several awaits, which the body itself or anyone else may move
/// (asyncio.Timeout, as made by asyncio.timeout / asyncio.timeout_at).
///
/// Construct it with a duration (from now, saturated), a time point, or nothing / std::nullopt (no
/// deadline yet), then `co_await scope.run(body)` once: body is a task or any awaitable (an lvalue
/// awaitable is referenced: it must outlive the await). run() gives the body's value, or rethrows
/// its exception, with a cancelled_error that this deadline caused turned into timeout_error (see
/// the file comment for the exact rules). The body has always ended, and its timer is gone, when
/// the await returns.
///
/// Errors: timeout_error when the deadline cancelled the body; cancelled_error if the awaiting
/// task is cancelled (the body, already started or not, is cancelled too and has unwound);
/// usage_error when a scope is run a second time.
///
/// Thread safety: distinct objects: safe. Shared objects: reschedule(), when() and expired() from
/// any thread (the body, another task, a plain thread), also concurrently with each other and with
/// the deadline firing; run() from one task on a worker, once. The scope must outlive every call on
/// it (a reschedule after the body ended returns false, but still reads the object).
/// Memory ordering: what a thread did before a reschedule() that returned true happens-before the
/// firing of that deadline; everything the body did happens-before run() returns.
///
/// Example:
///   coreio::timeout_scope cm{std::chrono::seconds(5)};
///   std::string page = co_await cm.run(fetch_page(&cm, url));   // fetch_page may call
///                                                                // cm->reschedule(...)
class timeout_scope {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  /// No deadline (asyncio.timeout(None)); set one with reschedule().
  timeout_scope() noexcept : state_(std::nullopt) {}
  /// Deadline `delay` from now (asyncio.timeout(delay)): saturated at time_point::max() ("never"),
  /// and due at once for a zero or negative delay.
  template <class Rep, class Period>
  explicit timeout_scope(std::chrono::duration<Rep, Period> delay) noexcept
      : state_(detail::deadline_after(delay)) {}
  /// Deadline `when` (asyncio.timeout_at(when)); std::nullopt for none. time_point::max() never
  /// fires; a time point already past (time_point::min() included) is due.
  explicit timeout_scope(std::optional<time_point> when) noexcept : state_(when) {}

  timeout_scope(const timeout_scope&) = delete;
  timeout_scope& operator=(const timeout_scope&) = delete;

  /// The current deadline, std::nullopt for none (asyncio's when()). Any thread.
  std::optional<time_point> when() const noexcept { return state_.when(); }

  /// Moves the deadline to `when` (std::nullopt: no deadline), as asyncio's reschedule(when): an
  /// earlier or past time fires promptly (a due time at once, on the calling thread, which then
  /// cancels the body), a later time or none disarms the previous deadline. Before run(), it sets
  /// the deadline run() will use. Any thread, from the body itself too.
  /// Returns true if the new deadline took effect; false, changing nothing, once the deadline has
  /// fired (expired() is then true: a reschedule racing with the firing either wins, and nothing
  /// fires, or loses, and the body is cancelled) or the body has ended.
  /// Errors: std::bad_alloc if the worker's timer heap cannot grow (no deadline is then armed).
  bool reschedule(std::optional<time_point> when) { return state_.reschedule(when); }

  /// True once the deadline has fired (asyncio's expired()), from then on. Any thread.
  bool expired() const noexcept { return state_.expired(); }

  /// Runs `body` (a task or any awaitable) under this deadline; co_await the result once, from a
  /// task on a worker.
  template <class A>
  auto run(A&& body) {
    auto t = detail::as_task(std::forward<A>(body));
    using T = typename decltype(t)::value_type;
    return detail::timeout_awaitable<T>(&state_, std::move(t));
  }

 private:
  template <class F>
  friend class detail::timeout_call;

  detail::timeout_state state_;
};

namespace detail {

/// The body a timeout(...) callable makes: fn(scope), or fn() if it takes no scope.
template <class F>
auto make_timeout_body(F& fn, timeout_scope& scope) {
  if constexpr (std::is_invocable_v<F&, timeout_scope&>) {
    return as_task(std::invoke(fn, scope));
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "coreio::timeout(d, fn): fn must be callable as fn(coreio::timeout_scope&) or "
                  "fn(), returning a coreio::task or another awaitable");
    return as_task(std::invoke(fn));
  }
}

/// What timeout() and timeout_at() return: the scope, the callable and the body in one awaitable,
/// which stays in the awaiting frame until the body ends (so a capturing lambda coroutine's
/// captures outlive it). The callable runs in await_ready, once the awaitable has its final place:
/// the body gets a reference to the scope.
template <class F>
class timeout_call {
  using body_task = decltype(make_timeout_body(std::declval<F&>(), std::declval<timeout_scope&>()));
  using value_type = typename body_task::value_type;

 public:
  template <class G>
  timeout_call(std::optional<steady_clock::time_point> when, G&& fn)
      : scope_(when), fn_(std::forward<G>(fn)) {}
  /// Movable until first awaited, as every awaitable (wait_for(timeout(...), d), gather, spawn):
  /// until the callable runs in await_ready nobody holds a reference to the scope, so the new one
  /// is a fresh scope with the same deadline.
  timeout_call(timeout_call&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
      : scope_(o.scope_.when()), fn_(std::move(o.fn_)), stale_(o.stale_ || o.run_.has_value()) {}
  timeout_call& operator=(timeout_call&&) = delete;

  bool await_ready() {
    if (run_ || stale_) throw_usage("a coreio::timeout awaitable was awaited twice");
    run_.emplace(&scope_.state_, make_timeout_body(fn_, scope_));
    return run_->await_ready();
  }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
    return run_->await_suspend(parent);
  }
  decltype(auto) await_resume() { return run_->await_resume(); }

 private:
  timeout_scope scope_;
  F fn_;
  // Engaged from the first await_ready on.
  std::optional<timeout_awaitable<value_type>> run_;
  // Moved from an awaitable already awaited: awaiting this one is a usage error too.
  bool stale_ = false;
};

}  // namespace detail

/// Runs the task that `fn` makes under a deadline `delay` from now (asyncio.timeout(delay)):
/// `fn` is called as fn(scope) with the timeout_scope (to reschedule it or ask expired()), or as
/// fn(). `delay` saturates: duration::max() never fires; zero or negative is due at once. The
/// scope lives in the awaitable, until the end of the co_await's full expression: hand it to no one
/// who may use it later. Results and errors as timeout_scope::run.
///
/// GCC 12 pitfall (as for net::endpoint): a lambda that captures by value an object holding a
/// pointer into itself (a short std::string) must not be a temporary inside the co_await
/// expression; GCC copies such temporaries into the coroutine frame bitwise. Name it first:
/// `auto body = [s](coreio::timeout_scope&) -> coreio::task<int> {...}; co_await
/// coreio::timeout(2s, std::move(body));`. Captures by reference are not affected.
///
/// Example:
///   int v = co_await coreio::timeout(2s, [&](coreio::timeout_scope& cm) -> coreio::task<int> {
///     int n = co_await read_header(conn);
///     cm.reschedule(std::chrono::steady_clock::now() + n * 1ms);   // time for the body
///     co_return co_await read_body(conn, n);
///   });
template <class Rep, class Period, class F>
detail::timeout_call<std::decay_t<F>> timeout(std::chrono::duration<Rep, Period> delay, F&& fn) {
  return detail::timeout_call<std::decay_t<F>>(detail::deadline_after(delay), std::forward<F>(fn));
}

/// As timeout(), with the deadline `when` (asyncio.timeout_at(when)); std::nullopt for none.
///
/// Example:  co_await coreio::timeout_at(start + 30s, [&] { return serve(conn); });
template <class F>
detail::timeout_call<std::decay_t<F>> timeout_at(
    std::optional<std::chrono::steady_clock::time_point> when, F&& fn) {
  return detail::timeout_call<std::decay_t<F>>(when, std::forward<F>(fn));
}

}  // namespace coreio
