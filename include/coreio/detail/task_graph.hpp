// coreio/detail/task_graph.hpp — the edges of the async call graph that dump_tasks draws: which
// spawned task awaits which.
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

/// Records that the task owning `awaiter_scope` awaits the spawned task `awaited`.
inline void note_awaited_by(spawned_state* awaited, cancel_scope* awaiter_scope) noexcept {
  const promise_base* t = task_of(awaiter_scope);
  // Relaxed: a report (promise_base.hpp).
  awaited->awaited_by.store(t != nullptr ? t->spawned_->id : 0, std::memory_order_relaxed);
}

}  // namespace coreio::detail
