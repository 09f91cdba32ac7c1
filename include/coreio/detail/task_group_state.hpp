// coreio/detail/task_group_state.hpp — the state a task_group (coreio/task_group.hpp) shares with
// its children: who runs, the first failure, the joiner.
//
// Protocol: a reference-counted state holds a mutex, the count of children not yet ended, the
// intrusive list of the running children's cancel scopes, the first error and the joiner.
//   spawn:   running += 1 (under the mutex), then spawn a wrapper task that holds a reference.
//   wrapper: on its first step it links its member node (its own scope) into the list, cancelling
//            itself if the group is already cancelling; it awaits the child; on failure it records
//            the error and cancels the rest; at its end it unlinks, running -= 1, and wakes the
//            joiner when that reaches 0 (all under the mutex; the wake-up itself after unlocking).
//   join:    waits (an async waiter under the mutex) until running == 0, then marks the group
//            finished (spawn refused from then on). Its cancel node cancels
//            every member and keeps waiting. It records the joining task as the awaiter of every
//            member (spawned_state::awaited_by, for dump_tasks); a member entering later takes it
//            from joiner_id.
//   destroy: a group destroyed without a completed join cancels the members still running; they
//            unwind on their own, each holding a reference, so the state lives until the last ends.
// A member node is in the list only while its wrapper runs, so a cancel under the mutex never
// reaches a freed frame. The count is not child_join's countdown (detail/child_join.hpp): it rises
// again from zero (a spawn after the children ended, before join) and nobody may be waiting when
// it falls.
//
// Memory ordering: every field is guarded by the mutex; the joiner is scheduled after the unlock
// that released the last child's writes, and reads the first error under the mutex.
//
// Thread safety: spawn and join from the task that owns the group; the wrappers anywhere.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

#include <coreio/detail/completion_cell.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>

namespace coreio::detail {

struct group_state {
  struct member {
    cancel_scope* scope = nullptr;
    member* prev = nullptr;
    member* next = nullptr;
  };

  std::mutex m;
  member* head = nullptr;          // the running wrappers
  std::size_t running = 0;         // spawned and not yet ended
  std::exception_ptr first_error;  // the first failure that is not cancelled_error
  bool cancelling = false;         // a child failed or the group was cancelled
  bool finished = false;           // join() has returned: spawn is refused
  async_waiter joiner{};           // set while join() waits
  std::uint64_t joiner_id = 0;     // the joining task's id, for dump_tasks (0: none yet)

  // Under m. Records the joiner as the awaiter of x (detail/task_graph.hpp).
  void note_joiner_locked(const member* x) const noexcept {
    // Relaxed: a report (promise_base.hpp).
    scope_owner(x->scope)->spawned_->awaited_by.store(joiner_id, std::memory_order_relaxed);
  }
  // Under m. The joiner is the task with id `id`: every member is awaited by it.
  void set_joiner_locked(std::uint64_t id) noexcept {
    joiner_id = id;
    for (member* x = head; x != nullptr; x = x->next) note_joiner_locked(x);
  }

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
    if (joiner_id != 0) note_joiner_locked(x);
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
    // Started under must_start (task_group.hpp): a member cancelled before it first ran (the group
    // was cancelled, a sibling failed) never starts the user's task, as asyncio's TaskGroup.
    // The user's task is freed here, before the guard lets join() return (task_group.hpp: when
    // join() returns, every task given to spawn() is gone with its locals and arguments).
    if (guard.node.scope->cancelled()) {
      t = task<T>{};
      throw_cancelled();
    }
    co_return co_await std::move(t);
  } catch (const cancelled_error&) {
    throw;
  } catch (...) {
    guard.state->fail(std::current_exception());
    // The group reports it from join(); a dropped child handle must not report it again.
    scope_owner(guard.node.scope)->spawned_->failure_taken = true;
    throw;
  }
}

}  // namespace coreio::detail
