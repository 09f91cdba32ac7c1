// coreio/errors.hpp — the exception types coreio throws.
//
// Every error names what went wrong: a cancelled task, a timeout, a queue that was shut down, a
// broken barrier, a promise that was dropped without a value, a misuse of the API that would
// otherwise deadlock or crash, a spawn on a runtime that is shutting down, and a stream read that
// could not be satisfied (asyncio's IncompleteReadError and LimitOverrunError).
//
// Thread safety: distinct objects: safe. Shared objects: safe for const use (what(), accessors).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace coreio {

/// Thrown at a suspension point of a task that was cancelled (join_handle::cancel, a failing gather
/// sibling, runtime shutdown); a task cancelled before it first ran ends with it without running.
/// Cancellation is sticky: once a task is cancelled, every later cancellable suspension point
/// throws this again. Catch it to clean up, then rethrow or return.
/// Derives from std::exception (not runtime_error) so that `catch (const std::runtime_error&)`
/// handlers for ordinary failures do not swallow it by accident.
class cancelled_error : public std::exception {
 public:
  const char* what() const noexcept override { return "coreio: the task was cancelled"; }
};

/// Thrown by wait_for / a deadline when the time runs out; the inner task has been cancelled and
/// has finished unwinding.
class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("coreio: the operation timed out") {}
};

/// Thrown by a queue's put / try_put once the queue was closed (shut down), and by get / try_get
/// once it was closed and is empty (asyncio's QueueShutDown; see basic_queue::close / shutdown).
class queue_closed : public std::runtime_error {
 public:
  queue_closed() : std::runtime_error("coreio: the queue is closed") {}
};

/// Thrown by barrier::arrive_and_wait when the barrier is broken: aborted (barrier::abort) before
/// or while the task waits, or reset (barrier::reset) while it waits (asyncio's
/// BrokenBarrierError, a RuntimeError there too).
class broken_barrier : public std::runtime_error {
 public:
  broken_barrier() : std::runtime_error("coreio: the barrier is broken (aborted or reset)") {}
};

/// Thrown by future<T> when its promise was destroyed without a value or an exception.
class broken_promise : public std::logic_error {
 public:
  broken_promise()
      : std::logic_error("coreio: the promise was destroyed without setting a value") {}
};

/// Thrown when the API is used in a way that would deadlock, crash or lose a result: block_on or
/// get() on a worker thread, awaiting a moved-from task, retrieving a result twice, coreio::spawn
/// outside a runtime, setting a promise twice. what() says which.
class usage_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Thrown by runtime::spawn / coreio::spawn once the runtime has begun shutting down.
class runtime_closed : public std::runtime_error {
 public:
  runtime_closed() : std::runtime_error("coreio: the runtime is shutting down; spawn refused") {}
};

/// Thrown by a stream's read_exact when the stream ends before the buffer is full, and by its
/// read_until when the stream ends before the delimiter (asyncio.IncompleteReadError).
///
/// read_exact: the first bytes_read() bytes of the caller's buffer hold what did arrive; they are
/// consumed (a later read starts after them, at end of stream). bytes_wanted() is the buffer's size.
/// read_until: the bytes_read() bytes that arrived stay buffered in the stream (a later read_some
/// returns them); bytes_wanted() is bytes_read() plus the delimiter's length, the least that would
/// have completed the line.
class incomplete_read_error : public std::runtime_error {
 public:
  incomplete_read_error(std::size_t got, std::size_t wanted)
      : std::runtime_error("coreio::net: stream ended after " + std::to_string(got) + " of " +
                           std::to_string(wanted) + " bytes"),
        got_(got),
        wanted_(wanted) {}
  /// Bytes that arrived before the end of the stream.
  std::size_t bytes_read() const noexcept { return got_; }
  /// Bytes the read needed (see the class comment).
  std::size_t bytes_wanted() const noexcept { return wanted_; }

 private:
  std::size_t got_, wanted_;
};

/// Thrown by a stream's read_until when no delimiter ends within limit() bytes (the delimiter
/// counts; asyncio.LimitOverrunError). Nothing is consumed: the bytes stay buffered in the stream
/// and a later read returns them, so the caller may skip them or fail the connection.
class limit_overrun_error : public std::runtime_error {
 public:
  explicit limit_overrun_error(std::size_t max)
      : std::runtime_error("coreio::net: no delimiter within " + std::to_string(max) + " bytes"),
        max_(max) {}
  /// The `max` the read_until was called with.
  std::size_t limit() const noexcept { return max_; }

 private:
  std::size_t max_;
};

namespace net {
// The stream errors under the names they have had in coreio::net since the streams came.
using coreio::incomplete_read_error;
using coreio::limit_overrun_error;
}  // namespace net

namespace detail {
[[noreturn]] void throw_usage(const char* what);
[[noreturn]] void throw_cancelled();
}  // namespace detail

}  // namespace coreio
