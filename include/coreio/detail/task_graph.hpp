// coreio/detail/task_graph.hpp — the edges of the async call graph that dump_tasks draws: which
// spawned task awaits which (and the check that none awaits itself); and which thread of execution
// current_task() names (named_task).
//
// A suspension point knows the cancel scope of its thread of execution: a spawned task's own scope,
// or a child's of a fork-join (gather, wait_for, timeout_scope, ...). task_of walks from a child
// to the scope it was forked from (child_join::parent_scope) until it reaches a spawned task, so
// a join_handle awaited inside a gather inside task A records A as the awaiter. The walk runs on
// the awaiting thread of execution, whose ancestors are all suspended waiting for it: every frame
// it reads is alive.
//
// Thread safety: the owner of `s` only (the awaiting thread of execution).
#pragma once

#include <atomic>
#include <cstdint>

#include <coreio/detail/child_join.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>

namespace coreio::detail {

/// The spawned task whose thread of execution (or a fork-join child of it) owns s; null when the
/// walk ends elsewhere (not expected: every root thread of execution is a spawned task).
inline promise_base* task_of(cancel_scope* s) noexcept {
  promise_base* p = scope_owner(s);
  while (p->kind_ == completion_kind::gathered) {
    p = scope_owner(static_cast<child_join*>(p->sink_)->parent_scope());
  }
  return p->kind_ == completion_kind::spawned ? p : nullptr;
}

/// The thread of execution current_task() names for a coroutine under scope s: s's owner, or,
/// from the body of a timeout_scope, wait_for or uncancellable, the one that started it
/// (promise_base::same_task_).
inline promise_base* named_task(cancel_scope* s) noexcept {
  promise_base* p = scope_owner(s);
  while (p->same_task_) p = scope_owner(static_cast<child_join*>(p->sink_)->parent_scope());
  return p;
}

/// Records that the task owning `awaiter_scope` awaits the spawned task `awaited`. Throws
/// usage_error when that is `awaited` itself: a task waiting for its own end would wait for ever
/// (asyncio raises RuntimeError, "Task cannot await on itself").
inline void note_awaited_by(promise_base* awaited, cancel_scope* awaiter_scope) {
  const promise_base* t = task_of(awaiter_scope);
  if (t == awaited) throw_usage("a task awaits its own join_handle: it would wait for ever");
  // Relaxed: a report (promise_base.hpp).
  awaited->spawned_->awaited_by.store(t != nullptr ? t->spawned_->id : 0,
                                      std::memory_order_relaxed);
}

}  // namespace coreio::detail
