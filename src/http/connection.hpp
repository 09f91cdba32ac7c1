// src/http/connection.hpp — one client connection: the transport (a plain net::stream or a
// tls_stream over one), its read buffer and its response parser, plus what the pool knows of it
// (origin key, idle deadline).
//
// The read buffer holds bytes read from the socket and not yet consumed by the parser: [begin_,
// end_) of buf_. read_more() first moves the live bytes to the front, grows the buffer (doubling)
// when it is full or, up to 64 KiB, when the last read filled all the room it had (more is likely
// waiting: a bulk body), then reads into the free tail. It starts at 4 KiB. Body spans the parser returns point into the buffer and
// stay valid until the next read_more().
//
// Thread safety: one task at a time (the request holding it, or the pool while it is idle). The
// socket lives on the loop of the worker that connected it; operations hop there (net::stream).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include <coreio/net/stream.hpp>
#include <coreio/task.hpp>

#include "http/deadline.hpp"
#include "http/parser.hpp"
#include "http/tls.hpp"

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
  /// retried once on a new connection if this one fails before any response byte): on the
  /// socket's own worker, a socket whose read readiness is clear (nothing arrived since its last
  /// recv drained it, as far as the event loop has seen) passes without the MSG_PEEK syscall; a
  /// close that the loop has not seen yet then costs the retry. Pool only.
  bool reusable_now(std::chrono::steady_clock::time_point now, bool retryable) const noexcept;

  /// The pool key: the origin ("http://host:80").
  const std::string key;
  /// The response parser of this connection (reset before each response).
  parser response_parser;
  /// The end of the idle period set when the connection is put back.
  std::chrono::steady_clock::time_point idle_deadline{};
  /// Responses received on this connection.
  std::uint64_t uses = 0;
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

}  // namespace coreio::http::detail
