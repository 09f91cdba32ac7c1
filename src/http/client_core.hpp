// src/http/client_core.hpp — the shared state behind http::client and its responses: options,
// pool, cookie jar, TLS context, counters, the requests in flight (for close()), and the body
// reader a received response keeps its connection in.
//
// Ownership: client holds a shared_ptr<client_core>; every request task holds one too, and every
// received response holds the pool and the counters (shared_ptr), so a response or a request that
// outlives the client touches nothing freed.
//
// close(): (1) under m_, closing_ = true and every registered request scope is rescheduled to now,
// which cancels its body at once (the request then throws "the client was closed"); (2) the pool
// closes (idle connections closed, waiters failed, put-backs discarded from then on); (3) close()
// waits for the drained_ event, which the last request to leave sets. A request registers
// (enter) before its first suspension and leaves after its scope has ended, both under m_, so no
// request slips between (1) and (3).
//
// Thread safety: shared objects: safe; the counters are relaxed atomics (statistics: no order), the
// rest as commented.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <coreio/detail/spinlock.hpp>
#include <coreio/http/client.hpp>
#include <coreio/http/options.hpp>
#include <coreio/http/response.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/timeout.hpp>

#include "http/connection.hpp"
#include "http/content_decoder.hpp"
#include "http/cookie_jar.hpp"
#include "http/deadline.hpp"
#include "http/pool.hpp"
#include "http/stats.hpp"
#include "http/tls.hpp"

namespace coreio::http::detail {

/// A received body still on its connection: de-framed by the connection's parser, decoded.
struct body_reader {
  std::shared_ptr<pool> owner;
  std::shared_ptr<client_counters> counters;
  std::unique_ptr<connection> conn;
  std::unique_ptr<content_decoder> decoder;
  // The request's total deadline and the sock_read gap, for every read of the body.
  limit total;
  std::optional<std::chrono::milliseconds> sock_read;
  // Keep the connection after the body (the head allowed it) and for how long.
  bool keep_alive = false;
  std::chrono::milliseconds keep_for{0};
  // The end of the body was reached (or an error ended it).
  bool done = false;
  // Why the body ended before its end, for every later read to throw again instead of giving an
  // empty body that looks complete (aiohttp raises its stream's exception again): the failed
  // read's error (rethrow_failure), or response::close()'s (aiohttp's "Connection closed").
  std::exception_ptr cut_short;
  // Decoded bytes handed out by the last next().
  std::string out;
  // Decoded bytes left by the decoder's finish(), handed out before the end.
  bool flushed = false;
  // Feed the parser before reading even when nothing is buffered (after the head or a body event).
  bool kick = true;
  // The message ended (the parser's end event, or the connection's end where the parser allowed
  // it: a read-until-close body): flush the decoder, then end_ok; no more reads.
  bool ended = false;
  // The connection is held in the pool (pool::hold): a read waited on its socket.
  bool held = false;

