// coreio/http/options.hpp — what a coreio::http::client is configured with (aiohttp's
// ClientSession arguments, ClientTimeout and the per-request keyword arguments), as named structs
// that users build, store and pass.
//
//   http::client_options opts{.limit = 100, .limit_per_host = 0,
//                             .timeout = {.total = 5s, .connect = 1s, .sock_read = 2500ms},
//                             .ca_file = ""};
//   http::request_options form{.body = "a=1",
//                              .headers = {{"Content-Type", "application/x-www-form-urlencoded"}}};
//   http::request_options query{.params = {{"q", "a b"}}};    // ?q=a%20b
//
// Designated initializers work in the order the fields are declared (the order above). Durations
// are std::chrono::milliseconds, so `300ms` and `5s` both convert; an unset (std::nullopt) timeout
// is no limit for that phase.
//
// g++ 12: build these structs in their own statement, never as a braced temporary inside a
// co_await expression (`co_await session.get(url, {.params = ...})`): g++ 12 rejects some of those
// and miscompiles others (a string freed twice). The client takes them by const reference and
// copies what it needs before its first suspension, so a named local is enough.
//
// Thread safety: plain values (distinct objects: safe; shared objects: safe for const use).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <coreio/task.hpp>

namespace coreio::http {

/// Header fields or query parameters: (name, value) pairs, in order, duplicates allowed.
using fields = std::vector<std::pair<std::string, std::string>>;

/// A deadline for each phase of a request (aiohttp's ClientTimeout, with pool_wait counted
/// separately). std::nullopt: no limit for that phase. Running out throws coreio::timeout_error
/// whose what() names the phase (e.g. "http: connect timeout (1000 ms) to 127.0.0.1:8080"); the
/// connection involved is closed, never reused.
struct timeouts {
  /// The whole request: pool wait, connect, sending, the head and the body (reads of the body
  /// after request() returned count too). Default 300 s (aiohttp's), so no request hangs forever.
  std::optional<std::chrono::milliseconds> total = std::chrono::milliseconds(300'000);
  /// Time queued for a connection slot (limit / limit_per_host). aiohttp counts this into connect.
  std::optional<std::chrono::milliseconds> pool_wait = std::nullopt;
  /// Making a new connection: name lookup, TCP connect and TLS handshake.
  std::optional<std::chrono::milliseconds> connect = std::nullopt;
  /// The TCP connect alone (name lookup and Happy Eyeballs included), without TLS.
  std::optional<std::chrono::milliseconds> sock_connect = std::nullopt;
  /// From the first byte of the request sent to the end of the response head.
  std::optional<std::chrono::milliseconds> headers = std::nullopt;
  /// The longest gap between two reads of the response (head or body).
  std::optional<std::chrono::milliseconds> sock_read = std::nullopt;
};

/// HTTP Basic authentication (RFC 7617), sent as `Authorization: Basic base64(login:password)`.
struct basic_auth {
  std::string login = "";
  std::string password = "";
};

/// One part of a multipart/form-data body (RFC 7578). A file part has a filename.
struct multipart_field {
  std::string name = "";
  std::string value = "";
  std::string filename;      ///< "" for a plain field
  std::string content_type;  ///< "" for none (text/plain for a field, octet-stream for a file)
};

/// What a trace callback is told (aiohttp's TraceConfig signals, one callback for all).
enum class trace_kind {
  request_start,            ///< before anything; url and method set
  queued,                   ///< the request waited for a slot (limit / limit_per_host) and got one
  connection_create_start,  ///< a new connection: lookup + TCP connect (+ TLS) begins
  connection_create_end,    ///< connected (and TLS handshake done for https)
  connection_reuse,         ///< an idle keep-alive connection is reused
  request_headers_sent,     ///< the request head (and a fixed body) was written
  response_headers_received,  ///< the response head arrived; status set
  redirect,                   ///< a redirect is followed; url is the next URL
  retry,                      ///< a reused connection failed before any response byte: one retry
  request_end,                ///< request() returns a response (its body may still be unread)
  request_exception           ///< request() fails; error says why
};

/// One trace event. Valid only during the callback.
struct trace_event {
  trace_kind kind = trace_kind::request_start;
  std::string_view method = {};
  std::string_view url = {};
  int status = 0;          ///< response_headers_received, redirect
  std::string_view error;  ///< request_exception: the exception's what()
};

/// A callback for every trace event of every request of a client. Called on the worker running
/// the request, inline: keep it short and non-blocking; it must not throw.
using trace_callback = std::function<void(const trace_event&)>;

/// A body produced piece by piece for a chunked upload: each call gives the next piece; an empty
/// string ends the body. Called one call at a time, from a task of the request's (which sends the
/// body while the request watches for an early error response), cancelled with the request.
using body_source = std::function<coreio::task<std::string>()>;

/// Configuration of a client (aiohttp's ClientSession + TCPConnector arguments).
struct client_options {
  /// Connections open at once, over all hosts (in use, connecting or idle); 0 = no limit.
  std::size_t limit = 100;
  /// Connections open at once to one origin (scheme, host, port); 0 = no limit.
  std::size_t limit_per_host = 0;
  /// Deadlines of every request; request_options::timeout overrides them per request.
  timeouts timeout = {};
  /// Extra CA bundle (PEM) trusted for https besides the system store; "" = system store only.
  std::string ca_file = "";
  /// Verify the server's certificate and host name (https). false only for tests.
  bool verify_ssl = true;
  /// Headers sent with every request (a request's own header of the same name replaces them).
  fields headers = {};
  /// Basic auth sent with every request to the first origin (dropped across origins).
  std::optional<basic_auth> auth = std::nullopt;
  /// Redirects followed per request before http::error("too many redirects").
  int max_redirects = 10;
  /// Call raise_for_status() on every response before returning it.
  bool raise_for_status = false;
  /// Retry once when a reused keep-alive connection fails before any byte of the response, for
  /// idempotent methods (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) with a replayable body.
  bool retry_reused_idempotent = true;
  /// How long an idle connection stays in the pool (a server's `Keep-Alive: timeout=N` shortens it
  /// to N - 1 s). 0 disables keep-alive: each request then says `Connection: close` (RFC 9112
  /// section 9.6), unless the caller sets a Connection field of its own.
  std::chrono::milliseconds keepalive_timeout = std::chrono::milliseconds(15'000);
  /// Send `Accept-Encoding: gzip, deflate, br, zstd` and decode bodies with those codings (a
  /// list of them, over one or several Content-Encoding fields, undone last first). A body with
  /// any other coding is left as it came, as aiohttp leaves it.
  bool auto_decompress = true;
  /// Body bytes accepted per response (before decoding); std::nullopt = no limit.
  std::optional<std::uint64_t> max_body = std::nullopt;
  /// Decoded body bytes accepted per response (a compression bomb is an http::limit_error).
  std::uint64_t max_decoded_body = 64ull << 20;
  /// Decoded bytes per encoded byte accepted once a body has decoded to more than 1 MiB; over it,
  /// http::limit_error (limit_kind::decompression_ratio), so that a bomb stops early instead of at
  /// max_decoded_body. 0: no ratio limit. 1,000 is near the most deflate can reach (about
  /// 1,032:1, RFC 1951's 258-byte matches) and above what text usually compresses to; a body of
  /// one byte repeated may need more.
  std::uint64_t max_decompression_ratio = 1000;
  /// Keep cookies from Set-Cookie and send them back (a simple jar: domain, path, expiry, secure).
  bool cookies = true;
  /// `User-Agent` sent unless the request sets one; empty: none. The client's constructor throws
  /// http::error if it holds CR, LF or NUL.
  std::string user_agent = "coreio-http/0.1";
  /// Called for every trace event of every request (see trace_kind); empty: no tracing.
  trace_callback trace = {};
};

/// Per-request arguments (aiohttp's request(..., params=, data=, json=, headers=, ...)).
/// At most one of body, form, multipart, json and upload (http::error otherwise).
struct request_options {
  /// Query parameters appended to the URL's query, percent-encoded (RFC 3986; space is %20).
  fields params = {};
  /// A body sent as is (bytes or text) with Content-Length (or chunked when `chunked`), and with
  /// Content-Type: application/octet-stream unless `headers` has a Content-Type (as aiohttp's bytes
  /// payloads; so is an `upload`).
  std::string body = "";
  /// Header fields of this request; replace the client's default of the same name.
  fields headers = {};
  /// A form body, sent as application/x-www-form-urlencoded (space is +).
  fields form = {};
  /// A multipart/form-data body.
  std::vector<multipart_field> multipart = {};
  /// A JSON text sent as the body with Content-Type: application/json.
  std::optional<std::string> json = std::nullopt;
  /// A body produced piece by piece, sent with Transfer-Encoding: chunked (never retried).
  body_source upload = {};
  /// Send the body with Transfer-Encoding: chunked instead of Content-Length.
  bool chunked = false;
  /// Basic auth for this request (replaces the client's).
  std::optional<basic_auth> auth = std::nullopt;
  /// Deadlines for this request (replace the client's as a whole).
  std::optional<timeouts> timeout = std::nullopt;
  /// Follow redirects (301, 302, 303, 307, 308).
  bool allow_redirects = true;
  /// Overrides client_options::max_redirects.
  std::optional<int> max_redirects = std::nullopt;
  /// Overrides client_options::raise_for_status.
  std::optional<bool> raise_for_status = std::nullopt;
  /// Send `Expect: 100-continue` and the body only after the server's 100 Continue, or after
  /// expect_continue_timeout without an answer (RFC 9110 10.1.1). A final status instead of 100:
  /// the body is not sent, and the connection is not reused. Ignored without a fixed body (no
  /// body, or an upload source).
  bool expect_continue = false;
  /// With expect_continue: how long to wait for the 100 before sending the body anyway (curl's
  /// CURLOPT_EXPECT_100_TIMEOUT_MS, also 1 s by default). Zero or less: at once; saturated (a
  /// duration past the clock's reach waits for the 100 or the headers deadline). The headers phase
  /// deadline (timeouts::headers) still bounds the whole wait.
  std::chrono::milliseconds expect_continue_timeout{1000};
};

}  // namespace coreio::http
