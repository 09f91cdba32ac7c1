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
// spawn() after a child failed, or after the group was cancelled, throws usage_error (asyncio:
// RuntimeError) and does not start the task.
//
// Protocol: a reference-counted state holds a mutex, the count of children not yet ended, the
// intrusive list of the running children's cancel scopes, the first error and the joiner.
//   spawn:   running += 1 (under the mutex), then spawn a wrapper task that holds a reference.
//   wrapper: on its first step it links its member node (its own scope) into the list, cancelling
//            itself if the group is already cancelling; it awaits the child; on failure it records
//            the error and cancels the rest; at its end it unlinks, running -= 1, and wakes the
//            joiner when that reaches 0 (all under the mutex; the wake-up itself after unlocking).
//   join:    waits (an async waiter under the mutex) until running == 0. Its cancel node cancels
//            every member and keeps waiting.
// A member node is in the list only while its wrapper runs, so a cancel under the mutex never
// reaches a freed frame.
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

#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task.hpp>

namespace coreio {

namespace detail {

/// Gives a coroutine its own cancel scope without suspending.
struct current_scope_awaiter {
  cancel_scope* scope = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    scope = scope_of(h);
    return false;
  }
  cancel_scope* await_resume() const noexcept { return scope; }
};

struct group_state {
  struct member {
    cancel_scope* scope = nullptr;
    member* prev = nullptr;
    member* next = nullptr;
  };

  std::mutex m;
  member* head = nullptr;            // the running wrappers
  std::size_t running = 0;           // spawned and not yet ended
  std::exception_ptr first_error;    // the first failure that is not cancelled_error
  bool cancelling = false;           // a child failed or the group was cancelled
  async_waiter joiner{};             // set while join() waits

  // Under m. Cancels every running member; cancel_scope::cancel only runs short non-blocking fns.
  void cancel_all_locked() noexcept {
    cancelling = true;
    for (member* x = head; x != nullptr; x = x->next) x->scope->cancel();
  }

  void enter(member* x) {
    std::lock_guard<std::mutex> g(m);
    x->next = head;
    if (head != nullptr) head->prev = x;
    head = x;
    if (cancelling) x->scope->cancel();
  }

  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> g(m);
    if (!first_error) first_error = std::move(e);
    cancel_all_locked();
  }

  /// x may be unlinked (a child that never entered): then only the count drops.
  void leave(member* x) noexcept {
    async_waiter w{};
    {
      std::lock_guard<std::mutex> g(m);
      if (x->prev != nullptr) x->prev->next = x->next;
      else if (head == x) head = x->next;
      if (x->next != nullptr) x->next->prev = x->prev;
      if (--running == 0) w = std::exchange(joiner, async_waiter{});
    }
    if (w.handle) schedule(w.rt, w.handle);
  }
};

/// Unlinks the member (if linked) and drops the child's share when the wrapper's body ends, however
/// it ends.
struct group_member_guard {
  std::shared_ptr<group_state> state;
  group_state::member node{};
  ~group_member_guard() { state->leave(&node); }
};

template <class T>
task<T> group_child(std::shared_ptr<group_state> s, task<T> t) {
  group_member_guard guard{std::move(s)};
  guard.node.scope = co_await current_scope_awaiter{};
  guard.state->enter(&guard.node);
  try {
    co_return co_await std::move(t);
  } catch (const cancelled_error&) {
    throw;
  } catch (...) {
    guard.state->fail(std::current_exception());
    throw;
  }
}

}  // namespace detail

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
  /// Throws usage_error once the group is cancelling (a child failed, or it was cancelled).
  template <class T>
  join_handle<T> spawn(task<T> t) {
    if (!t.valid()) detail::throw_usage("task_group::spawn of a moved-from or already-awaited task");
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (s_->cancelling) {
        detail::throw_usage("task_group::spawn on a group that is shutting down (a child failed or "
                            "the group was cancelled)");
      }
      ++s_->running;
    }
    try {
      return coreio::spawn(detail::group_child(s_, std::move(t)));
    } catch (...) {
      group_state_undo();
      throw;
    }
  }

  /// Waits until every child has ended; rethrows the first failure. Cancelling the caller cancels
  /// every child, waits for them, then throws cancelled_error.
  auto join() noexcept { return join_awaiter{s_.get()}; }

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

  struct join_awaiter : detail::cancel_node {
    detail::group_state* s;
    detail::cancel_scope* scope = nullptr;
    bool armed = false;

    explicit join_awaiter(detail::group_state* st) noexcept : s(st) {}

    bool await_ready() {
      std::lock_guard<std::mutex> g(s->m);
      return s->running == 0;
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      scope = detail::scope_of(caller);
      fn = &on_cancel;
      armed = scope->arm(this);
      std::lock_guard<std::mutex> g(s->m);
      if (!armed) s->cancel_all_locked();  // already cancelled: cancel the children, then wait
      if (s->running == 0) return false;
      s->joiner = {caller, detail::this_runtime()};
      return true;  // after unlocking, the last child may resume us at any moment
    }
    void await_resume() {
      if (armed) scope->disarm(this);
      std::exception_ptr e;
      {
        std::lock_guard<std::mutex> g(s->m);
        e = s->first_error;
      }
      if (e) std::rethrow_exception(e);
      if (scope != nullptr && scope->cancelled()) detail::throw_cancelled();
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