  ~body_reader();
  /// The next piece of the body, empty at the end (see response::read_chunk).
  task<std::span<const std::byte>> next();
  /// The next piece from what is buffered, without a task: a piece, empty at the end, or
  /// std::nullopt when bytes must be read first (co_await read_more(), then step again). Throws
  /// http::error for a malformed body; the caller then calls rethrow_failure().
  std::optional<std::span<const std::byte>> step();
  /// Reads more of the body (bounded by the total deadline and the sock_read gap).
  read_within read_more();
  /// After read_more() gave n bytes: at end of stream (n == 0), checks the body may end there.
  void after_read(std::size_t n);
  /// Inside a catch: counts a phase timeout, fail(), then rethrows; an error that came from the
  /// client's close (its pool closed the held connection) as http::error "the client was closed".
  /// Later reads throw it again (cut_short); after a cancel, an http::error saying so.
  [[noreturn]] void rethrow_failure();
  /// The body ended cleanly: the connection goes back to the pool or is closed.
  void end_ok() noexcept;
  /// An error or a drop: the connection is closed; the body is at its end.
  void fail() noexcept;
  /// response::close(): fail(), and a body not at its end yet stays unreadable (cut_short).
  void close() noexcept;
  /// At the end of the body: rethrows cut_short if the body was cut short, else returns.
  void check_not_cut_short() const;
  /// A drop before the end: reuse the connection if the rest is buffered, else close it.
  void abandon() noexcept;
};

struct response_state {
  int status = 200;
  std::string reason;
  int version = 11;
  fields headers;
  // Received: the URL answered (the request's destination keeps it); built: null.
  std::shared_ptr<const std::string> url;
  std::vector<response> history;
  // Built response: the body to send; received: what read()/text() collected.
  std::string body;
  // Built response: read_chunk() handed out body already.
  bool body_given = false;
  // Received: the head's noted_field bits (parser.hpp), for the client's own look at the fields
  // before the response is returned (a user may change the fields after).
  std::uint8_t noted = 0;
  // A recycled response's fields (swap_in_fields gives them to the next head to parse).
  fields spare_fields;
  // Received response with a body on the wire.
  std::unique_ptr<body_reader> reader;
};

/// The state of a new response, with no fields, status 200, HTTP/1.1, no body: one the calling
/// thread kept (recycle_response_state), else a new one. Its `headers` is empty; a received head
/// swaps its fields in with swap_in_fields. Any thread.
std::unique_ptr<response_state> make_response_state();
/// A received head's fields become the response's, and the parser gets back the field strings the
/// state kept from its last response (capacity kept): a client's heads stop allocating their
/// fields once its responses are recycled. fields: the parser's head.headers.
void swap_in_fields(response_state& s, fields& parsed) noexcept;
/// The end of a response (~response): its body reader first (which gives its connection back or
/// closes it), then the state is kept by the calling thread for make_response_state (at most
/// k_kept_response_states; the rest are deleted). Any thread.
void recycle_response_state(std::unique_ptr<response_state> s) noexcept;
inline constexpr std::size_t k_kept_response_states = 16;

/// A request in flight: its scope (close() moves its deadline), linked into client_core's list
/// from enter to leave (an intrusive list: registering costs no allocation, leaving no search).
struct inflight_request {
  coreio::timeout_scope scope;
  // Guarded by client_core::m_.
  inflight_request* prev = nullptr;
  inflight_request* next = nullptr;
};

struct client_core {
  explicit client_core(const client_options& o);

  const client_options opts;
  /// The worker that made the client (coreio::current_worker(), -1 off the runtime): its event
  /// loop is the one the client's connections live on (connect_options::on_worker), as
  /// net::serve keeps a listener's connections on one loop. -1: each connection on the loop of
  /// the worker that opens it.
  const int home_worker;
  const std::shared_ptr<pool> conn_pool;
  /// The header lines after Host of a request with no headers of its own or the client's (a
  /// request with some merges them with these defaults field by field): made once.
  const std::string default_fields;
  const std::shared_ptr<client_counters> counters = std::make_shared<client_counters>();
  cookie_jar jar;

  /// The TLS context, made on first use (https). Throws tls_error if the CA file is unusable.
  std::shared_ptr<tls_context> tls();
  /// Registers a request's scope; throws http::error once closing.
  void enter(inflight_request* r);
  void leave(inflight_request* r) noexcept;
  /// Steps (1) and (2) of close(); true if requests are still in flight.
  bool begin_close() noexcept;
  bool closing() const noexcept;
  void trace(trace_kind k, std::string_view method, std::string_view url, int status = 0,
             std::string_view error = {}) const noexcept;

  coreio::event drained;
  /// client::stats(). Any thread.
  client_stats snapshot() const noexcept;

 private:
  std::mutex tls_m_;
  // Guarded by tls_m_.
  std::shared_ptr<tls_context> tls_;
  // Guards inflight_ and the writes of closing_. A spinlock: every request takes it twice (enter,
  // leave) for a few pointer writes, and only begin_close holds it longer.
  mutable coreio::detail::spinlock m_;
  // The first of the requests in flight (a doubly linked list through inflight_request).
  inflight_request* inflight_ = nullptr;
  // Set once by begin_close under m_; read under m_ by enter (the registration race of close())
  // and without it by closing() (a hint: a response's connection is not pooled once closing).
  // Release store, acquire load: nothing else is published through it.
  std::atomic<bool> closing_{false};
  // Last: unregistered first, while the rest is intact (http::metrics_text(), stats.hpp).
  stats_registration registration_{std::function<client_stats()>([this] { return snapshot(); })};
};

}  // namespace coreio::http::detail
