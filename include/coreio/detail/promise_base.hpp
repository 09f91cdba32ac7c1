// coreio/detail/promise_base.hpp — what every coreio coroutine's promise has in common.
//
// A coroutine frame of task<T> is used in one of three ways, fixed before it first runs:
//   awaited   `co_await t` from another coroutine: runs inline under the awaiter's cancel scope and
//             resumes the awaiter by symmetric transfer when done.
//   gathered  a child of gather: runs under its own scope, possibly on another worker; the last child
//             to finish resumes the parent by symmetric transfer (child_sink::child_done).
//   spawned   a spawned task (spawn / block_on): own scope, and a spawned_state beside the frame (a
//             join cell, two references: the running task and the join handle; its registration
//             with its runtime so shutdown can cancel it). Its life from spawn to free:
//             detail/spawned_task.hpp.
// A spawned task, or a gathered child that waited in a queue, whose own scope is cancelled before
// it first runs does not run its body: it ends at once with cancelled_error (asyncio: a task
// cancelled before its first step raises CancelledError there, before its first statement). The
// worker checks as it takes the frame from the queue (src/sched/first_run.hpp). Frames started by
// symmetric transfer start as their starter decided: an awaited task (asyncio's `await coro()`), a
// gather's first child, the body of wait_for or timeout_scope; cancellation reaches them at their
// first suspension point. Library wrappers whose bodies keep books (a task_group member, a server's
// connection) opt out with must_start (task.hpp) and check for themselves where the user's code
// would begin.
// Fields used by one mode only are noted; what only spawned tasks need lives in spawned_state, out
// of the frames of awaited and gathered tasks. Frames are allocated by frame_alloc (mimalloc).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <source_location>

#include <coreio/detail/cancel_scope.hpp>
#include <coreio/detail/completion_cell.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/detail/stack_guard.hpp>

namespace coreio::detail {
std::coroutine_handle<> spawned_task_complete(promise_base* p, std::coroutine_handle<> h) noexcept;
}  // namespace coreio::detail

namespace coreio::detail {

enum class completion_kind : std::uint8_t { awaited, gathered, spawned };

/// Shared by gather-like combinators: told when each child finishes.
struct child_sink {
  /// Called from the child's final suspend with its promise; returns where to transfer control.
  virtual std::coroutine_handle<> child_done(promise_base* child) noexcept = 0;
  /// Called by a child that has its value, before it returns it (detail/as_task.hpp,
  /// await_giving_back): true if the sink will take that value. A when_any takes only its first
  /// child's; every other sink takes every child's.
  virtual bool claim_first(promise_base* /*child*/) noexcept { return true; }

 protected:
  ~child_sink() = default;
};

/// What a spawned task has beyond its frame; allocated by spawn_task, freed with the frame by the
/// last of its two owners (detail/spawned_task.hpp).
struct spawned_state {
  /// Completes when the task ends; the join handle waits on it. Its refcount counts the owners of
  /// the frame and of this state: the running task and the join handle.
  completion_cell cell{};
  /// The runtime the task was spawned on.
  runtime_impl* rt = nullptr;
  /// Place in that runtime's registry (sched/registry.hpp); guarded by the registry shard's lock.
  std::uint32_t reg_index = 0;
  std::uint16_t reg_shard = 0;
  /// Identity (coreio/current_task.hpp): the name's index in the process's name table (0: none),
  /// a process-unique id (set by spawned_task_start), and where spawn was called.
  std::uint32_t name = 0;
  std::uint64_t id = 0;
  std::source_location where{};
  /// Set by the task itself when something other than its join handle took its failure (a
  /// task_group): then a dropped handle is no reason to report it (spawned_task.cpp). Read after
  /// the task ended, ordered by the completion cell.
  bool failure_taken = false;
  /// The id of the task awaiting this one (0: none known): set by a join_handle's co_await (from
  /// any thread of execution of that task, gather children included) and by a task_group's join
  /// for its children (detail/task_graph.hpp). Writers: those awaiters; readers: dump_tasks.
  /// Relaxed everywhere: a report, no data is reached through the id.
  std::atomic<std::uint64_t> awaited_by{0};
  /// metrics_histograms only: when the task was last made ready on a worker (steady_clock ns; 0:
  /// not stamped), for the wake-to-poll histogram (sched/worker.cpp). Written by the worker that
  /// queues the task, read and cleared by the one that polls it; the queue orders the two.
  std::uint64_t ready_ns = 0;

