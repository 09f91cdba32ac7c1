// coreio/detail/io_op.hpp — one socket (or resolver) operation awaited by a task.
//
// An IO object belongs to the event loop of the worker that made it (its owner). Asio objects are
// not thread-safe, so every step on them (starting an operation, applying a cancellation, running
// a completion handler) runs under the loop's token (src/sched/worker.hpp, "Loop stealing"): on
// whichever worker holds it, one at a time. A task's operation starts inline on the owner (or on
// any worker while the owner's loop is marked stale: the owner is stuck or preempted) if it can
// take the token, else io_submit posts the start to the owner's loop. A fast path that needs no
// loop step (try_now_anywhere: a stream's send, which coordinates with the close itself) is tried
// inline on any worker, without the token; so is a read's off-loop fast path (try_off_loop: a
// stream's recv while its readiness is set) on a worker that cannot take the token. A completion handler makes the task ready on the
// worker that runs it: the owner, or an idle worker that stole a poll of the owner's loop while the
// owner was away.
//
// State word (single RMWs; the loop steps are serialised by the loop token):
//   k_started        start() ran (a loop step).
//   k_done           the operation finished; results are stored (a loop step).
//   k_cancelled      a cancel was requested; sticky (any thread).
//   k_cancel_posted  a cancel step is queued on the owner's loop and will run there (any thread
//                    sets it, the cancel step clears it).
// Protocol:
//   start (loop):   if k_cancelled: finish with operation_aborted, else initiate the asio op.
//   cancel (any):   set k_cancelled | k_cancel_posted unless k_done; run the cancel step inline if
//                   this worker may take the owner's token (loop_hold), else post it.
//   cancel step (loop): if started and not done: abort the op (its handler then runs with
//                   operation_aborted, or abort runs it inline); clear k_cancel_posted; if k_done
//                   was already set, resume the waiter (the handler left that to us).
//   handler (loop): store results; set k_done; resume the waiter unless k_cancel_posted is set.
// So the waiter is resumed exactly once, and never while a queued cancel step still points at the
// operation (which lives in the waiter's frame).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>

namespace coreio::detail {

struct io_op : cancel_node {
  io_op() noexcept = default;
  /// Movable until submitted (an awaitable is movable until first awaited): the same operation.
  io_op(io_op&& o) noexcept
      : cancel_node(std::move(o)),
        start(o.start),
        abort(o.abort),
        try_now(o.try_now),
        try_off_loop(o.try_off_loop),
        target(o.target),
        abort_ctx(o.abort_ctx),
        owner(o.owner),
        buf(o.buf),
        len(o.len),
        arg(o.arg),
        site(o.site),
        wait_arg(o.wait_arg),
        deadline_ns(o.deadline_ns),
        tried_now(o.tried_now),
        try_now_anywhere(o.try_now_anywhere) {}

  static constexpr std::uint32_t k_started = 1;
  static constexpr std::uint32_t k_done = 2;
  static constexpr std::uint32_t k_cancelled = 4;
  static constexpr std::uint32_t k_cancel_posted = 8;

  /// Initiates the asio operation. A loop step (the owner's token held).
  void (*start)(io_op*) = nullptr;
  /// Aborts the started operation: its handler will run with operation_aborted, or abort completes
  /// it itself (io_complete). A loop step.
  void (*abort)(io_op*) = nullptr;
  /// Optional fast path: try the operation now with a non-blocking syscall. Returns true if it
  /// completed (results stored), false if it would block (the op may have been narrowed, e.g. the
  /// unwritten rest of a buffer). A loop step unless try_now_anywhere, before the op is armed.
  bool (*try_now)(io_op*) = nullptr;
  /// Optional fast path for a worker that cannot take the loop token (io_try_now): as try_now, but
  /// no loop step; it may decline (false) without a syscall, and leaves the loop's state to the
  /// start (a stream's read, src/net/stream.cpp, "Read readiness", step 7).
  bool (*try_off_loop)(io_op*) = nullptr;
  /// The IO object's implementation (src/), and the worker that owns it.
  void* target = nullptr;
  /// What abort needs (e.g. the asio cancellation signal the operation is bound to).
  void* abort_ctx = nullptr;
  worker* owner = nullptr;
  std::coroutine_handle<> waiter{};
  /// Arguments and results, meaning set by the operation kind.
  void* buf = nullptr;
  std::size_t len = 0;
  const void* arg = nullptr;
  std::error_code ec{};
  std::size_t bytes = 0;
  /// What the task waits on while the op is pending (detail/wait_site.hpp) and its argument (the
  /// socket's descriptor, -1 unknown); set with the op's kind.
  const wait_site* site = &wait_sites::socket_io;
  std::int64_t wait_arg = -1;
  /// A stream read's deadline (steady_clock nanoseconds; 0: none): a read still waiting for bytes
  /// then ends with std::errc::timed_out (src/net/stream.cpp, "Read deadlines"). Set before the
  /// op is submitted; read in loop steps.
  std::int64_t deadline_ns = 0;
  /// try_now was just tried and would have blocked, or try_off_loop was tried or declined:
  /// starting the op need not try try_now again (any data since makes a fresh edge, which the
  /// start's own readiness check sees; a read's start makes its recv then). A loop step.
  bool tried_now = false;
  /// try_now needs no loop step: it coordinates with the IO object's close itself (a stream's
  /// send, src/net/stream.cpp, "Writes"), so any worker may run it without the loop token.
  bool try_now_anywhere = false;
  std::atomic<std::uint32_t> state{0};
};

/// Starts op as a step of its owner's loop: inline if this worker may take the loop token
/// (loop_hold), else posted to the loop. Any worker thread.
void io_submit(io_op* op);
/// The fast path: runs op's try_now here if the running task still has budget (a task that always
/// finds its socket ready must still yield now and then) and this worker may take the owner's loop
/// token (loop_hold), or the op's try_now needs no token (try_now_anywhere); else its try_off_loop,
/// if it has one. True: op completed (results stored). False: not tried, or it would block
/// (tried_now set).
bool io_try_now(io_op* op);
/// The cancel_node::fn of an io_op. Any thread.
void io_cancel(cancel_node* n) noexcept;

/// Awaiter base: arms the task's cancel scope and submits. Derived classes fill the op in their
/// constructor and read the results in await_resume after calling finish().
class io_awaiter : protected io_op {
 public:
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    scope_ = scope_of(h);
    if (scope_->cancelled()) return false;
    if (try_now != nullptr && io_try_now(this)) {
      done_inline_ = true;  // completed by the syscall itself: no suspension, no handler
      return false;
    }
    waiter = h;
    fn = &io_cancel;
    scope_->note_wait(site, wait_arg);
    if (!scope_->arm(this)) return false;
    armed_ = true;
    io_submit(this);
    return true;
  }

 protected:
  /// Disarms; throws cancelled_error if the operation was cancelled (or never started because the
  /// task was cancelled). Other errors are left in ec for the caller to report.
  void finish() {
    if (done_inline_) return;
    if (!armed_) throw_cancelled();
    scope_->disarm(this);
    // Relaxed: the handler's writes are ordered before our resumption by the queue hand-off.
    if ((state.load(std::memory_order_relaxed) & k_cancelled) != 0 &&
        ec == std::errc::operation_canceled) {
      throw_cancelled();
    }
  }

 private:
  cancel_scope* scope_ = nullptr;
  bool armed_ = false;
  bool done_inline_ = false;
};

}  // namespace coreio::detail
