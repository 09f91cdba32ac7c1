// coreio/http/server.hpp — the HTTP/1.1 server (aiohttp.web): server_options, route_options,
// request, stream_response, server.
//
// Framing is strict (the shared parser, request mode): a malformed request gets 400 and the
// connection closes without reading further pipelined bytes; 414 for a request line over 8 KiB, 431
// for a header line over 8 KiB, a head over 32 KiB or more than 100 fields, 413 for a body over
// max_body (a Content-Length or a chunk size over it: at once, before its bytes), 501 for a
// transfer coding other than chunked before the final chunked (a final coding other than chunked
// leaves the body's length unknown: 400, RFC 9112 section 6.3) and for CONNECT (no tunnels: its
// bytes are never parsed as requests) and for a method that is a token llhttp does not know (RFC
// 9110 section 9.1; llhttp knows the registered ones, WebDAV's and PURGE among them), 505 for an
// HTTP major version other than 1 (a higher 1.x is read as 1.1, RFC 9110 section 2.5), 400 for a
// target that is neither a path nor an absolute URL, and for `*` but with OPTIONS (OPTIONS * is
// answered 200 with Allow listing every routed method), 400 for a Host that is not host[:port] (RFC
// 9112 section 3.2), 417 for an HTTP/1.1 Expect other than 100-continue, 408 when the head deadline
// or the body's idle deadline runs out. Keep-alive and pipelining: responses go out in request
// order, and the responses to a batch of pipelined requests already buffered are written with one
// write. Every response carries Date (cached per second) and Server, the handler's own if it gave
// them (as aiohttp's setdefault); HEAD gets no body; Connection:
// close is honoured, and an HTTP/1.0 request's `Connection: keep-alive` is answered with it;
// Expect: 100-continue (HTTP/1.1) is answered with 100 before the body is read (on a streaming
// route: at the first read_chunk(), or before the head of a stream_response prepared first),
// unless the answer is a 404 or 405, which goes at once and closes the connection with the body
// unread (when body bytes came with the head, the client did not wait: the body is read and the
// connection kept, as without the expectation). A route whose handler throws answers 500 and the
// connection stays usable; no route: 404; a route for the path but not the method: 405 with Allow.
//
// Bodies. By default the server reads the whole request body before the handler runs (body()).
// A route added with route_options{.stream_body = true} gets the head only: the handler pulls the
// body with read_chunk() / read() as it arrives, under the same max_body (413), body_timeout and
// request_timeout (408) limits. A response is either a whole `response` returned by the handler (Content-Length)
// or a stream_response the handler prepares and writes piece by piece (aiohttp's StreamResponse:
// Transfer-Encoding: chunked, or Content-Length when the handler set it).
//
// Options. compress: gzip for clients that accept it (Accept-Encoding), bodies of at least
// compress_min_size bytes and every stream, with Vary: Accept-Encoding. tls_cert_file and
// tls_key_file: HTTPS (TLS 1.2+). handler_cancellation: a handler is cancelled (coreio
// cancellation: its next suspension point throws cancelled_error) when its client disconnects.
// reuse_port: one SO_REUSEPORT listener per worker, each accepting onto its own worker (the
// kernel spreads connections), instead of one listener whose connections stay on its worker's
// event loop while the other workers take their tasks (net::serve's default placement).
//
// Stopping. stop() closes the listener at once (new connections are refused), closes idle
// keep-alive connections at once, lets requests in flight finish for up to drain_timeout (their
// responses carry Connection: close) and then cancels them; serve() returns when that is done.
//
//   http::server_options sopts{.max_body = 1 << 20, .header_timeout = 10s, .keepalive_timeout = 75s};
//   http::server srv{sopts};
//   srv.route("GET", "/hello", [](http::request&) -> coreio::task<http::response> {
//     co_return http::response{200, "Hello, World!"};
//   });
//   srv.route("GET", "/feed", [](http::request& req) -> coreio::task<http::response> {
//     http::stream_response out{200};
//     co_await out.prepare(req);                            // the head goes out
//     co_await out.write("first\n");
//     co_await out.write("second\n");
//     co_await out.write_eof();
//     co_return http::response{};                           // not sent: the stream answered
//   });
//   std::uint16_t port = srv.bind("127.0.0.1", 0);
//   co_await srv.serve();                                   // until stop()
//
// Thread safety: the server is made, routed, bound and served from a task on the runtime; stop()
// from any task or thread. A request and its stream_response belong to the handler's task.
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
#include <coreio/http/stats.hpp>
#include <coreio/task.hpp>

