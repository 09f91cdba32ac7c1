// coreio/detail/child_join.hpp — the one fork-join primitive: a parent coroutine P that waits for
// its children, with a countdown of shares, P's handle and a cancel node armed on P's scope.
//
// Every combinator that runs children on P's behalf and resumes P once they are all gone is built
// on this: gather / gather_settled / when_any (detail/gather_core.hpp), wait_for, timeout_scope's
// run (detail/timeout_state.hpp holds the deadline's share), uncancellable. Two layers:
//
//   parent_link  P's handle, P's cancel scope and the node armed on it (steps 1 and 4 below). Also
//                used alone by awaiters whose wake-up is not a countdown (task_group's join,
//                as_completed's next, shield): they arm and disarm through it.
//   child_join   + the countdown (remaining_) and the child_sink the children report to.
//
// Protocol (the awaitable A, deriving from child_join, lives in P's frame and owns the children's
// frames; a "share" is one party that may still touch A or a child's frame: each child, and
// anything else A lets in, such as wait_for's timer):
//   1. bind(P, scope): A records P and P's scope; if the scope is already cancelled, A returns P at
//      once (nothing started) and await_resume throws cancelled_error (join_end).
//   2. adopt(c) each child (an independent thread of execution under its own scope, reporting to
//      A), set_shares(n), then arm(fn): the node goes on P's scope; fn forwards a cancel of P to the
//      children. If arm fails (P was cancelled between 1 and 2), A returns P, nothing started.
//      Arming happens before anything else may run (a child on another worker, a timer in a heap),
//      so a failed arm never has to take anything back; a cancel after arming cancels children
//      that may not have started, which then end with cancelled_error before their bodies run
//      (promise_base.hpp).
//   3. launch(first, n): A transfers control to the first child (others may be pushed on the fork
//      deque first). Each party, when it is done with A, drops its share exactly once
//      (drop_share). The one that drops the last share resumes P: a child from its final suspend by
//      symmetric transfer (child_done returns P; promise_base::on_final passes it through
//      detail::transfer), any other party by scheduling P on its runtime (drop_share_and_resume).
//      Everyone else returns to its loop and never touches A again: P may already be running and
//      about to destroy A and the children's frames.
//   4. P resumes in await_resume: join_end() disarms the node (waiting out a concurrent canceller
//      that holds it, cancel_scope.hpp step 3), or throws cancelled_error if step 1 or 2 stopped.
// Every share is gone before P resumes, so no frame is freed under a running child or a firing
// timer, and the node, which lives in A, outlives every canceller's use of it.
//
// Memory ordering: each party writes its results (a child's value or exception, wait_for's
// timed-out flag) before its acq_rel fetch_sub on remaining_; the last decrement acquires all of
// them, and P resumes on that thread or after a run-queue push that happens-after it.
//
// Thread safety: bind, adopt, set_shares, arm, launch and join_end by P (on its worker); drop_share
// and child_done by any party, once each; the node's fn by any cancelling thread.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>

#include <coreio/detail/cancel_scope.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>

namespace coreio::detail {

/// P's side of a join: its handle, its cancel scope and the cancel node armed there (steps 1, 2, 4).
class parent_link : public cancel_node {
 protected:
  parent_link() noexcept = default;
  /// Movable until awaited (before bind): a fresh link with the same node fn.
  parent_link(parent_link&& o) noexcept : cancel_node(std::move(o)) {}
  ~parent_link() = default;

  /// Step 1. Records P; false if P's scope is already cancelled (return P, start nothing).
  bool bind(std::coroutine_handle<> parent, cancel_scope* scope) noexcept {
    parent_ = parent;
    scope_ = scope;
    return !scope->cancelled();
  }

  /// Step 2. Arms this node on P's scope with `on_cancel`, recording what P waits on (site and its
  /// argument, detail/wait_site.hpp); false, with nothing armed, if P's scope is cancelled.
  bool arm(void (*on_cancel)(cancel_node*), const wait_site& site, std::int64_t arg = 0) noexcept {
    fn = on_cancel;
    scope_->note_wait(&site, arg);
    const bool armed = scope_->arm(this);
    armed_ = armed;
    return armed;
  }

