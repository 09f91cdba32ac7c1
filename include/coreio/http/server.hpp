// coreio/http/server.hpp — the HTTP/1.1 server (aiohttp.web): server_options, request, server.
//
// Framing is strict (the shared parser, request mode): a malformed request gets 400 and the
// connection closes without reading further pipelined bytes; 414 for a request line over 8 KiB,
// 431 for a header line over 8 KiB, a head over 32 KiB or more than 100 fields, 413 for a body
// over max_body, 501 for a transfer coding other than chunked, 408 when the head deadline runs
// out. Keep-alive and pipelining: responses go out in request order, and the responses to a batch
// of pipelined requests already buffered are written with one write. Every response carries Date
// (cached per second), Server and Content-Length; HEAD gets no body; Connection: close is
// honoured; Expect: 100-continue is answered with 100 before the body is read. A route whose
// handler throws answers 500 and the connection stays usable; no route: 404; a route for the path
// but not the method: 405 with Allow.
//
// Connections are spread over the workers (net::serve): each worker's loop owns its connections.
// To scale beyond one process, run several processes with reuse_port = true on the same port (the
// kernel spreads connections) or behind a load balancer; the server keeps no shared state.
//
//   http::server_options sopts{.max_body = 1 << 20, .header_timeout = 10s, .keepalive_timeout = 75s};
//   http::server srv{sopts};
//   srv.route("GET", "/hello", [](http::request&) -> coreio::task<http::response> {
//     co_return http::response{200, "Hello, World!"};
//   });
//   std::uint16_t port = srv.bind("127.0.0.1", 0);
//   co_await srv.serve();                                   // until stop()
//
// Thread safety: the server is made, bound and served from a task on the runtime; stop() from any
// task or thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <coreio/http/options.hpp>
#include <coreio/http/response.hpp>
#include <coreio/task.hpp>

namespace coreio::http {

/// Configuration of a server (issue 12).
struct server_options {
  /// Largest request body accepted (413 beyond).
  std::size_t max_body = 1 << 20;
  /// Deadline for a whole request head, from its first byte (408 beyond).
  std::chrono::milliseconds header_timeout = std::chrono::milliseconds(10'000);
  /// How long an idle keep-alive connection stays open.
  std::chrono::milliseconds keepalive_timeout = std::chrono::milliseconds(75'000);
  /// Idle deadline while reading a body: the longest wait for the next body bytes (408 beyond).
  std::chrono::milliseconds body_timeout = std::chrono::milliseconds(60'000);
  /// Connections handled at once; accept waits for one to end. 0: no limit.
  std::size_t max_connections = 0;
  /// Requests served on one connection before it closes (nginx's keepalive_requests).
  std::size_t keepalive_requests = 1000;
  /// After stop(): how long in-flight requests may run before they are cancelled.
  std::chrono::milliseconds drain_timeout = std::chrono::milliseconds(30'000);
  /// SO_REUSEPORT on the listener (several processes or listeners on one port).
  bool reuse_port = false;
  /// The Server header's value.
  std::string server_name = "coreio";
};

namespace detail {
struct server_request_state;
struct server_state;
}  // namespace detail

/// A request as a handler sees it.
class request {
 public:
  std::string_view method() const noexcept;
  /// The request target as received ("/users/7?x=1").
  std::string_view target() const noexcept;
  /// The target's path, percent-decoded ("/users/7").
  std::string_view path() const noexcept;
  /// A header's first value (case-insensitive name).
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  /// Every header field in the order received, duplicates kept.
  const fields& headers() const noexcept;
  /// The first value of query parameter `name` (percent-decoded, '+' as space), or std::nullopt.
  std::optional<std::string> query(std::string_view name) const;
  /// The whole body (up to server_options::max_body). The server reads the body before the
  /// handler runs.
  std::string_view body() const noexcept;
  /// The body in pieces: today the whole body (already read) in one piece, then an empty span.
  task<std::span<const std::byte>> read_chunk();
  /// The peer's address and port.
  const std::string& remote() const noexcept;
  /// The value of a `{name}` segment of the matched route.
  std::string_view match(std::string_view name) const noexcept;

 private:
  friend struct detail::server_request_state;
  detail::server_request_state* s_ = nullptr;
};

/// A route's handler.
using handler = std::function<task<response>(request&)>;

/// An HTTP/1.1 server (issue 12).
class server {
 public:
  explicit server(const server_options& options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Adds a route: method and path pattern ("/users/{id}").
  void route(std::string_view method, std::string_view pattern, handler h);
  /// Binds and listens; returns the port (0: the kernel chooses). Worker only; throws
  /// std::system_error.
  std::uint16_t bind(std::string_view host, std::uint16_t port);
  /// Serves until stop() and the drain have finished: after stop() idle keep-alive connections
  /// close (within 100 ms), in-flight requests run up to drain_timeout and are then cancelled.
  task<void> serve();
  /// Stops accepting at once (the listener closes: new connections are refused) and starts the
  /// graceful drain. Any thread; idempotent.
  void stop();

 private:
  std::shared_ptr<detail::server_state> s_;
};

}  // namespace coreio::http