  static void* operator new(std::size_t size) { return frame_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_free(p, size); }
};

struct promise_base {
  /// awaited: the coroutine to resume at the end. gathered: who to tell at the end. spawned: the
  /// task's spawned_state.
  union {
    void* continuation_;  // a std::coroutine_handle<> address
    child_sink* sink_;
    spawned_state* spawned_;
  };
  /// The scope whose cancellation this coroutine observes: own_scope_, or the awaiter's.
  cancel_scope* scope_ = nullptr;
  /// The exception the body ended with, if any.
  std::exception_ptr exception_{};
  /// gathered / spawned: the scope of this thread of execution.
  cancel_scope own_scope_{};

  completion_kind kind_ = completion_kind::awaited;
  /// Tracing only: a spawn or wake of this frame was recorded, so its next poll reads the clock
  /// (src/trace/poll_clock.hpp): a flow's end then never comes before its start. Set by the
  /// worker that records the event before it queues the frame, read and cleared by the one that
  /// polls it; the queue's hand-off orders the two (in the padding after kind_: no size).
  bool trace_flow_ = false;
  /// gathered / spawned: the body starts even if the own scope is cancelled before the frame first
  /// runs from a queue (must_start, task.hpp). Set before the frame is handed to anyone; read by
  /// the worker that takes it from the queue (src/sched/first_run.hpp), ordered by the queue.
  bool must_start_ = false;
  /// gathered: the body of a timeout_scope, a wait_for or an uncancellable, which runs in its
  /// starter's task as asyncio's timeout() and wait_for() await their coroutine in the current
  /// task: current_task() there names the starter's (detail/task_graph.hpp, named_task). Set before the frame first
  /// runs; read by that thread of execution only.
  bool same_task_ = false;

  promise_base() noexcept : continuation_(nullptr) {}

  static void* operator new(std::size_t size) { return frame_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_free(p, size); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  /// Where control goes when the body has finished. h is this promise's own frame.
  std::coroutine_handle<> on_final(std::coroutine_handle<> h) noexcept {
    switch (kind_) {
      case completion_kind::awaited:
        return transfer(std::coroutine_handle<>::from_address(continuation_));
      case completion_kind::gathered:
        return transfer(sink_->child_done(this));
      case completion_kind::spawned:
        break;
    }
    return transfer(spawned_task_complete(this, h));
  }

  /// Makes this frame an independent thread of execution (gathered or spawned).
  void make_independent(completion_kind kind) noexcept {
    kind_ = kind;
    scope_ = &own_scope_;
  }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return h.promise().on_final(h);
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
};

/// The cancel scope of the coroutine whose frame is h (for awaitables' await_suspend).
template <class P>
cancel_scope* scope_of(std::coroutine_handle<P> h) noexcept {
  static_assert(std::is_base_of_v<promise_base, P>,
                "coreio awaitables can only be awaited from coreio::task coroutines");
  return h.promise().scope_;
}

/// Gives a coroutine the cancel scope it observes, without suspending:
/// `cancel_scope* s = co_await current_scope_awaiter{};`.
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

/// The promise of any coreio frame h (a task<T>'s): promise_base sits at the promise offset an
/// alignment of at most two pointers gives (task.hpp asserts it for every task<T>). For the
/// scheduler and the tracer, which hold frames as std::coroutine_handle<>.
inline promise_base& promise_of(std::coroutine_handle<> h) noexcept {
  return std::coroutine_handle<promise_base>::from_address(h.address()).promise();
}

/// The promise whose own scope `s` is: every cancel_scope is a promise_base's own_scope_ (the
/// spawned task or gather child that owns it).
inline promise_base* scope_owner(cancel_scope* s) noexcept {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  // no virtual bases: the offset is fixed
#endif
  constexpr std::size_t offset = offsetof(promise_base, own_scope_);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
  return reinterpret_cast<promise_base*>(reinterpret_cast<std::byte*>(s) - offset);
}

}  // namespace coreio::detail