  /// Step 4, for awaiters that go on after a failed arm: takes the node back if it was armed
  /// (waiting for a canceller that holds it); returns whether it was.
  bool disarm_if_armed() noexcept {
    if (!armed_) return false;
    scope_->disarm(this);
    return true;
  }

  /// Step 4. Takes the node back; throws cancelled_error if it was never armed (P was cancelled
  /// before anything started).
  void join_end() {
    if (!armed_) throw_cancelled();
    scope_->disarm(this);
  }

  /// Whether P's scope has been cancelled. After bind.
  bool parent_cancelled() const noexcept { return scope_->cancelled(); }

  /// The node is on P's scope (arm succeeded). P only. First, so that it fills cancel_node's tail
  /// padding (cancel_scope.hpp) instead of padding a word of its own in every fork-join frame.
  bool armed_ = false;
  /// P; set by bind.
  std::coroutine_handle<> parent_{};
  /// P's cancel scope, on which this node is armed from arm() to join_end(); set by bind.
  cancel_scope* scope_ = nullptr;
};

/// The countdown of a fork-join: children report to it, the last share resumes P (steps 2, 3).
class child_join : public child_sink, public parent_link {
 protected:
  child_join() noexcept = default;
  /// Movable until awaited: a fresh join (no shares, nothing bound).
  child_join(child_join&& o) noexcept : child_sink(), parent_link(std::move(o)) {}
  ~child_join() = default;

  /// Step 2. Makes c an independent thread of execution (its own scope) that reports to *this.
  /// same_task: c is a body run in P's task (timeout_scope, wait_for, uncancellable;
  /// promise_base::same_task_).
  void adopt(promise_base& c, bool same_task = false) noexcept {
    c.make_independent(completion_kind::gathered);
    c.sink_ = this;
    c.same_task_ = same_task;
  }

  /// Step 2. Before launch and before any party can run.
  void set_shares(std::size_t n) noexcept {
    // Relaxed: published to the children by the symmetric transfer or the release of the deque
    // push that starts them, to other parties by whatever hands them A (the timer queue's lock).
    remaining_.store(n, std::memory_order_relaxed);
  }

  /// Step 3. Forks n children: counts them, pushes children n-1..1 on the worker's fork deque
  /// (stealable; child 1 on top, so the owner starts them in order), and transfers control to
  /// child 0. `handles` holds n >= 1 entries.
  static std::coroutine_handle<> launch(const std::coroutine_handle<>* handles,
                                        std::size_t n) noexcept {
    count_child_spawned(static_cast<std::uint32_t>(n));
    for (std::size_t i = n; i-- > 1;) push_fork(handles[i]);
    return transfer(handles[0]);
  }

  // The parties' side: any thread, each party once (add_share: see there).
 public:
  /// P's cancel scope (after bind): where a child's thread of execution was forked from
  /// (detail/task_graph.hpp). Read by the children while the join runs.
  cancel_scope* parent_scope() const noexcept { return scope_; }

  /// Step 3. Drops the caller's share: P if it was the last (to be transferred to by a child's
  /// final suspend), else noop. After a noop the caller must not touch *this again.
  std::coroutine_handle<> drop_share() noexcept {
    // acq_rel: the release publishes this party's writes; the last decrement acquires every one.
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) return parent_;
    return std::noop_coroutine();
  }

  /// Step 3, for a party that is not a child (no final suspend to transfer from): drops its share
  /// and, if it was the last, schedules P on rt. After it the caller must not touch *this again.
  void drop_share_and_resume(runtime_impl* rt) noexcept {
    // acq_rel: as in drop_share; P then runs after the run-queue push, which happens-after this.
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) schedule(rt, parent_);
  }

  /// Step 3, for parties that join while the join runs (a timeout_scope's re-armed deadline): adds
  /// one share. Only by a party that holds a share or knows one is held throughout (so the count
  /// is never raised from zero).
  void add_share() noexcept {
    // Relaxed: a share is held meanwhile, so this cannot race with the last decrement; the new
    // party's later fetch_sub publishes what it writes (the reference-count argument).
    remaining_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  // Shares still held. Writers: every party (fetch_sub, once each), P (set_shares, before any
  // party runs). Reader: the party that drops the last one.
  std::atomic<std::size_t> remaining_{0};
};

}  // namespace coreio::detail
