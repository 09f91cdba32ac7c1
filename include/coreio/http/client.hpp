// coreio/http/client.hpp — the HTTP/1.1 client (aiohttp's ClientSession): a keep-alive connection
// pool, a deadline for every phase, redirects, cookies, basic auth, decoding and TLS.
//
//   http::client_options opts{.limit = 100, .timeout = {.total = 5s, .connect = 1s}};
//   http::client session{opts};
//   http::response r = co_await session.get("http://127.0.0.1:8080/todos/1");
//   std::string body = co_await r.text();
//   co_await session.close();
//
// Pool (limit, limit_per_host): a connection counts against the limits from the moment it is being
// made until it is closed, idle ones included; a request that finds the limits full waits, first
// come first served (a waiter whose origin is at its per-host limit does not block waiters for
// other origins). When the total limit is full but an idle connection to another origin exists,
// that idle connection is closed to make room. Idle connections expire after keepalive_timeout (or
// the server's `Keep-Alive: timeout` minus 1 s); an expired one is closed when a request next looks
// at its origin's idle connections, or when the client closes (no timer runs for it: a server's
// own idle timeout usually closes it first). They are checked for a close by the peer before
// reuse (for a request that may be retried, as the event loop last saw the socket, without a
// syscall; else with a non-blocking peek). A reused connection that fails before any byte of the
// response arrives is retried once on a new connection, for idempotent methods only
// (client_options::retry_reused_idempotent).
// Idle connections are kept per worker (the worker that released them), so two workers reusing
// connections do not contend on one lock; only waiting for a slot and opening or closing a
// connection take the client-wide lock.
//
// Where connections live: on the event loop of the worker that made the client (a client made off
// the runtime: each on the loop of the worker that opens it; net::connect_options::on_worker), as
// net::serve keeps a listener's connections on its loop. That loop waits for their readiness;
// requests from tasks on any worker use them, and the other workers take request tasks from that
// worker when it has a backlog (runtime_options::wake_backlog). Measured against sockets spread
// over the loops (each on the loop of the worker that happened to open it), bench/peers'
// http-client, 100,000 GETs of a 1 KiB page from a local nginx, 100 in flight, 2 workers,
// interleaved rounds: nginx with its default settings, 45.0-47.1k requests/s against 36.7-40.0k
// (5 rounds), p99 5.6-7.4 ms against 8.1-12.7 ms; the peers harness's nginx (sendfile,
// tcp_nopush), median 49.1k [46.6-53.9k] against 47.6k [39.4-58.0k] (9 rounds).
//
// Lifetime: close() ends every request in flight (they throw http::error "the client was closed")
// and waits until they have left the client, and closes the idle connections (each descriptor is
// released by its connection's event loop, on that loop's next turn, as asyncio's transports
// close on the loop's next iteration: close() may return just before); the destructor does
// the same without waiting (the requests unwind on their own; nothing they use is freed under
// them). A response the caller still holds keeps its connection until its body is read or the
// response is dropped (then the connection is closed, not pooled); close() (and the destructor)
// closes it too, as aiohttp's does: a body read waiting on the socket then, or started after,
// throws http::error "the client was closed" (a body that arrived whole stays readable). A client
// with open connections, and its responses, must not outlive their runtime.
//
// Errors of request() and its shortcuts: http::error (invalid URL, malformed response, too many
// redirects, the client closed), http::limit_error (a limit of issue 11: status line and header
// lines 8 KiB, head 64 KiB, 128 headers, body and decoded size), http::status_error when
// raise_for_status is on, coreio::timeout_error naming the phase, std::system_error for connection
// failures (refused, reset, host not found), coreio::cancelled_error when the caller is cancelled.
//
// g++ 12: URLs are std::string_view and options a const reference, both copied before the first
// suspension; build option structs in their own statement (options.hpp).
//
// Thread safety: distinct objects: safe. Shared objects: safe; any number of tasks on any workers
// may make requests on one client at once; close() from one task. Requests and close() are worker
// only. Construction and destruction from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <coreio/http/errors.hpp>
#include <coreio/http/options.hpp>
#include <coreio/http/response.hpp>
#include <coreio/task.hpp>

namespace coreio::http {

namespace detail {
struct client_core;
}

/// Counters of one client since it was made (a snapshot; see client::stats()).
struct client_stats {
  std::uint64_t requests = 0;            ///< request() calls (redirects and retries not counted)
  std::uint64_t responses = 0;           ///< responses returned to the caller
  std::uint64_t failures = 0;            ///< request() calls that threw
  std::uint64_t connections_opened = 0;  ///< new connections made (TLS included)
  std::uint64_t connections_reused = 0;  ///< requests sent on an idle keep-alive connection
  std::uint64_t connections_closed = 0;  ///< connections closed (any reason)
  std::uint64_t retries = 0;             ///< retries after a reused connection failed
  std::uint64_t redirects = 0;           ///< redirects followed
  /// requests that queued for a slot, however the wait ended (a slot, a timeout, a cancel)
  std::uint64_t pool_waits = 0;
  /// Timeouts by phase: total, pool_wait, connect, sock_connect, headers, sock_read.
  std::array<std::uint64_t, 6> timeouts{};
  std::size_t open_connections = 0;  ///< open now (in use, connecting and idle)
  std::size_t idle_connections = 0;  ///< idle in the pool now
  std::size_t waiting = 0;           ///< requests queued for a slot now
};

/// An HTTP/1.1 client session (see the file comment).
class client {
 public:
  /// Default options.
  client();
  /// Throws http::error if options.user_agent holds CR, LF or NUL.
  explicit client(const client_options& options);
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  /// Cancels the requests in flight and closes the idle connections; does not wait.
  ~client();

  /// A request of any method ("GET", "HEAD", "PATCH", ...). The url is "http://" or "https://".
  /// Returns once the response head has arrived (redirects followed); read the body from the
  /// response. Worker only.
  task<response> request(std::string_view method, std::string_view url);
  task<response> request(std::string_view method, std::string_view url,
                         const request_options& options);

  task<response> get(std::string_view url);
  task<response> get(std::string_view url, const request_options& options);
  task<response> post(std::string_view url);
  task<response> post(std::string_view url, const request_options& options);
  task<response> put(std::string_view url);
  task<response> put(std::string_view url, const request_options& options);
  task<response> patch(std::string_view url);
  task<response> patch(std::string_view url, const request_options& options);
  /// DELETE (`delete` is a C++ keyword).
  task<response> delete_(std::string_view url);
  task<response> delete_(std::string_view url, const request_options& options);
  task<response> head(std::string_view url);
  task<response> head(std::string_view url, const request_options& options);
  task<response> options(std::string_view url);
  task<response> options(std::string_view url, const request_options& options);

  /// Ends the requests in flight (http::error "the client was closed"), waits for them, closes
  /// the idle connections. Later requests throw http::error. Idempotent. Worker only.
  task<void> close();
  /// True once close() was called (or the destructor ran).
  bool closed() const noexcept;

  /// Counters since construction. Any thread.
  client_stats stats() const noexcept;

 private:
  std::shared_ptr<detail::client_core> core_;
};

}  // namespace coreio::http
