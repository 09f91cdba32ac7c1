// src/http/server_connection.hpp — what server.cpp and server_connection.cpp share: the server's
// state, a request's state (its body and its stream response), and the entry points into a
// connection (run, body pieces, stream writes). The protocol of a connection and of stop() is in
// server_connection.cpp's file comment.
//
// Thread safety: server_state's fields say who guards them; a request's state belongs to its
// connection's task (and the handler's, which the connection awaits).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <coreio/http/server.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/net/serve.hpp>
#include <coreio/net/tcp_listener.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/sync/semaphore.hpp>

#include "content_encoder.hpp"
#include "parser.hpp"
#include "scratch_pool.hpp"
#include "stats.hpp"
#include "tls.hpp"

namespace coreio::http {

namespace detail {

using steady = std::chrono::steady_clock;

class server_connection;

struct route_entry {
  std::string method;
  std::vector<std::string> segments;  // "{name}" marks a capture
  // A pattern without captures: its path ("/" and the segments joined by '/'), which a request
  // path without percent-escapes matches when equal to it; else empty.
  std::string literal;
  handler h;
  route_options opts;
};

// Connection phases (the file comment).
inline constexpr int phase_busy = 0;
inline constexpr int phase_idle = 1;
inline constexpr int phase_closing = 2;

// What stop() and the send sweeper read of a connection (held by track_connection, in one cache
// line that the connection touches each request anyway).
struct conn_flags {
  // Writers: the connection (busy <-> idle) and stop() (idle -> closing). Readers: both.
  std::atomic<int> phase{phase_busy};
  // The send deadline (server_options::send_timeout; the file comment of server_connection.cpp,
  // "Send deadline"): 0, no write of response bytes waiting; 1, one began; else the time (ns,
  // monotonic) the sweeper first saw it. Relaxed: only this value is published, and the sweeper
  // claims an expired stamp by compare-exchange, so a write that ended meanwhile is not cut.
  std::atomic<std::int64_t> write_since{0};
  // The socket's descriptor, set before the connection is registered (server_state::mu).
  int fd = -1;
  // The sweeper's last reading of the bytes the peer acknowledged (tcp_bytes_acked), under
  // server_state::mu: a change stamps a waiting write again.
  std::uint64_t acked_seen = 0;
};

struct conn_entry {
  join_handle<void>* task;
  conn_flags* flags;
};

struct server_state {
  server_options opts;
  std::vector<route_entry> routes;
  // One listener, or one per worker with reuse_port; moved into the accept loops by serve().
  std::vector<net::tcp_listener> listeners;
  // Set by bind() when TLS is configured; shared by every connection (immutable).
  std::shared_ptr<tls_context> tls;
  // Caps connections in the reuse_port accept loops (net::serve does it otherwise).
  std::unique_ptr<coreio::semaphore> conn_limit;
  std::mutex mu;
  std::optional<net::server> net_srv;           // guarded by mu
  std::vector<join_handle<void>> accept_loops;  // guarded by mu (reuse_port)
  std::map<std::uint64_t, conn_entry> conns;    // guarded by mu
  std::uint64_t next_id = 0;                    // guarded by mu
  std::size_t live = 0;                         // guarded by mu: reuse_port connections
  coreio::event all_closed;                     // set while live == 0 (reuse_port)
  // Connections whose descriptor is not closed yet: counted from run_connection's start to the
  // close on the socket's loop that follows its end. serve() returns once none is left.
  std::size_t open_sockets = 0;  // guarded by mu
  coreio::event sockets_closed;  // set while open_sockets == 0
  void socket_opened() {
    std::lock_guard lk(mu);
    if (open_sockets++ == 0) sockets_closed.clear();
  }
  void socket_closed() {
    std::lock_guard lk(mu);
    if (--open_sockets == 0) sockets_closed.set();
  }
  // Writer: stop(). Readers: connections (phase protocol), accept loops, serve().
  std::atomic<bool> stopping{false};
  coreio::event stopped;
  // Set by serve() before it accepts; route() and bind() refuse to run after it (usage_error).
  // Relaxed: only a misuse check; the routes and listeners themselves reach the connections and
  // accept loops through the spawns that start them.
  std::atomic<bool> served{false};
  // The connections' request scratch (scratch_pool.hpp), made by serve() before any connection.
  std::unique_ptr<scratch_pool> scratch;
  // server::stats(); registered for http::metrics_text() while this state lives (stats.hpp).
  mutable server_counters stats;  // relaxed atomics: counted through const references too
  stats_registration registration{
      std::function<server_stats()>([this] { return stats.snapshot(); })};
};

// The limits of a request's head and body (the 414, 431 and 413 of the framing rules).
inline parse_limits request_limits(const server_options& o) {
  return parse_limits{.max_start_line = 8 * 1024,
                      .max_field = 8 * 1024,
                      .max_head = 32 * 1024,
                      .max_headers = 100,
                      .max_body = o.max_body};
}

struct server_request_state {
  // The parser's head (valid until the parser's reset(), which comes after the request is done):
  // request::headers() is its field list, not a copy.
  const message_head* head = nullptr;
  // The path, percent-decoded: a view of the head's target when it has no escapes (no copy), else
  // of decoded_path.
  std::string_view path;
  std::string decoded_path;
  std::string query;
  std::string body;
  const std::string* remote = nullptr;  // the connection's peer address
  std::vector<std::pair<std::string, std::string>> captures;
  server_connection* conn = nullptr;
  // ---- the body ----
  bool stream_body = false;       // a stream_body route: the handler reads the body
  bool body_done = false;         // the body's end was reached (or an error ended it)
  bool fed = false;               // an empty feed ends a message without (more) body
  bool continue_pending = false;  // 100 Continue owed at the first body read
  bool chunk_given = false;       // default routes: read_chunk() gave the body
  int body_error = 0;             // status owed for a body error; -1: close silently
  // server_options::request_timeout from the head's first byte (time_point::max(): none).
  std::chrono::steady_clock::time_point request_deadline =
      std::chrono::steady_clock::time_point::max();
  std::string chunk;  // the last piece read_chunk() returned
  // ---- a stream_response ----
  bool prepared = false;
  bool eof = false;
  bool broken = false;       // the stream cannot be finished well: close after the handler
  bool send_failed = false;  // a write of the streamed response failed on the socket
  bool head_only = false;    // HEAD or a status without a body: writes are discarded
  bool chunked = false;
  std::optional<std::uint64_t> length;  // Content-Length the handler set
  std::uint64_t written = 0;
  bool close_after = false;
  std::unique_ptr<gzip_encoder> gzip;
  static void attach(request& r, server_request_state* p) noexcept { r.s_ = p; }
};

}  // namespace detail

namespace detail {

/// Runs one connection to its end (phase: its entry in server_state::conns).
task<void> run_connection(std::shared_ptr<server_state> st, net::tcp_stream s, conn_flags* flags);
/// The next piece of a stream_body request's body; empty at its end (request::read_chunk).
task<std::span<const std::byte>> read_body_piece(server_request_state& rs);
/// stream_response's operations.
task<void> stream_prepare(server_request_state& rs, int status, const fields& fs);
task<void> stream_write(server_request_state& rs, std::span<const std::byte> data);
task<void> stream_eof(server_request_state& rs);
/// %XX decoding ('+' as space for query strings).
std::string percent_decode(std::string_view s, bool plus_space);
/// "/a/b" -> {"a", "b"}.
std::vector<std::string> split_path(std::string_view p);

}  // namespace detail
}  // namespace coreio::http