namespace coreio::http {

/// Configuration of a server (issue 12). Designated initializers follow this order.
struct server_options {
  /// Largest request body accepted (413 beyond).
  std::size_t max_body = 1 << 20;
  /// Deadline for a whole request head, from its first byte (408 beyond). With TLS it also bounds
  /// the handshake.
  std::chrono::milliseconds header_timeout = std::chrono::milliseconds(10'000);
  /// How long an idle keep-alive connection stays open.
  std::chrono::milliseconds keepalive_timeout = std::chrono::milliseconds(75'000);
  /// Idle deadline while reading a body: the longest wait for the next body bytes (408 beyond).
  std::chrono::milliseconds body_timeout = std::chrono::milliseconds(60'000);
  /// Deadline for a whole request, head and body, from its first byte (408 beyond): a client
  /// that sends a byte per body_timeout cannot hold a connection and its handler for ever (as
  /// Node's requestTimeout, whose default this is). A stream_body route's reads count too.
  /// 0: none.
  std::chrono::milliseconds request_timeout = std::chrono::milliseconds(300'000);
  /// Connections handled at once; accept waits for one to end. 0: no limit. With reuse_port, each
  /// worker's listener may hold one accepted connection until a slot frees (the kernel chose its
  /// listener), served in the order accepted.
  std::size_t max_connections = 0;
  /// Requests served on one connection before it closes (nginx's keepalive_requests).
  std::size_t keepalive_requests = 1000;
  /// After stop(): how long in-flight requests may run before they are cancelled.
  std::chrono::milliseconds drain_timeout = std::chrono::milliseconds(30'000);
  /// One listener per worker with SO_REUSEPORT, each accepting onto its own worker; false: one
  /// listener whose connections stay on its worker's event loop, their tasks taken by the other
  /// workers when that worker has a backlog (net::serve_options::spread, false).
  bool reuse_port = false;
  /// The Server header's value (a handler's own Server field is sent instead).
  std::string server_name = "coreio";
  /// gzip response bodies when the request's Accept-Encoding allows it (and the response has no
  /// Content-Encoding of its own); adds Vary: Accept-Encoding.
  bool compress = false;
  /// Whole responses shorter than this are sent as they are (streams are always compressed).
  std::size_t compress_min_size = 1024;
  /// PEM certificate chain and private key: serve HTTPS. Both or neither; bind() throws
  /// http::error naming the file when one cannot be loaded.
  std::string tls_cert_file;
  std::string tls_key_file;
  /// Cancel a handler when its client disconnects (aiohttp's handler_cancellation). Watched once
  /// the request body has been read (a streaming route sees a disconnect as an error from
  /// read_chunk() while it reads the body). The end of the client's stream counts as a disconnect,
  /// as it does under aiohttp (asyncio closes a transport at EOF): a client that half-closes
  /// (shutdown(SHUT_WR)) after its requests gets no response to those still being handled.
  bool handler_cancellation = false;
  /// The longest a write of response bytes may wait while its client takes none of them (nginx's
  /// send_timeout): the connection is then closed, and a handler writing a stream gets
  /// cancelled_error. A client that reads, however slowly, is not cut (the bytes its kernel
  /// acknowledges count, not the write's end). Checked every quarter of it, so a write is cut
  /// between send_timeout and 1.25 times it after the client's last byte. 0: none.
  std::chrono::milliseconds send_timeout = std::chrono::milliseconds(60'000);
};

/// Per-route options.
struct route_options {
  /// The body is not read before the handler: read_chunk() / read() stream it; body() throws.
  bool stream_body = false;
};

namespace detail {
struct server_request_state;
struct server_state;
}  // namespace detail

class stream_response;

/// A request as a handler sees it. Valid until the handler's task ends.
///
/// Thread safety: distinct objects: safe. Shared objects: unsafe (the handler's task only).
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
  /// The whole body (up to server_options::max_body), read before the handler ran. On a
  /// stream_body route: throws coreio::usage_error (use read_chunk() or read()).
  std::string_view body() const;
  /// The next piece of the body as it arrives (de-chunked); an empty span at its end. The bytes
  /// stay valid until the next call. On a default route: the whole body in one piece, then empty.
  /// Errors (stream_body routes): http::limit_error past max_body (the server then answers 413),
  /// coreio::timeout_error after body_timeout without bytes (408), http::error for bad framing or
  /// a body cut short (400). After an error the body is at its end. Worker only.
  task<std::span<const std::byte>> read_chunk();
  /// The rest of the body, whole (errors as read_chunk()). Worker only.
  task<std::string> read();
  /// The peer's address and port.
  const std::string& remote() const noexcept;
  /// The value of a `{name}` segment of the matched route.
  std::string_view match(std::string_view name) const noexcept;

 private:
  friend struct detail::server_request_state;
  friend class stream_response;
  detail::server_request_state* s_ = nullptr;
};

/// A response sent piece by piece (aiohttp's StreamResponse): set status and headers, prepare()
/// sends the head, write() sends body bytes as they are produced, write_eof() ends the body. The
/// body goes out with Transfer-Encoding: chunked, or as a Content-Length body if the handler set
/// Content-Length (then exactly that many bytes must be written), or, to an HTTP/1.0 client,
/// until the connection closes. With server_options::compress and a client accepting gzip (and no
/// Content-Length or Content-Encoding set), the stream is gzip-compressed, each write flushed.
/// For HEAD the head goes out and writes are discarded.
///
/// Once prepare() has run, the value the handler returns is not sent (return `http::response{}`);
/// if the handler returns without write_eof(), the server ends the body. If it throws after
/// prepare(), the connection closes with the body unterminated (the client sees a truncated body,
/// never a well-formed wrong one).
///
/// Errors: prepare() twice, write() before prepare() or after write_eof(), writing more than the
/// Content-Length set, or write_eof() short of it: coreio::usage_error (after prepare(), the
/// connection closes after the handler). A socket error: std::system_error. Worker only.
///
/// Thread safety: distinct objects: safe. Shared objects: unsafe (the handler's task only).
///
/// Example:
///   http::stream_response out{200};
///   out.set_header("Content-Type", "text/event-stream");
///   co_await out.prepare(req);
///   for (auto& event : events) co_await out.write(event);
///   co_await out.write_eof();
///   co_return http::response{};
class stream_response {
 public:
  explicit stream_response(int status = 200);
  int status() const noexcept { return status_; }
  void set_status(int status) noexcept { status_ = status; }
  /// Replaces every field named `name` (case-insensitive). Before prepare() only. Throws
  /// http::error for a name that is not a token or a value with CR, LF or NUL (as response's).
  void set_header(std::string_view name, std::string_view value);
  /// Appends a field. Before prepare() only. Throws as set_header does.
  void add_header(std::string_view name, std::string_view value);
  const fields& headers() const noexcept { return headers_; }
  /// Sends the status line and headers for `req`.
  task<void> prepare(request& req);
  /// Sends body bytes (one chunk). The bytes must stay valid until the co_await returns.
  task<void> write(std::string_view data);
  task<void> write(std::span<const std::byte> data);
  /// Ends the body (the last chunk; the gzip trailer).
  task<void> write_eof();
  /// True once prepare() has sent the head.
  bool prepared() const noexcept { return req_ != nullptr; }

 private:
  int status_;
  fields headers_;
  detail::server_request_state* req_ = nullptr;
};

/// A route's handler.
using handler = std::function<task<response>(request&)>;

/// An HTTP/1.1 server (issue 12).
///
/// Thread safety: see the file comment; stop() from any thread.
class server {
 public:
  explicit server(const server_options& options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Adds a route: method and path pattern ("/users/{id}": each segment a literal or a whole
  /// `{name}` capture). Routes are tried in the order they were added. Throws coreio::usage_error
  /// after serve(), for an empty method or handler, for a malformed pattern (not starting with
  /// '/', a brace that is not a whole `{name}` segment, an empty or repeated capture name), and
  /// for a route that an earlier one always matches first (the same method, or HEAD after GET,
  /// and each segment the same or taken by an earlier capture), which could never run (aiohttp
  /// raises for the same pattern twice).
  void route(std::string_view method, std::string_view pattern, handler h,
             route_options options = {});
  /// Binds and listens (one listener per worker with reuse_port); returns the port (0: the kernel
  /// chooses). Loads the TLS certificate and key if set. Once, before serve(). Worker only;
  /// throws std::system_error for the socket, http::error for the TLS files, coreio::usage_error
  /// when already bound or serving.
  std::uint16_t bind(std::string_view host, std::uint16_t port);
  /// Serves until stop() and the drain have finished (see the file comment). Once per server;
  /// coreio::usage_error before bind() or a second time.
  task<void> serve();
  /// Stops accepting at once (the listener closes: new connections are refused), closes idle
  /// connections and starts the graceful drain. Any thread; idempotent.
  void stop();
  /// Counters since construction (coreio/http/stats.hpp). Any thread.
  server_stats stats() const noexcept;

 private:
  std::shared_ptr<detail::server_state> s_;
};

}  // namespace coreio::http
