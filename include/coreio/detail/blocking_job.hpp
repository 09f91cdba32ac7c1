// coreio/detail/blocking_job.hpp — one to_thread call (coreio/to_thread.hpp) as the blocking pool
// (src/sched/blocking_pool.hpp) sees it: a type-erased job with an intrusive queue link.
//
// Protocol (one job):
//   1. await_blocking_call, on its first resume (on a worker), allocates a blocking_call holding f
//      and a promise<R>, takes the promise's future, and hands the job to the pool
//      (submit_blocking). From the call on the pool owns the job, also when it throws
//      (runtime_closed: the pool drops the job at once).
//   2. The pool queues it under its lock (next is the link) and later calls complete exactly once:
//      run (a pool thread calls f, publishes its result or exception through the promise, and frees
//      the job) or drop (shutdown, the job never started: freed without calling f; its promise
//      breaks, for nobody).
//   3. The awaiting task waits on the future: cancelling it stops the wait only; the job runs on.
//
// Memory ordering: the caller's writes before submit happen-before f runs (the pool's queue lock);
// f's writes happen-before the await returns (the promise's publication, detail/future_state.hpp).
//
// Thread safety: the job is touched by one thread at a time: the submitter, then the pool under its
// lock, then the one pool thread that completes it.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/sched_hooks.hpp>
#include <coreio/future.hpp>
#include <coreio/task.hpp>

namespace coreio::detail {

/// One to_thread call, type-erased: what the blocking pool queues. Allocated by to_thread, freed by
/// complete (run or dropped).
struct blocking_job {
  enum class action : unsigned char { run, drop };
  /// run: calls the function, publishes its result, frees the job. drop: frees the job without
  /// calling the function (its promise breaks). Once per job.
  using complete_fn = void (*)(blocking_job*, action) noexcept;

  explicit blocking_job(complete_fn f) noexcept : complete(f) {}

  complete_fn complete;
  /// The pool's queue link; guarded by the pool's lock while queued.
  blocking_job* next = nullptr;
};

/// The job of to_thread(f): f and the promise its result goes to.
template <class F, class R>
struct blocking_call final : blocking_job {
  explicit blocking_call(F&& f) : blocking_job(&run_or_drop), fn(std::move(f)) {}

  static void run_or_drop(blocking_job* j, action a) noexcept {
    auto* self = static_cast<blocking_call*>(j);
    if (a == action::run) self->run();
    // Destroys fn and the promise (after a drop: broken_promise, for nobody).
    delete self;
  }

  void run() noexcept {
    // The call's own exception goes to the awaiter. A result whose move constructor throws (while
    // it is stored in the promise) terminates: noexcept, the promise is already claimed.
    if constexpr (std::is_void_v<R>) {
      try {
        std::invoke(std::move(fn));
      } catch (...) {
        result.set_exception(std::current_exception());
        return;
      }
      result.set_value();
    } else if constexpr (std::is_reference_v<R>) {
      std::remove_reference_t<R>* r = nullptr;
      try {
        r = std::addressof(std::invoke(std::move(fn)));
      } catch (...) {
        result.set_exception(std::current_exception());
        return;
      }
      result.set_value(*r);
    } else {
      std::optional<R> r;
      try {
        r.emplace(std::invoke(std::move(fn)));
      } catch (...) {
        result.set_exception(std::current_exception());
        return;
      }
      result.set_value(std::move(*r));
    }
  }

  F fn;
  promise<R> result;
};

/// The body of to_thread: submits the job on the first resume (on a worker), then awaits it.
template <class R, class F>
task<R> await_blocking_call(F fn) {
  auto* job = new blocking_call<F, R>(std::move(fn));
  future<R> result = job->result.get_future();
  future_access::set_wait_site(job->result, &wait_sites::blocking);
  // Takes the job, also when it throws (runtime_closed).
  submit_blocking(this_runtime(), job);
  co_return co_await result;
}

}  // namespace coreio::detail
