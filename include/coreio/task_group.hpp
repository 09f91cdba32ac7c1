// coreio/task_group.hpp — task_group: structured concurrency (asyncio.TaskGroup).
//
//   coreio::task_group group;
//   group.spawn(fetch(1));  auto h = group.spawn(fetch(2));
//   co_await group.join();            // every child has ended; the first failure is rethrown
//
// Children are spawned tasks (they run in parallel on the pool). The first child that fails with an
// exception other than cancelled_error cancels every other child; join() waits until all have ended
// and rethrows that first failure (later failures are dropped: C++ has no ExceptionGroup).
// Cancelling the task blocked in join() cancels every child and join() waits for them before it
// throws cancelled_error. A group destroyed without a completed join() cancels the children still
// running; they unwind on their own (the shared state lives until the last of them ends), so
// nothing leaks. spawn() returns the child's join_handle (drop it, or await it for the result).
// spawn() after a child failed, after the group was cancelled, or after join() has returned,
// throws usage_error (asyncio: RuntimeError, "TaskGroup is shutting down" / "is finished") and
// does not start the task. A child may spawn siblings while join() waits.
//
// The body of `async with TaskGroup() as g:` is cancelled when a child fails; the spawn/join form
// has no body to cancel (the owner's awaits between spawn() and join() run on). run() is that
// form:
//
//   coreio::task_group g;
//   int v = co_await g.run(body(g));   // async with TaskGroup() as g: v = await body(g)
//
// runs `body` as a member of the group: a failing child cancels it with its siblings, and run()
// then ends as join() does (the first failure; the body's own cancelled_error is not one), or,
// when every member succeeded, with the body's value.
//
// "Ended" is the child's coroutine: when join() returns, each task given to spawn() has returned
// or thrown and its locals are destroyed. The spawned task that ran it leaves the runtime's count
// (metrics' tasks_alive, dump_tasks) at its final suspend, possibly a moment later on another
// worker.
//
// Protocol: detail/task_group_state.hpp. join() waits through the parent_link of
// detail/child_join.hpp (its node on the joiner's scope cancels every child and keeps waiting); the
// count of children is the group state's own, under its mutex, since it changes while the group
// lives (spawn after a join, a group destroyed without a join).
//
// Thread safety: spawn() and join() from the task that owns the group (one at a time); children
// run anywhere. Not copyable or movable (the children refer to its state).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include <coreio/detail/child_join.hpp>
#include <coreio/detail/task_graph.hpp>
#include <coreio/detail/task_group_state.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task.hpp>

namespace coreio {

/// asyncio.TaskGroup: spawn children, then co_await join().
class task_group {
 public:
  task_group() : s_(std::make_shared<detail::group_state>()) {}
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;

  /// Cancels the children still running if join() has not completed; they unwind on their own.
  ~task_group() {
    std::lock_guard<std::mutex> g(s_->m);
    if (s_->running > 0) s_->cancel_all_locked();
  }

  /// Spawns t as a child of the group (on the runtime running the caller). Worker only.
  /// Throws usage_error once the group is cancelling (a child failed, or it was cancelled). Children
  /// run in parallel: on several workers one may fail between two spawn() calls with no co_await
  /// between them, so the second throws; join() still rethrows the child's failure.
  template <class T>
  join_handle<T> spawn(task<T> t) {
    if (!t.valid())
      detail::throw_usage("task_group::spawn of a moved-from or already-awaited task");
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (s_->cancelling) {
        detail::throw_usage(
            "task_group::spawn on a group that is shutting down (a child failed or "
            "the group was cancelled)");
      }
      if (s_->finished) detail::throw_usage("task_group::spawn after join() has returned");
      ++s_->running;
    }
    try {
      return coreio::spawn(detail::must_start(detail::group_child(s_, std::move(t))));
    } catch (...) {
      group_state_undo();
      throw;
    }
  }

  /// Waits until every child has ended; rethrows the first failure. Cancelling the caller cancels
  /// every child, waits for them, then throws cancelled_error. Once it has returned (or thrown),
  /// the group is finished: spawn() throws usage_error; another join() returns at once.
  auto join() noexcept { return join_awaiter{s_.get()}; }

  /// Runs `body` as a member of the group, then joins (asyncio's `async with TaskGroup()` block):
  /// a child that fails cancels the body with the other children; the result is the first failure
  /// (the body's own, if it failed first), else the body's value. Cancelling the caller cancels
  /// every member, waits for them, then throws cancelled_error. The body runs as a spawned task
  /// (on any worker, in parallel with the caller's join). Worker only; awaited once.
  ///
  /// Example:  int n = co_await g.run(crawl(g, root));
  template <class T>
  task<T> run(task<T> body) {
    join_handle<T> h = spawn(std::move(body));
    co_await join();
    co_return co_await std::move(h);  // ended: its value, or cancelled_error after cancel()
  }

  /// Cancels every child (they end with cancelled_error, which join() does not report).
  void cancel() noexcept {
    std::lock_guard<std::mutex> g(s_->m);
    s_->cancel_all_locked();
  }

  /// Children spawned and not yet ended. Any thread.
  std::size_t size() const {
    std::lock_guard<std::mutex> g(s_->m);
    return s_->running;
  }

 private:
  void group_state_undo() noexcept {
    detail::group_state::member dummy{};
    s_->leave(&dummy);
  }

  struct join_awaiter : detail::parent_link {
    detail::group_state* s;

    explicit join_awaiter(detail::group_state* st) noexcept : s(st) {}

    bool await_ready() {
      std::lock_guard<std::mutex> g(s->m);
      return s->running == 0;
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      (void)bind(caller, detail::scope_of(caller));  // a cancelled scope makes the arm below fail
      const bool armed = arm(&on_cancel, detail::wait_sites::task_group);
      const detail::promise_base* me = detail::task_of(detail::scope_of(caller));
      std::lock_guard<std::mutex> g(s->m);
      if (me != nullptr) s->set_joiner_locked(me->spawned_->id);
      if (!armed) s->cancel_all_locked();  // already cancelled: cancel the children, then wait
      if (s->running == 0) return false;
      s->joiner = {caller, detail::this_runtime()};
      return true;  // after unlocking, the last child may resume us at any moment
    }
    void await_resume() {
      disarm_if_armed();
      std::exception_ptr e;
      {
        std::lock_guard<std::mutex> g(s->m);
        e = s->first_error;
        s->finished = true;
      }
      if (e) std::rethrow_exception(e);
      if (scope_ != nullptr && parent_cancelled()) detail::throw_cancelled();
    }
    static void on_cancel(detail::cancel_node* n) noexcept {
      auto* a = static_cast<join_awaiter*>(n);
      std::lock_guard<std::mutex> g(a->s->m);
      a->s->cancel_all_locked();
    }
  };

  std::shared_ptr<detail::group_state> s_;
};

}  // namespace coreio
