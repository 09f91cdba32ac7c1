// net/io.cpp — starting, completing and cancelling io_ops (protocol: detail/io_op.hpp).
#include <coreio/detail/io_op.hpp>

#include <coreio/detail/coop.hpp>

#include <asio/error.hpp>
#include <asio/post.hpp>

#include "net/io.hpp"
#include "runtime_impl.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

namespace {

// The worker running the handler takes the task: the owner, or a worker that stole a poll of the
// owner's loop (sched/worker.hpp, "Loop stealing"). Every loop step runs on a worker.
void resume(io_op* op) noexcept {
  if (worker* w = this_worker()) {
    w->push_woken(op->waiter);
  } else {
    op->owner->rt().push_global(op->waiter);
  }
}

void cancel_step(io_op* op) noexcept {
  // Acquire: see k_started / k_done set by earlier loop steps (the token orders them too).
  std::uint32_t s = op->state.load(std::memory_order_acquire);
  if ((s & io_op::k_started) && !(s & io_op::k_done)) op->abort(op);
  // acq_rel: pairs with the fetch_or in io_complete; whoever comes second resumes.
  std::uint32_t prev = op->state.fetch_and(~io_op::k_cancel_posted, std::memory_order_acq_rel);
  if (prev & io_op::k_done) resume(op);
}

void run_start(io_op* op) {
  // acq_rel: orders the start after a canceller's k_cancelled (acquire) and publishes k_started.
  std::uint32_t prev = op->state.fetch_or(io_op::k_started, std::memory_order_acq_rel);
  if (prev & io_op::k_cancelled) {
    io_complete(op, asio::error::operation_aborted, 0);
    return;
  }
  try {
    // Try the syscall before waiting, also for an op posted here from a worker that could not take
    // the token: a write started on a socket with room, or a read on one whose readiness
    // (stream.cpp, "Read readiness") was not cleared, completes without a wait. Unless the fast
    // path has just tried it and it would have blocked: then anything since makes a fresh edge
    // (a read's start looks at the readiness flag again), and a second attempt is a wasted
    // syscall per wait.
    if (op->try_now != nullptr && !op->tried_now && op->try_now(op)) {
      io_complete(op, op->ec, op->bytes);
      return;
    }
    op->start(op);
  } catch (const std::system_error& e) {
    io_complete(op, e.code(), 0);
  } catch (...) {
    io_complete(op, std::make_error_code(std::errc::not_enough_memory), 0);
  }
}

}  // namespace

void io_complete(io_op* op, const std::error_code& ec, std::size_t bytes) noexcept {
  // Asio reports aborts in its own system category, which does not compare equal to std::errc;
  // normalise so that io_awaiter::finish() can recognise them without including Asio.
  op->ec = normalize_error(ec);
  op->bytes = bytes;
  op->owner->io_end();
  // acq_rel: publishes the results; acquire sees a canceller's k_cancel_posted.
  std::uint32_t prev = op->state.fetch_or(io_op::k_done, std::memory_order_acq_rel);
  if (prev & io_op::k_cancel_posted) return;  // the queued cancel step resumes the waiter
  resume(op);
}

bool io_try_now(io_op* op) {
  if (!coop_take()) return false;
  if (op->try_now_anywhere) {
    // Without the token: a worker descheduled inside this syscall (a send that wakes its peer is a
    // likely place) leaves the owner's loop free for whoever can poll it.
    if (op->try_now(op)) return true;
    op->tried_now = true;
    return false;
  }
  loop_hold h{op->owner};
  if (!h) {
    if (op->try_off_loop == nullptr) return false;
    if (op->try_off_loop(op)) return true;
    op->tried_now = true;
    return false;
  }
  if (op->try_now(op)) return true;
  op->tried_now = true;
  return false;
}

void io_submit(io_op* op) {
  worker* owner = op->owner;
  owner->io_begin();
  if (loop_hold h{owner}) {
    run_start(op);
  } else {
    owner->post([op] { run_start(op); });
  }
}

void io_cancel(cancel_node* n) noexcept {
  auto* op = static_cast<io_op*>(n);
  std::uint32_t s = op->state.load(std::memory_order_relaxed);
  do {
    if (s & io_op::k_done) return;  // finished first: the waiter resumes normally
    // acq_rel: publishes the request to the owner's steps; acquire sees k_done if it was set.
  } while (!op->state.compare_exchange_weak(s, s | io_op::k_cancelled | io_op::k_cancel_posted,
                                            std::memory_order_acq_rel, std::memory_order_relaxed));
  worker* owner = op->owner;
  if (loop_hold h{owner}) {
    cancel_step(op);
    return;
  }
  try {
    owner->post([op] { cancel_step(op); });
  } catch (...) {
    // Out of memory posting the step: the operation completes normally later and, since
    // k_cancel_posted stays set, would never be resumed; clear it so the handler resumes it.
    std::uint32_t prev = op->state.fetch_and(~io_op::k_cancel_posted, std::memory_order_acq_rel);
    if (prev & io_op::k_done) owner->rt().push_global(op->waiter);
  }
}

}  // namespace coreio::detail
