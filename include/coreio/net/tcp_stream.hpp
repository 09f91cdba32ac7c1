// coreio/net/tcp_stream.hpp — a connected TCP stream (asyncio's StreamReader + StreamWriter).
//
// The socket lives on the event loop of the worker that created it (connect, or the worker an
// accepted connection was assigned to). Operations may be awaited from a task on any worker: a task
// that was stolen hops back to the socket's loop to start the operation, and the completion makes
// it ready on that loop again. Reads are buffered so that read_until keeps what it read past the
// delimiter for the next read.
//
// Every operation is cancellable: cancelling the awaiting task aborts the pending read or write
// (no bytes are lost or duplicated by the abort itself; a write that was aborted half-way leaves
// the stream's content undefined, as with any cancelled write, so close it). A peer reset gives a
// std::system_error; writing to a closed peer never raises SIGPIPE.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe; at most one read and one write
// may be outstanding at a time (from two tasks), else usage_error. Must not outlive its runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <coreio/detail/io_op.hpp>
#include <coreio/net/endpoint.hpp>
#include <coreio/task.hpp>

namespace coreio::detail {
struct tcp_socket_impl;
void destroy_tcp_socket(tcp_socket_impl*) noexcept;
struct tcp_socket_deleter {
  void operator()(tcp_socket_impl* p) const noexcept { destroy_tcp_socket(p); }
};
using tcp_socket_ptr = std::unique_ptr<tcp_socket_impl, tcp_socket_deleter>;
struct stream_access;
/// At most one read and one write in flight per stream: claims the direction or throws
/// usage_error. Any thread.
void tcp_claim(tcp_socket_impl* s, bool write);
void tcp_unclaim(tcp_socket_impl* s, bool write) noexcept;
}  // namespace coreio::detail

namespace coreio::net {

class tcp_listener;

class tcp_stream {
 public:
  tcp_stream() noexcept;
  tcp_stream(tcp_stream&&) noexcept;
  tcp_stream& operator=(tcp_stream&&) noexcept;
  ~tcp_stream();

  /// Resolves host, tries each address in turn, returns the first connection made. Throws
  /// std::system_error (connection refused, unreachable, host not found) naming host:port.
  /// Worker only.
  static task<tcp_stream> connect(std::string host, std::uint16_t port);
  static task<tcp_stream> connect(endpoint ep);

  class read_awaiter;
  class write_awaiter;

  /// Reads at least one byte into buf; returns the count, 0 at end of stream.
  read_awaiter read_some(std::span<std::byte> buf);
  template <class T, std::size_t N>
  read_awaiter read_some(std::span<T, N> buf) {
    return read_some(std::as_writable_bytes(std::span<T>(buf)));
  }
  /// Fills buf exactly; throws incomplete_read_error (with the count that arrived) at end of stream.
  task<void> read_exact(std::span<std::byte> buf);
  template <class T, std::size_t N>
  task<void> read_exact(std::span<T, N> buf) {
    return read_exact(std::as_writable_bytes(std::span<T>(buf)));
  }
  /// Reads up to and including the delimiter. Throws limit_overrun_error if it is not within max
  /// bytes (the bytes stay buffered), incomplete_read_error if the stream ends first.
  task<std::string> read_until(std::string delimiter, std::size_t max);

  /// Writes all of data.
  write_awaiter write_all(std::span<const std::byte> data);
  write_awaiter write_all(std::string_view text);

  /// Sends FIN: the peer reads end of stream; reading here goes on.
  void shutdown_write();
  /// Closes the socket; pending operations end with an error. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept;
  endpoint local_endpoint() const;
  endpoint remote_endpoint() const;
  void set_nodelay(bool on);

  class read_awaiter : detail::io_awaiter {
   public:
    read_awaiter(tcp_stream& s, std::span<std::byte> buf, bool raw = false);
    bool await_ready();
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      detail::tcp_claim(static_cast<detail::tcp_socket_impl*>(target), false);
      claimed_ = true;
      return detail::io_awaiter::await_suspend(h);
    }
    std::size_t await_resume();

   private:
    tcp_stream& s_;
    std::span<std::byte> out_;
    std::size_t ready_ = 0;
    bool raw_;  // bypass the stream's read buffer
    bool from_buffer_ = false;
    bool claimed_ = false;
  };

  class write_awaiter : detail::io_awaiter {
   public:
    write_awaiter(tcp_stream& s, std::span<const std::byte> data);
    using detail::io_awaiter::await_ready;
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      detail::tcp_claim(static_cast<detail::tcp_socket_impl*>(target), true);
      claimed_ = true;
      return detail::io_awaiter::await_suspend(h);
    }
    void await_resume();

   private:
    tcp_stream& s_;
    bool claimed_ = false;
  };

 private:
  friend class tcp_listener;
  friend struct detail::stream_access;
  explicit tcp_stream(detail::tcp_socket_ptr impl) noexcept;
  detail::tcp_socket_impl& impl() const;
  /// Moves buffered bytes into out; returns how many.
  std::size_t take_buffered(std::span<std::byte> out) noexcept;
  /// Reads more into the buffer; returns false at end of stream.
  task<bool> fill();

  detail::tcp_socket_ptr impl_;
  std::vector<std::byte> rbuf_;  // buffered bytes are rbuf_[rpos_, rbuf_.size())
  std::size_t rpos_ = 0;
};

}  // namespace coreio::net
