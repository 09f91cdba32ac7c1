// src/http/connection.hpp — one client connection: the transport (a plain net::stream or a
// tls_stream over one), its read buffer and its response parser, plus what the pool knows of it
// (origin key, idle deadline).
//
// The read buffer holds bytes read from the socket and not yet consumed by the parser: [begin_,
// end_) of buf_. A read (read_more(), or read_within: prepare_read, the read, commit_read) first
// moves the live bytes to the front, grows the buffer (doubling) when it is full or, up to 64 KiB,
// when the last read filled all the room it had (more is likely waiting: a bulk body), then reads
// into the free tail. It starts at 2 KiB. Body spans the parser returns point into the buffer and
// stay valid until the next read.
//
// Thread safety: one task at a time (the request holding it, or the pool while it is idle). The
// socket lives on the loop of the worker that connected it; operations hop there (net::stream).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <coreio/net/stream.hpp>
#include <coreio/task.hpp>

#include "http/deadline.hpp"
#include "http/parser.hpp"
#include "http/tls.hpp"
#include "net/sockets.hpp"

namespace coreio::http::detail {

class connection {
 public:
  connection(std::string key, net::stream s, parse_limits limits);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Wraps the stream in TLS and runs the client handshake (SNI and verification for host).
  task<void> start_tls(std::shared_ptr<tls_context> ctx, std::string host);

  /// Reads at least one byte into the buffer; returns the count, 0 at end of stream.
  task<std::size_t> read_more();
  /// read_more() in two steps, for a caller that reads the plain stream itself (no task frame, a
  /// socket read deadline): prepare_read() makes room and returns it; commit_read(n) after the
  /// read of n bytes into it. Plain connections only.
  std::span<std::byte> prepare_read();
  void commit_read(std::size_t n, std::size_t room) noexcept {
    end_ += n;
    filled_room_ = n == room;
  }
  /// No TLS: the socket is read and written directly (plain_stream()).
  bool plain() const noexcept { return tls_ == nullptr; }
  net::stream& plain_stream() noexcept { return plain_; }
  /// Writes all of data.
  task<void> write_all(std::span<const std::byte> data);

  /// Bytes read and not consumed.
  std::span<const char> pending() const noexcept { return {buf_.get() + begin_, end_ - begin_}; }
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  /// Closes the socket; pending operations end with an error. Any thread; idempotent.
  void close() noexcept;
  bool is_open() const noexcept;
  /// For an idle connection: open, nothing buffered, not past its idle deadline, and the peer has
  /// neither closed nor sent anything (a non-blocking MSG_PEEK; over TLS, only a close counts,
  /// since a TLS 1.3 server may send session tickets at any time). retryable (the request may be
  /// retried once on a new connection if this one fails before any response byte): a socket
  /// whose read readiness is clear (nothing arrived since its last recv drained it, as far as its
  /// event loop has seen) passes without the MSG_PEEK syscall, on any worker; a close that the
  /// loop has not seen yet then costs the retry. Pool only.
  bool reusable_now(std::chrono::steady_clock::time_point now, bool retryable) const noexcept;

  /// The pool key: the origin ("http://host:80").
  const std::string key;
  /// The response parser of this connection (reset before each response).
  parser response_parser;
  /// The end of the idle period set when the connection is put back.
  std::chrono::steady_clock::time_point idle_deadline{};
  /// Responses received on this connection.
  std::uint64_t uses = 0;
  /// While a response's body reader waits on this connection: its links in the pool's list of
  /// held connections (pool::hold), and that list's shard. Guarded by the shard's lock.
  connection* held_prev = nullptr;
  connection* held_next = nullptr;
  std::size_t held_shard = 0;
  /// The request head being written (send_request); kept so that its capacity is reused.
  std::string out;

 private:
  net::stream& raw() noexcept;
  const net::stream& raw() const noexcept;

  net::stream plain_;
  std::unique_ptr<tls_stream> tls_;
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0, begin_ = 0, end_ = 0;
  // The last read filled all the room it was given.
  bool filled_room_ = false;
};

/// co_await read_within(conn, l, during): conn.read_more() under the limit l, the count read (0 at
/// end of stream); phase_timeout_error naming l's phase and `during` if l runs out first. Over
/// plain TCP it is the socket read itself, awaited in the caller's frame, with l as the socket's
/// read deadline (stream.cpp, "Read deadlines": one timer entry per socket, re-armed only when it
/// fires early) instead of a task and a timer per read; over TLS, timed(read_more()). `during`
/// must outlive the await.
class read_within {
 public:
  read_within(connection& c, limit l, std::string_view during) : c_(c), l_(l), during_(during) {
    if (c.plain()) {
      room_ = c.prepare_read();
      plain_.emplace(c.plain_stream().read_some(room_));
      if (l.when != time_point::max())
        coreio::detail::stream_access::set_read_deadline(*plain_, l.when);
    } else {
      tls_.emplace(timed(c.read_more(), l, during).release());
    }
  }
  bool await_ready() { return plain_ ? plain_->await_ready() : tls_->await_ready(); }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    if (tls_) return tls_->await_suspend(h);
    if (plain_->await_suspend(h)) return std::noop_coroutine();
    return h;
  }
  std::size_t await_resume() {
    if (tls_) return tls_->await_resume();
    std::size_t n = 0;
    try {
      n = plain_->await_resume();
    } catch (const coreio::timeout_error&) {  // the read deadline: l ran out
      throw phase_timeout_error(l_.which, l_.budget, during_);
    }
    c_.commit_read(n, room_.size());
    return n;
  }

 private:
  connection& c_;
  limit l_;
  std::string_view during_;
  std::span<std::byte> room_;
  std::optional<net::stream::read_awaiter> plain_;
  std::optional<coreio::detail::task_awaiter<std::size_t>> tls_;
};

}  // namespace coreio::http::detail
