// coreio/to_thread.hpp — to_thread: run a blocking call on the runtime's blocking pool
// (asyncio.to_thread, tokio::task::spawn_blocking).
//
// `co_await coreio::to_thread(f)` calls f() on a thread of the runtime's blocking pool, so that the
// workers never block, and gives back f's result or rethrows its exception. The pool
// (src/sched/blocking_pool.hpp) starts threads on demand, at most runtime_options::blocking_threads
// at once (further calls queue, first come first served), and a thread with no job for
// runtime_options::blocking_keep_alive exits.
//
// Cancellation: cancelling the awaiting task makes the co_await throw cancelled_error at once; the
// call itself cannot be interrupted: it runs to its end on its pool thread and its result (or
// exception) is discarded, as with asyncio.to_thread. A call that has not started yet still runs
// when a thread frees up, unless the runtime shuts down first.
//
// Shutdown: from the start of the runtime's shutdown (runtime_impl.hpp, step 1) the co_await of a
// to_thread not yet queued throws runtime_closed (refused rather than run: every task is being
// cancelled then, so no result could be awaited). ~runtime, once every task has unwound, drops the
// calls that never started (nobody awaits them any more: destroyed without running), waits for the
// running ones to return and joins every pool thread (step 3b).
//
// Pool threads are plain threads, not workers: there coreio::current_worker() is -1, and
// coreio::spawn / to_thread throw usage_error; runtime::spawn and promise / future work.
//
// The job the pool queues, and the task that submits and awaits it: detail/blocking_job.hpp.
//
// Thread safety: may only be called from a task running on a worker (usage_error elsewhere).
// Memory ordering: everything the caller did before co_await to_thread(f) happens-before f runs
// (the pool's queue lock); everything f did happens-before the co_await returns (future.hpp).
#pragma once

#include <concepts>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/blocking_job.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/task.hpp>

namespace coreio {

/// Runs f() on the runtime's blocking pool and gives back its result (asyncio.to_thread). f is
/// moved (or copied) into the call and invoked once as an rvalue; it may be move-only, and so may
/// its result; void results work. f's exception is rethrown by the co_await.
///
/// Throws usage_error when called outside a runtime (not on a worker). The co_await throws
/// runtime_closed once the runtime shuts down, and cancelled_error at once if the awaiting task is
/// cancelled (f still runs to its end; its result is discarded). to_thread is lazy like any task:
/// f is queued when the returned task is first awaited (or spawned, or gathered).
///
/// Example (the task made in a statement of its own: g++ 12 miscompiles a lambda temporary with a
/// destructor, here its captured string, built inside a co_await expression; see the README):
///   auto size = coreio::to_thread([path] { return std::filesystem::file_size(path); });
///   std::uintmax_t n = co_await std::move(size);
template <class F>
  requires std::invocable<std::decay_t<F>>
task<std::invoke_result_t<std::decay_t<F>>> to_thread(F&& f) {
  using fn_type = std::decay_t<F>;
  using result_type = std::invoke_result_t<fn_type>;
  static_assert(std::is_move_constructible_v<fn_type>, "coreio::to_thread: f must be movable");
  static_assert(std::is_void_v<result_type> || std::is_reference_v<result_type> ||
                    std::is_move_constructible_v<result_type>,
                "coreio::to_thread: f's result must be movable (it crosses threads in a promise)");
  if (detail::this_runtime() == nullptr) {
    detail::throw_usage(
        "coreio::to_thread outside a runtime: call it from a task running on a worker");
  }
  return detail::await_blocking_call<result_type>(fn_type(std::forward<F>(f)));
}

}  // namespace coreio
