// coreio/net/stream.hpp — a connected byte stream (asyncio's StreamReader + StreamWriter): the
// operations tcp_stream and unix_stream share.
//
// A stream's socket lives on the event loop of the worker that created it (connect, or the worker
// an accepted connection was assigned to). Operations may be awaited from a task on any worker: a
// task that was stolen hops back to the socket's loop to start the operation, and the completion
// makes it ready on that loop again.
//
// Reads are buffered: read_until reads ahead in chunks and keeps what it read past the delimiter
// for the next read; read_some serves buffered bytes before it reads the socket. The buffer drops
// consumed bytes before it grows, and it is freed when it is empty and larger than a few chunks,
// so a stream holds at most about twice its largest pending read plus one chunk (8 KiB), whatever
// the stream's length.
//
// Every operation is cancellable (cancelling the awaiting task, or a wait_for timing out), and a
// cancelled read loses no byte and duplicates none: read_some either returns the bytes it read or
// throws with none consumed; read_exact and read_until keep what they had read in the stream's
// buffer, so the next read starts with it. A write that was cancelled half-way leaves the stream's
// content undefined, as with any cancelled write: close it. A peer reset gives a std::system_error;
// writing to a closed peer never raises SIGPIPE.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe; at most one read and one write may
// be outstanding at a time (from two tasks), else usage_error. Must not outlive its runtime.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <coreio/detail/io_op.hpp>
#include <coreio/detail/net_io.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

/// The operations of every connected stream socket. tcp_stream and unix_stream derive from it and
/// add their protocol's connect, addresses and options; either moves into a plain `stream` for
/// code that serves both (`net::stream s = std::move(tcp);`).
class stream {
 public:
  /// Not connected: every operation but close() and is_open() throws usage_error.
  stream() noexcept;
  stream(stream&&) noexcept;
  stream& operator=(stream&&) noexcept;
  ~stream();

  class read_awaiter;
  class write_awaiter;

  /// Reads at least one byte into buf (buffered bytes first); returns the count, 0 at end of stream
  /// (and for an empty buf). Cancelled: cancelled_error, nothing consumed.
  read_awaiter read_some(std::span<std::byte> buf);
  template <class T, std::size_t N>
  read_awaiter read_some(std::span<T, N> buf) {
    return read_some(std::as_writable_bytes(std::span<T>(buf)));
  }

  /// Fills buf exactly. Throws incomplete_read_error (the first bytes_read() bytes of buf hold what
  /// arrived) at end of stream. Cancelled or failed (cancelled_error, a timeout, system_error): the
  /// bytes it had read go back to the stream's buffer, so the next read returns them first.
  task<void> read_exact(std::span<std::byte> buf);
  template <class T, std::size_t N>
  task<void> read_exact(std::span<T, N> buf) {
    return read_exact(std::as_writable_bytes(std::span<T>(buf)));
  }

  /// Reads up to and including the delimiter (non-empty, else usage_error), at most max bytes
  /// including it. Throws limit_overrun_error if the delimiter is not within max bytes (the bytes
  /// stay buffered), incomplete_read_error if the stream ends first (they stay buffered too).
  /// Cancelled: what it read stays buffered for the next read.
  task<std::string> read_until(std::string delimiter, std::size_t max);

  /// Writes all of data. The bytes must stay valid until the co_await returns.
  write_awaiter write_all(std::span<const std::byte> data);
  write_awaiter write_all(std::string_view text);

  /// Sends end of stream (TCP: FIN): the peer reads end of stream; reading here goes on. The end
  /// follows every byte of a write_all in flight (another task's, still sending: it goes out when
  /// that write ends, as asyncio's write_eof flushes first); a write_all after it throws
  /// usage_error. From any task; idempotent.
  void shutdown_write();
  /// Closes the socket; pending operations end with an error. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept;

  class read_awaiter : detail::io_awaiter {
   public:
    read_awaiter(stream& s, std::span<std::byte> buf,
                 detail::read_mode mode = detail::read_mode::buffered);
    /// Movable until first awaited (to pass it to wait_for, gather, ...): the same read.
    read_awaiter(read_awaiter&& o) noexcept
        : detail::io_awaiter(std::move(o)),
          s_(o.s_),
          out_(o.out_),
          ready_(o.ready_),
          mode_(o.mode_),
          from_buffer_(o.from_buffer_),
          claimed_(std::exchange(o.claimed_, false)) {}
    read_awaiter& operator=(read_awaiter&&) = delete;
    ~read_awaiter();
    bool await_ready();
    using detail::io_awaiter::await_suspend;
    std::size_t await_resume();
    /// Puts the n bytes this read returned (the first n of its buffer) back in front of the
    /// stream's buffer, as if they had not been read: the next read returns them first. What
    /// when_any does with a losing read_some (coreio/gather.hpp). Throws std::bad_alloc (the
    /// stream's buffer could not grow; the bytes then stay only in the caller's buffer).
    void give_back(std::size_t n);
    /// Puts the failure this read ended with (a reset: the kernel reports it once, then an end of
    /// stream) back on the stream: the next read throws it. What when_any does with a losing
    /// read_some that failed.
    void give_back_failure(std::exception_ptr e) noexcept;

   private:
    detail::stream_socket_impl* s_;
    std::span<std::byte> out_;
    std::size_t ready_ = 0;
    detail::read_mode mode_;
    bool from_buffer_ = false;
    bool claimed_ = false;
    friend struct detail::stream_access;  // src/: a read deadline (set_read_deadline)
  };

  class write_awaiter : detail::io_awaiter {
   public:
    write_awaiter(stream& s, std::span<const std::byte> data);
    /// Movable until first awaited: the same write.
    write_awaiter(write_awaiter&& o) noexcept
        : detail::io_awaiter(std::move(o)), claimed_(std::exchange(o.claimed_, false)) {}
    write_awaiter& operator=(write_awaiter&&) = delete;
    ~write_awaiter();
    using detail::io_awaiter::await_ready;
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      detail::stream_claim(static_cast<detail::stream_socket_impl*>(target), true);
      claimed_ = true;
      return detail::io_awaiter::await_suspend(h);
    }
    void await_resume();

   private:
    bool claimed_ = false;
  };

 protected:
  explicit stream(detail::stream_socket_ptr impl) noexcept;
  /// The implementation, or usage_error naming `what` if not connected.
  detail::stream_socket_impl& impl() const;

 private:
  friend struct detail::stream_access;
  detail::stream_socket_ptr impl_;
};

}  // namespace coreio::net
