// src/http/client.cpp — http::client: one request from URL to response head, redirects, the one
// retry of a reused connection, deadlines and close() (client.hpp, client_core.hpp).
//
// A request (run_request):
//   1. registers its timeout_scope with the core (so close() can cancel it), then runs the
//      redirect loop (follow) inside that scope; the scope's deadline is the total deadline (one
//      timer for everything up to the response head; close() moves it to now);
//   2. each hop (exchange) gets an idle connection (pool::try_reuse, no task) or, through
//      acquire(), a slot and connects (pool_wait, connect, sock_connect, TLS), writes the head and
//      body, reads the response head (headers, sock_read): each phase with a budget bounds its
//      operations (deadline.hpp), reads through read_within; a body that may take long to go out
//      (an upload, or over 64 KiB) is sent while a watcher task reads the response, so that an
//      error the server answers before it has read the body (a 413), or a response that closes
//      the connection, stops the send (send_watched);
//   3. a reused connection that fails before any response byte (reset, broken pipe, a close) is
//      discarded and the hop is tried once more on a new connection, for an idempotent method with
//      a replayable body; any other failure closes the connection and propagates;
//   4. the response keeps its connection in a body_reader until its body is read or dropped.
// Any exception closes the connection it happened on: a half-read response cannot be reused.
#include <coreio/http/client.hpp>

#include <algorithm>
#include <charconv>
#include <system_error>
#include <utility>

#include <coreio/net/tcp_stream.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task_group.hpp>
#include <coreio/wait_for.hpp>

#include "http/client_core.hpp"
#include "http/request_body.hpp"
#include "http/text.hpp"
#include "http/url.hpp"
#include "trace/span.hpp"

namespace coreio::http {

namespace detail {

namespace {

using namespace std::chrono_literals;
using namespace std::string_view_literals;

/// A reused connection that died before any byte of the response (retryable).
class connection_lost : public error {
 public:
  using error::error;
};

bool idempotent(std::string_view m) noexcept {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

bool is_redirect(int s) noexcept {
  return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/// `timeout=N` of a Keep-Alive header, if any.
std::optional<long> keep_alive_timeout(std::optional<std::string_view> v) {
  if (!v) return std::nullopt;
  // Keep-Alive: timeout=5, max=100 (RFC 2068 section 19.7.1.1): comma-separated parameters, a
  // parameter's name case-insensitive, whitespace around the '=' tolerated. A value that is not
  // digits is ignored; one over a day is a day (no overflow in the caller's milliseconds).
  std::string_view rest = *v;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view param = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos || !iequals(trim_ows(param.substr(0, eq)), "timeout"))
      continue;
    const std::string_view digits = trim_ows(param.substr(eq + 1));
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    constexpr long day = 24 * 60 * 60;
    long n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc::result_out_of_range || n > day) return day;
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    return n;
  }
  return std::nullopt;
}

/// Where a hop goes: the URL and the strings every request to it needs, made once.
struct destination {
  explicit destination(url u)
      : target(std::move(u)), key(target.origin()), text(target.str()), host(target.authority()) {}
  const url target;
  const std::string key;   // the pool key (origin)
  const std::string text;  // the URL as reported (trace, response::url)
  const std::string host;  // the Host header's value
};

/// The destination of a URL without params, with a one-entry memo per thread: a client that
/// fetches one URL again and again (polling, fan-out to one endpoint) parses it once per thread.
/// Throws http::error for an invalid URL (parse_url).
std::shared_ptr<const destination> destination_of(std::string_view text) {
  thread_local std::string last_text;
  thread_local std::shared_ptr<const destination> last;
  if (last && text == last_text) return last;
  last.reset();  // no stale pair if what follows throws
  auto d = std::make_shared<const destination>(parse_url(text));
  last_text.assign(text);
  last = d;
  return d;
}

/// Everything one hop sends, fixed before the first suspension.
struct outgoing {
  std::string method;
  std::shared_ptr<const destination> to;
  fields headers;  // user + client headers, merged; Host and framing added at send
  prepared_body body;
  body_source upload;
  bool chunked = false;
  bool expect_continue = false;
  std::chrono::milliseconds continue_wait{1000};  // request_options::expect_continue_timeout
  bool close = false;                             // the request says Connection: close
  std::optional<basic_auth> auth;
  bool auth_from_url =
      false;         // auth came from the URL's userinfo: it replaces an Authorization field
  std::string host;  // the caller's own Host field value ("": the URL's authority)
};

struct request_context {
  std::shared_ptr<client_core> core;
  timeouts t;
  limit total;
  // The tracer's id of the request's span (trace/span.hpp; 0: not tracing): its phases nest in it.
  std::uint64_t span = 0;
};

/// The limit of phase p with budget d, from now; none (and no clock read) without a budget. The
/// request's total deadline is not part of it: until the response head it is the deadline of the
/// request's scope (run_request), which cancels whatever runs.
limit phase_at(phase p, const std::optional<std::chrono::milliseconds>& d) {
  if (!d) return {};
  return phase_limit(p, d, clock::now());
}

/// h += each of parts, growing h once (a request head is a dozen short pieces; append() one at a
/// time pays its capacity check and copy call per piece).
void append_all(std::string& h, std::initializer_list<std::string_view> parts) {
  std::size_t n = 0;
  for (const std::string_view p : parts) n += p.size();
  std::size_t at = h.size();
  h.resize(at + n);
  for (const std::string_view p : parts) {
    std::char_traits<char>::copy(h.data() + at, p.data(), p.size());
    at += p.size();
  }
}

/// Appends "; name=value" to h for each cookie of `jar` (a Cookie header value) whose name no
/// Cookie field of `headers` has: the request's own cookie of a name wins over the jar's.
void append_jar_cookies_not_in(std::string& h, std::string_view jar, const fields& headers) {
  const auto name_of = [](std::string_view pair) {
    return trim_ows(pair.substr(0, pair.find('=')));
  };
  const auto own = [&](std::string_view name) {
    for (const auto& [n, v] : headers) {
      if (!same_name(n, "Cookie")) continue;
      std::string_view rest = v;
      for (;;) {
        const std::size_t semi = rest.find(';');
        if (name_of(rest.substr(0, semi)) == name) return true;
        if (semi == std::string_view::npos) break;
        rest.remove_prefix(semi + 1);
      }
    }
    return false;
  };
  while (!jar.empty()) {
    const std::size_t semi = jar.find("; ");
    const std::string_view pair = jar.substr(0, semi);
    if (!own(name_of(pair))) append_all(h, {"; "sv, pair});
    if (semi == std::string_view::npos) break;
    jar.remove_prefix(semi + 2);
  }
}

/// The request head, into h (cleared first; the connection's buffer, so its capacity is reused).
void head_bytes(const request_context& rc, const outgoing& o, std::string& h) {
  client_core& core = *rc.core;
  const client_options& opts = core.opts;
  h.clear();
  // Without headers of the request's own or the client's, the defaults go as made once.
  append_all(h, {o.method, " "sv, o.to->target.target, " HTTP/1.1\r\nHost: "sv,
                 o.host.empty() ? std::string_view(o.to->host) : std::string_view(o.host), "\r\n"sv,
                 o.headers.empty() ? std::string_view(core.default_fields) : ""sv});
  bool has_auth = false, has_type = false, has_cookie = false, has_connection = false;
  if (!o.headers.empty()) {
    bool has_ua = false, has_accept = false, has_ae = false;
    for (const auto& [n, v] : o.headers) {
      if (same_name(n, "Host") || same_name(n, "Content-Length") ||
          same_name(n, "Transfer-Encoding"))
        continue;  // framing is the client's; Host went first (o.host)
      // Credentials in the URL replace an Authorization field (as aiohttp's do).
      if (o.auth_from_url && same_name(n, "Authorization")) continue;
      has_ua |= same_name(n, "User-Agent");
      has_accept |= same_name(n, "Accept");
      has_ae |= same_name(n, "Accept-Encoding");
      has_auth |= same_name(n, "Authorization");
      has_type |= same_name(n, "Content-Type");
      has_connection |= same_name(n, "Connection");
      if (same_name(n, "Cookie")) {
        // One Cookie field (RFC 6265 section 5.4): the request's own cookies (every Cookie field
        // of its, empty ones skipped), then the jar's of other names (on a name both have, the
        // request's wins).
        if (has_cookie) continue;
        has_cookie = true;
        std::string merged;
        for (const auto& [m, w] : o.headers) {
          if (!same_name(m, "Cookie") || trim_ows(w).empty()) continue;
          if (!merged.empty()) merged += "; ";
          merged += trim_ows(w);
        }
        if (opts.cookies) {
          const std::string jar = core.jar.header_for(o.to->target);
          append_jar_cookies_not_in(merged, jar, o.headers);
        }
        if (merged.starts_with("; ")) merged.erase(0, 2);
        if (!merged.empty()) append_all(h, {n, ": "sv, merged, "\r\n"sv});
        continue;
      }
      append_all(h, {n, ": "sv, v, "\r\n"sv});
    }
    if (!has_ua && !opts.user_agent.empty())
      append_all(h, {"User-Agent: "sv, opts.user_agent, "\r\n"sv});
    if (!has_accept) h += "Accept: */*\r\n"sv;
    if (!has_ae && opts.auto_decompress) h += "Accept-Encoding: gzip, deflate, br, zstd\r\n"sv;
  }
  if (!has_auth && o.auth) h += "Authorization: " + basic_auth_value(*o.auth) + "\r\n";
  if (opts.cookies && !has_cookie) {  // (with a Cookie header of the request's own: merged above)
    const std::string c = core.jar.header_for(o.to->target);
    if (!c.empty()) append_all(h, {"Cookie: "sv, c, "\r\n"sv});
  }
  if (!has_type && !o.body.content_type.empty())
    append_all(h, {"Content-Type: "sv, o.body.content_type, "\r\n"sv});
  if (o.expect_continue) h += "Expect: 100-continue\r\n"sv;
  // A client without keep-alive says so in every request (RFC 9112 section 9.6: MUST), unless the
  // caller's own Connection field speaks for the request.
  if (opts.keepalive_timeout.count() <= 0 && !has_connection) h += "Connection: close\r\n"sv;
  if (o.upload || o.chunked) {
    h += "Transfer-Encoding: chunked\r\n"sv;
  } else if (o.body.present || o.method == "POST"sv || o.method == "PUT"sv ||
             o.method == "PATCH"sv) {
    h += "Content-Length: " + std::to_string(o.body.bytes.size()) + "\r\n";
  }
  h += "\r\n"sv;
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string chunk_of(std::string_view piece) {
  char size[24];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
  std::string c(size, static_cast<std::size_t>(n));
  c += piece;
  c += "\r\n";
  return c;
}

/// The request head into h, and the body after it when it goes in the same write (chunked, or up to
/// 64 KiB); true if the body is left to write after h.
bool message_bytes(const request_context& rc, const outgoing& o, std::string& h) {
  head_bytes(rc, o, h);
  if (o.chunked) {
    if (!o.body.bytes.empty()) h += chunk_of(o.body.bytes);
    h += "0\r\n\r\n";
    return false;
  }
  if (o.body.bytes.size() <= 64 * 1024) {
    h += o.body.bytes;
    return false;
  }
  return true;
}

/// The status of a response head starting `got` ("HTTP/1.x SSS"): what await_continue does with
/// it. 100 sends the body; another 1xx but 101 is interim (RFC 9110 section 15.2: 103 Early Hints
/// may come first) and is skipped; anything else is the final answer.
enum class continue_answer { go, interim, final_status };
continue_answer classify_continue(std::string_view got) {
  if (got.size() < 12 || got[9] != '1') return continue_answer::final_status;
  if (got.substr(9, 3) == "100") return continue_answer::go;
  if (got.substr(9, 3) == "101") return continue_answer::final_status;
  return continue_answer::interim;
}

/// After an `Expect: 100-continue` head: true to send the body (a 100 Continue arrived and was
/// consumed, or nothing arrived within `patience`), false if the server answered with a final
/// status (left in the buffer for the head to be read). Other interim responses are consumed.
task<bool> await_continue(connection* conn, limit headers_lim, std::chrono::milliseconds patience) {
  const limit wait = earliest(
      headers_lim, limit{coreio::detail::deadline_after(patience), phase::headers, patience});
  for (;;) {
    const std::string_view got(conn->pending().data(), conn->pending().size());
    const std::size_t end = got.find("\r\n\r\n");
    if (end != std::string_view::npos) {
      const continue_answer a = classify_continue(got);
      if (a == continue_answer::final_status) co_return false;  // the head read parses it
      conn->consume(end + 4);
      if (a == continue_answer::go) co_return true;
      continue;  // an interim response before the 100: wait on
    }
    if (got.size() >= 12 && classify_continue(got) == continue_answer::final_status) {
      co_return false;
    }
    if (wait.when <= clock::now()) co_return true;
    bool quiet = false;
    try {
      auto t = conn->read_more();
      const std::size_t n = co_await coreio::wait_until(std::move(t), wait.when);
      if (n == 0) co_return false;  // closed: the head read reports it
    } catch (const coreio::timeout_error&) {
      quiet = true;
    }
    if (quiet) {
      if (wait.when < headers_lim.when || headers_lim.when == time_point::max()) co_return true;
      throw phase_timeout_error(headers_lim.which, headers_lim.budget, "waiting for 100 Continue");
    }
  }
}

/// Whether the request's body may take long to go out (a streamed upload, or a body bigger than
/// the 64 KiB that message_bytes() writes with the head; a chunked body is counted too, though it
/// goes in the head's buffer): such a body is sent while the connection is watched for an early
/// response (send_watched). Any other request is sent as it always was, with no task of its own.
bool watch_body(const outgoing& o) noexcept {
  return static_cast<bool>(o.upload) || o.body.bytes.size() > 64 * 1024;
}

/// What watch_response() ends with when the server answered with an error (or closed) while the
/// body was going out (a type of its own: no caller's catch block takes it for a send failure).
struct response_began {};

/// What the response bytes read while the body goes out say (early_response()).
enum class early_answer {
  none_yet,      // nothing, or interim responses only (1xx but 101; RFC 9110 section 15.2: a
                 // 103 may come for any request, a 100 unasked): read on
  stop_sending,  // an error status (4xx, 5xx), or bytes that are no response
  keep_sending,  // another final status: the server may be reading the body as it answers
};

/// Whether a response head (its status line and fields, up to the blank line) says
/// `Connection: close`.
bool head_says_close(std::string_view head) noexcept {
  while (true) {
    const std::size_t eol = head.find("\r\n");
    if (eol == std::string_view::npos || eol == 0) return false;
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), "connection") &&
        list_has(line.substr(colon + 1), "close")) {
      return true;
    }
  }
}

/// Classifies `got`, the bytes read so far. Interim responses stay buffered (the head read's
/// parser skips them). An error stops the body, and so does a final response that closes the
/// connection (RFC 9112 section 9.5: the client monitors the connection for an error response,
/// or one that says the server will not read the body and closes): nothing the server reads
/// after that. Another 2xx or 3xx head may come first from a server that still reads the body (a
/// streamed response prepared before the request body is read), which the client must then send
/// whole, as before.
early_answer early_response(std::string_view got) noexcept {
  const std::size_t all = got.size();
  while (got.size() >= 12) {  // "HTTP/1.1 SSS"
    if (!got.starts_with("HTTP/"sv)) return early_answer::stop_sending;
    const char c = got[9];
    if (c == '4' || c == '5') return early_answer::stop_sending;
    const std::size_t end = got.find("\r\n\r\n");
    if (end == std::string_view::npos) break;  // the head is not complete yet
    if (c == '1' && got.substr(9, 3) != "101"sv) {
      got.remove_prefix(end + 4);
      continue;
    }
    return head_says_close(got.substr(0, end + 2)) ? early_answer::stop_sending
                                                   : early_answer::keep_sending;
  }
  // Interim responses alone past 64 KiB: the head read's parser judges them.
  return all > 64 * 1024 ? early_answer::stop_sending : early_answer::none_yet;
}

/// The watcher of send_watched(): reads the response into conn's buffer until it says something
/// (early_response()) or the stream ended or failed. An error response, one that closes the
/// connection, the end or a failure throw response_began, which cancels the send; another final
/// status ends the watch (the body goes on). No read limit: a long upload is no gap between reads (the send is under the headers
/// phase; the head read after it applies sock_read). A read error is left for the head read to
/// meet again; cancelled_error (the body went out, or the request was cancelled) passes.
task<void> watch_response(connection* conn) {
  bool began = true;
  try {
    for (;;) {
      const early_answer a =
          early_response(std::string_view(conn->pending().data(), conn->pending().size()));
      if (a == early_answer::stop_sending) break;
      if (a == early_answer::keep_sending) {
        began = false;
        break;
      }
      auto t = conn->read_more();
      const std::size_t n = co_await std::move(t);
      if (n == 0) break;
    }
  } catch (const coreio::cancelled_error&) {
    throw;
  } catch (...) {
  }
  if (began) throw response_began{};
}

/// send_watched()'s body: the send, then the watcher stopped (*sent_all first, for the race of a
/// response arriving just as the last byte went out).
task<void> send_then_stop(task<void> send, join_handle<void>* watcher, bool* sent_all) {
  co_await std::move(send);
  *sent_all = true;
  watcher->cancel();
}

/// Runs `send` (the body of the request, or all of it) while the connection is read for an early
/// response, as aiohttp writes the body in a task of its own (RFC 9112 section 9.5: a client
/// sending a body should monitor the connection for an error response and stop sending). An error
/// response, a response with Connection: close, or the server's close that comes before the send
/// has finished cancels it: the connection is not reused (*body_withheld) and the head read
/// parses what the watcher read. The send's own failures (timeouts, the upload source's error, a
/// reset) come out as they are.
task<void> send_watched(connection* conn, task<void> send, bool* body_withheld) {
  bool sent_all = false;
  bool began = false;
  try {
    coreio::task_group g;
    join_handle<void> watcher = g.spawn(watch_response(conn));
    auto r = g.run(send_then_stop(std::move(send), &watcher, &sent_all));
    co_await std::move(r);
  } catch (const response_began&) {
    began = true;
  }
  if (began && !sent_all) *body_withheld = true;
}

/// A streamed upload: the head, then each piece of the source as a chunk, then the last chunk.
task<void> send_upload(connection* conn, const request_context* rc, const outgoing* o,
                       limit headers_lim) {
  std::string& h = conn->out;
  head_bytes(*rc, *o, h);
  auto t = conn->write_all(bytes_of(h));
  co_await timed(std::move(t), headers_lim, "sending the request");
  // The headers phase runs from the request's first byte to the response head: the source's
  // waits and every piece's write are under it.
  for (;;) {
    auto make = timed(o->upload(), headers_lim, "waiting for the upload source");
    std::string piece = co_await std::move(make);
    if (piece.empty()) break;
    const std::string c = chunk_of(piece);
    auto w = conn->write_all(bytes_of(c));
    co_await timed(std::move(w), headers_lim, "sending the request body");
  }
  auto end = conn->write_all(bytes_of("0\r\n\r\n"));
  co_await timed(std::move(end), headers_lim, "sending the request body");
}

/// The head, and the body with it or after it (message_bytes()).
task<void> send_message(connection* conn, const request_context* rc, const outgoing* o,
                        limit headers_lim) {
  std::string& h = conn->out;
  const bool body_after = message_bytes(*rc, *o, h);
  auto t = conn->write_all(bytes_of(h));
  co_await timed(std::move(t), headers_lim, "sending the request");
  if (body_after) {
    auto w = conn->write_all(bytes_of(o->body.bytes));
    co_await timed(std::move(w), headers_lim, "sending the request body");
  }
}

task<void> send_request(connection* conn, const request_context* rc, const outgoing* o,
                        limit headers_lim, bool* body_withheld) {
  const bool watched = watch_body(*o);
  if (o->upload) {
    auto s = send_watched(conn, send_upload(conn, rc, o, headers_lim), body_withheld);
    co_await std::move(s);
    co_return;
  }
  if (o->expect_continue) {
    std::string& h = conn->out;
    head_bytes(*rc, *o, h);
    auto t = conn->write_all(bytes_of(h));
    co_await timed(std::move(t), headers_lim, "sending the request");
    // (An empty chunked body is its last chunk alone: one, RFC 9112 section 7.1.)
    std::string body = !o->chunked             ? o->body.bytes
                       : o->body.bytes.empty() ? std::string("0\r\n\r\n")
                                               : chunk_of(o->body.bytes) + "0\r\n\r\n";
    // await_continue reads the socket itself: the body alone is watched, after it.
    if (co_await await_continue(conn, headers_lim, o->continue_wait)) {
      auto w = timed(conn->write_all(bytes_of(body)), headers_lim, "sending the request body");
      if (watched) {
        auto s = send_watched(conn, std::move(w), body_withheld);
        co_await std::move(s);
      } else {
        co_await std::move(w);
      }
    } else {
      *body_withheld = true;
    }
    co_return;
  }
  if (watched) {
    auto s = send_watched(conn, send_message(conn, rc, o, headers_lim), body_withheld);
    co_await std::move(s);
    co_return;
  }
  // Not watched: the body, if any, is in the head's buffer (up to 64 KiB, message_bytes()).
  std::string& h = conn->out;
  (void)message_bytes(*rc, *o, h);
  auto t = conn->write_all(bytes_of(h));
  co_await timed(std::move(t), headers_lim, "sending the request");
}

/// Feeds the buffered bytes to the response parser; true once the response head is complete.
/// *any_byte: some response byte arrived.
bool head_complete(connection& conn, bool* any_byte) {
  const auto pend = conn.pending();
  if (pend.empty()) return false;
  *any_byte = true;
  const parse_result r = conn.response_parser.feed(pend);
  conn.consume(r.consumed);
  if (r.event == parse_event::head) return true;
  if (r.event != parse_event::need_more) throw error("http: a response body before its head");
  return false;
}

/// After a send that failed with a socket error (the server reset or closed the connection while
/// the request went out): whether a response head the server sent first can still be read from
/// the connection (bytes that arrived before the reset are still delivered). Reads until the head
/// is complete, the stream ends or fails; a parse error is no response.
task<bool> read_early_response(connection* conn, limit l) {
  bool any_byte = false;
  try {
    while (!head_complete(*conn, &any_byte)) {
      const std::size_t n = co_await read_within(*conn, l, "reading a response sent early");
      if (n == 0) co_return false;
    }
  } catch (const coreio::cancelled_error&) {
    throw;
  } catch (...) {
    co_return false;
  }
  co_return true;
}

/// The connection ended (a read of 0) before the response head was complete.
[[noreturn]] void closed_before_head(connection& conn, bool any_byte) {
  if (!any_byte) throw connection_lost("http: the server closed the connection before responding");
  (void)conn.response_parser.finish();
  throw error("http: the connection closed inside the response head");
}

task<std::unique_ptr<connection>> open_connection(const request_context* rc, const url* u) {
  client_core& core = *rc->core;
  const limit conn_lim = phase_at(phase::connect, rc->t.connect);
  const limit sock_lim = earliest(conn_lim, phase_at(phase::sock_connect, rc->t.sock_connect));
  const std::string during = "connecting to " + u->authority();
  coreio::detail::trace::span_scope connecting("http.client.connect",
                                               rc->span);  // tracer: HTTP phase
  net::connect_options placed;
  placed.on_worker = core.home_worker;
  auto ct = net::tcp_stream::connect(u->host, u->port, placed);
  net::tcp_stream s = co_await timed(std::move(ct), sock_lim, during);
  connecting.end();
  s.set_nodelay(true);
  parse_limits pl;
  pl.max_body = core.opts.max_body;
  auto conn = std::make_unique<connection>(u->origin(), std::move(s), pl);
  if (u->tls()) {
    const std::string tls_during = "in the TLS handshake with " + u->authority();
    auto ctx = core.tls();
    auto ht = conn->start_tls(std::move(ctx), u->host);
    coreio::detail::trace::span_scope handshake("http.client.tls_handshake", rc->span);
    co_await timed(std::move(ht), conn_lim, tls_during);
  }
  co_return conn;
}

/// The response whose head conn's parser has just read (the last step of exchange()): its state
/// and its body reader, which owns conn from here on. A plain function rather than part of the
/// exchange coroutine: GCC keeps every local of a coroutine in its frame, and these would add some
/// 200 bytes to every request's frame while they are needed for no suspension.
response take_response(const request_context* rc, const outgoing* o,
                       std::unique_ptr<connection> conn, bool body_withheld) {
  client_core& core = *rc->core;
  message_head& head = conn->response_parser.head();
  std::unique_ptr<response_state> st = make_response_state();
  st->status = head.status;
  st->reason.swap(head.reason);
  // HTTP/1.2 and later minors are read as 1.1 (RFC 9110 section 2.5); the parser took only 1.x.
  st->version = head.version_minor == 0 ? 10 : 11;
  // The fields go to the response whole (the parser's vector, no copy), and the parser gets the
  // strings of a finished response to fill (swap_in_fields); the two this hop needs are looked
  // up there.
  swap_in_fields(*st, head.headers);
  st->noted = head.noted;
  std::optional<std::string_view> keep_alive_field;
  // Every Content-Encoding field, in order, as one list (RFC 9110 section 5.3): usually one
  // field, seen as it is; several are joined.
  std::optional<std::string_view> content_encoding;
  std::string joined_codings;
  if ((head.noted & (noted_keep_alive | noted_content_encoding)) != 0) {
    for (const auto& [name, value] : st->headers) {
      if (!keep_alive_field && iequals(name, "keep-alive")) keep_alive_field = value;
      if (iequals(name, "content-encoding")) {
        if (!content_encoding) {
          content_encoding = value;
        } else {
          if (joined_codings.empty()) joined_codings = *content_encoding;
          joined_codings.append(", ").append(value);
          content_encoding = joined_codings;
        }
      }
    }
  }
  st->url = std::shared_ptr<const std::string>(o->to, &o->to->text);  // shares the destination
  ++conn->uses;
  core.trace(trace_kind::response_headers_received, o->method, o->to->text, head.status);

  auto reader = std::make_unique<body_reader>();
  reader->owner = core.conn_pool;
  reader->counters = core.counters;
  reader->total = rc->total;
  reader->sock_read = rc->t.sock_read;
  // 101 (and any upgrade): the connection now speaks another protocol; never pooled.
  reader->keep_alive = head.keep_alive && !head.upgrade && head.status != 101 && !body_withheld &&
                       !o->close && !core.closing();
  std::chrono::milliseconds keep = core.opts.keepalive_timeout;
  if (const auto server = keep_alive_timeout(keep_alive_field)) {
    const auto theirs = std::chrono::milliseconds(*server * 1000 - 1000);
    keep = std::min(keep, theirs);
  }
  reader->keep_for = keep;
  const bool no_body = o->method == "HEAD"sv || head.status == 204 || head.status == 304 ||
                       (head.status >= 100 && head.status < 200) ||
                       (head.content_length && *head.content_length == 0 && !head.chunked);
  reader->conn = std::move(conn);
  if (no_body) {
    reader->end_ok();
  } else {
    try {
      if (core.opts.auto_decompress) {
        // A coding the client does not know leaves the body as it came (aiohttp's behaviour):
        // the caller sees the status, the headers and the encoded bytes.
        if (content_encoding && content_decoder::decodable(*content_encoding)) {
          decode_limits dl;
          dl.max_decoded = core.opts.max_decoded_body;
          dl.max_ratio = core.opts.max_decompression_ratio;
          reader->decoder = content_decoder::make_chain(*content_encoding, dl);
        }
      }
    } catch (...) {
      reader->fail();
      throw;
    }
    st->reader = std::move(reader);
  }
  return response(std::move(st));
}

/// One hop: connection, request, response head (steps 2-4 of the file comment).
task<response> exchange(const request_context* rc, const outgoing* o) {
  client_core& core = *rc->core;
  client_counters& k = *core.counters;
  const std::string& key = o->to->key;
  const std::string& url_text = o->to->text;
  const bool replayable = !o->upload;
  for (int attempt = 0;; ++attempt) {
    // The first attempt of a request that may be retried (the condition below): the pool may
    // trust the socket's readiness instead of a syscall to see that an idle connection is alive.
    const bool retryable =
        attempt == 0 && replayable && idempotent(o->method) && core.opts.retry_reused_idempotent;
    // An idle connection at hand is taken without a task (a keep-alive request's common case);
    // otherwise acquire() opens a slot or queues.
    pool_grant g{attempt == 0 ? core.conn_pool->try_reuse(key, retryable) : nullptr};
    if (g.conn == nullptr) {
      const limit wait_lim = phase_at(phase::pool_wait, rc->t.pool_wait);
      auto at = core.conn_pool->acquire(key, attempt > 0, retryable, wait_lim);
      coreio::detail::trace::span_scope queued("http.client.pool_wait",
                                               rc->span);  // tracer: HTTP phase
      g = co_await std::move(at);
      queued.end();
    }
    if (g.waited) core.trace(trace_kind::queued, o->method, url_text);
    std::unique_ptr<connection> conn = std::move(g.conn);
    const bool reused = conn != nullptr;
    if (reused) {
      k.add(client_counters::reused);
      core.trace(trace_kind::connection_reuse, o->method, url_text);
    } else {
      core.trace(trace_kind::connection_create_start, o->method, url_text);
      std::exception_ptr failed;
      try {
        auto oc = open_connection(rc, &o->to->target);
        conn = co_await std::move(oc);
      } catch (...) {
        failed = std::current_exception();
      }
      if (failed) {
        core.conn_pool->closed_one(key);
        std::rethrow_exception(failed);
      }
      k.add(client_counters::opened);
      core.trace(trace_kind::connection_create_end, o->method, url_text);
    }
    bool any_byte = false;
    bool retry = false;
    bool body_withheld = false;
    bool sent = false;        // the whole request went out
    bool send_broke = false;  // a socket error while it went out
    const limit headers_lim = phase_at(phase::headers, rc->t.headers);
    std::exception_ptr failed;
    try {
      conn->response_parser.reset();
      conn->response_parser.set_request_method(o->method);
      coreio::detail::trace::span_scope sending("http.client.send_request", rc->span);
      if (conn->plain() && headers_lim.when == time_point::max() && !o->upload &&
          !o->expect_continue && !watch_body(*o)) {
        // The common request: one write from this frame (no send_request task, no timer: the
        // request's scope bounds it). Its body, if any, is in the head's buffer (up to 64 KiB:
        // a bigger one is watched, send_request).
        std::string& h = conn->out;
        (void)message_bytes(*rc, *o, h);
        co_await conn->plain_stream().write_all(bytes_of(h));
      } else {
        co_await send_request(conn.get(), rc, o, headers_lim, &body_withheld);
      }
      sent = true;
      sending.end();
      core.trace(trace_kind::request_headers_sent, o->method, url_text);
      coreio::detail::trace::span_scope waiting("http.client.wait_headers", rc->span);
      // The answer is at least a round trip away: a read now would almost always find nothing
      // (a wasted recv and a wait in the reactor; 0.7 per request measured against nginx with 100
      // in flight). Let the worker's other ready tasks run first, so that the read usually finds
      // the response; with nothing else ready this costs one trip through the run queue.
      if (conn->pending().empty()) co_await coreio::yield_now();
      while (!head_complete(*conn, &any_byte)) {
        const limit l = earliest(headers_lim, phase_at(phase::sock_read, rc->t.sock_read));
        const std::size_t n = co_await read_within(*conn, l, "waiting for the response head");
        if (n == 0) closed_before_head(*conn, any_byte);
      }
    } catch (const coreio::cancelled_error&) {
      failed = std::current_exception();
    } catch (const coreio::timeout_error&) {
      failed = std::current_exception();
    } catch (const connection_lost&) {
      failed = std::current_exception();
      retry = true;
    } catch (const std::system_error& e) {
      failed = std::current_exception();
      retry = !any_byte;
      // The connection broke under the send (not, say, an upload source's own error).
      send_broke =
          !sent && (e.code() == std::errc::connection_reset || e.code() == std::errc::broken_pipe ||
                    e.code() == std::errc::connection_aborted);
    } catch (...) {
      failed = std::current_exception();
    }
    if (send_broke && !body_withheld) {
      // The server may have answered and closed while the request was still going out (a 413 for
      // an upload it will not read; RFC 9112 section 9.5): that response is the request's. The
      // connection is not reused (the request was cut short).
      const limit l = earliest(headers_lim, phase_at(phase::sock_read, rc->t.sock_read));
      bool answered = false;
      try {
        answered = co_await read_early_response(conn.get(), l);
      } catch (...) {
        failed = std::current_exception();  // a cancel: discarded below, as any failure
      }
      if (answered) {
        failed = nullptr;
        body_withheld = true;
      }
    }
    if (failed) {
      core.conn_pool->discard(std::move(conn));
      if (retry && reused && retryable) {
        k.add(client_counters::retries);
        core.trace(trace_kind::retry, o->method, url_text);
        continue;
      }
      std::rethrow_exception(failed);
    }

    co_return take_response(rc, o, std::move(conn), body_withheld);
  }
}

/// Reads and drops up to `most` bytes of r's body (fewer if it ends first).
task<void> drain_some(response* r, std::size_t most) {
  std::size_t drained = 0;
  while (drained < most) {
    const auto piece = co_await r->read_chunk();
    if (piece.empty()) break;
    drained += piece.size();
  }
}

/// The first hop's request: method (checked, in upper case), target (the URL with `ro`'s
/// params), body, headers (the client's, then the caller's), Host and credentials. Throws
/// http::error for an invalid method or header field, or CONNECT. A plain function: follow()'s
/// frame keeps only what its hops need (GCC keeps every local of a coroutine in its frame).
outgoing first_hop(const client_core& core, const std::string& method, const std::string& url_text,
                   const request_options& ro) {
  outgoing o;
  o.method = method;
  if (ro.params.empty()) {
    o.to = destination_of(url_text);
  } else {
    url target = parse_url(url_text);
    append_params(target, ro.params);
    o.to = std::make_shared<const destination>(std::move(target));
  }
  const url* target = &o.to->target;
  o.body = prepare_body(ro);
  o.upload = ro.upload;
  o.chunked = ro.chunked;
  o.expect_continue = ro.expect_continue && o.body.present && !o.upload;
  o.continue_wait = ro.expect_continue_timeout;
  o.headers = core.opts.headers;
  for (const auto& mine : ro.headers) {
    std::erase_if(o.headers, [&](const auto& f) { return same_name(f.first, mine.first); });
  }
  for (const auto& f : ro.headers) o.headers.push_back(f);
  for (const auto& [n, v] : o.headers) {
    check_field(n, v);
    // The caller's Connection: close: the connection is not used again (RFC 9112 section 9.6).
    if (same_name(n, "Connection") && list_has(v, "close")) o.close = true;
  }
  // Methods are sent in upper case, as aiohttp sends them ("get" is not GET: RFC 9110 section 9.1);
  // a method is a token (section 9.1).
  if (o.method.empty()) throw error("http: invalid method (empty)");
  for (char& c : o.method) {
    if (!is_tchar(static_cast<unsigned char>(c))) {
      throw error("http: invalid method (a byte that is not a token character)");
    }
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  // CONNECT asks for a tunnel, its target in authority form (RFC 9112 section 3.2.3); this client
  // makes no tunnels, so it is refused rather than sent with a path.
  if (o.method == "CONNECT"sv)
    throw error("http: CONNECT (a tunnel) is not supported by the client");
  // The caller's Host field names the host to the server (a virtual host reached by address, as
  // aiohttp sends it); the connection still goes to the URL's. Kept while redirects stay on the
  // URL's origin.
  for (const auto& [n, v] : o.headers) {
    if (same_name(n, "Host") && !trim_ows(v).empty()) o.host = std::string(trim_ows(v));
  }
  // Userinfo with an empty user ("http://:pw@h/") is credentials too (RFC 7617 allows an empty
  // user-id; aiohttp sends them).
  if (ro.auth) {
    o.auth = ro.auth;
  } else if (target->has_userinfo()) {
    o.auth = basic_auth{target->user, target->password};
    o.auth_from_url = true;
  } else {
    o.auth = core.opts.auth;
  }
  return o;
}

/// Follows redirect response *r to `location` (not empty): reads and drops a little of its body
/// so that its connection can be reused, then makes *o the next hop's request (method and body
/// per RFC 9110 section 15.4, credentials and Host dropped on leaving the origin) and moves *r
/// to *history. Throws http::error for a Location that is not a URL, or a 307/308 that would
/// replay a streamed upload. A coroutine of its own, so that the redirect's locals are in a frame
/// only requests that are redirected allocate, not in follow()'s.
task<void> redirect(client_core* core, outgoing* o, const request_options* ro, response* r,
                    std::string_view location, std::vector<response>* history) {
  url next = resolve_reference(o->to->target, location);
  // Discard the redirect's body: a little (64 KiB, for at most a second) is read so that the
  // connection can be reused. A body that fails (a corrupt content coding, broken framing) or
  // stalls is not the answer: its connection is closed and the redirect followed, as aiohttp,
  // which never reads it, does.
  try {
    auto drain = drain_some(r, 64 * 1024);
    co_await coreio::wait_for(std::move(drain), std::chrono::seconds(1));
  } catch (const error&) {
  } catch (const coreio::timeout_error&) {
  }
  r->close();
  const int s = r->status();
  if (s == 303 ? o->method != "HEAD" : ((s == 301 || s == 302) && o->method == "POST")) {
    o->method = "GET";
    o->body = prepared_body{};
    o->upload = nullptr;
    o->chunked = false;
    o->expect_continue = false;
    std::erase_if(o->headers, [](const auto& f) {
      return same_name(f.first, "Content-Type") || same_name(f.first, "Content-Encoding");
    });
  }
  if (s == 307 || s == 308) {
    if (o->upload) throw error("http: a 307/308 redirect cannot replay a streamed upload body");
  }
  if (next.origin() != o->to->key) {
    o->auth.reset();
    o->auth_from_url = false;
    o->host.clear();
    std::erase_if(o->headers, [](const auto& f) {
      return same_name(f.first, "Authorization") || same_name(f.first, "Proxy-Authorization") ||
             same_name(f.first, "Cookie");
    });
  }
  // Credentials in the Location itself are the new target's, as a request URL's are, unless
  // the caller gave its own (aiohttp refuses the two together); the URL goes on without them.
  if (next.has_userinfo() && !ro->auth) {
    o->auth = basic_auth{next.user, next.password};
    o->auth_from_url = true;
  }
  core->counters->add(client_counters::redirects);
  o->to = std::make_shared<const destination>(std::move(next));
  core->trace(trace_kind::redirect, o->method, o->to->text, s);
  history->push_back(std::move(*r));
}

/// The redirect loop (step 1 of the file comment).
task<response> follow(request_context* rc, const std::string* method, const std::string* url_text,
                      const request_options* ro) {
  // The whole request up to its response head (redirects included), around the phases of
  // exchange(); inside the request's scope, so on the same trace task as they are.
  coreio::detail::trace::span_scope whole("http.client.request");
  rc->span = whole.id();
  client_core& core = *rc->core;
  outgoing o = first_hop(core, *method, *url_text, *ro);
  const int max_redirects = ro->max_redirects.value_or(core.opts.max_redirects);
  std::vector<response> history;
  for (int hops = 0;; ++hops) {
    response r = co_await exchange(rc, &o);
    if (core.opts.cookies && (r.state().noted & noted_set_cookie) != 0) {
      for (const auto& [n, v] : r.headers())
        if (iequals(n, "Set-Cookie")) core.jar.store(o.to->target, v);
    }
    std::optional<std::string_view> location;
    if (ro->allow_redirects && is_redirect(r.status())) location = r.header("location");
    if (location && trim_ows(*location).empty()) location.reset();  // nowhere to go: the answer
    if (!location) {
      r.state().history = std::move(history);
      co_return r;
    }
    if (hops >= max_redirects)
      throw error("http: too many redirects (" + std::to_string(max_redirects) + "), last to " +
                  std::string(*location));
    co_await redirect(&core, &o, ro, &r, *location, &history);
  }
}

const request_options& no_options() {
  static const request_options none;
  return none;
}

/// own: the caller's options, copied (null: none, and nothing to copy). A pointer, not an
/// optional: the frame lives as long as the request, and an optional would add the options' 408
/// bytes to every request's frame, most of which (a plain get) have none.
task<response> run_request(std::shared_ptr<client_core> core, std::string method,
                           std::string url_text, std::unique_ptr<const request_options> own) {
  const request_options& ro = own ? *own : no_options();
  client_counters& k = *core->counters;
  k.add(client_counters::requests);
  core->trace(trace_kind::request_start, method, url_text);
  request_context rc{core, ro.timeout.value_or(core->opts.timeout), {}};
  rc.total = phase_limit(phase::total, rc.t.total, clock::now());
  inflight_request reg;
  // Up to the response head the total deadline is the scope's: one timer for the request, none
  // per operation. Set before enter(): close() only ever moves it earlier.
  if (rc.total.when != time_point::max()) (void)reg.scope.reschedule(rc.total.when);
  core->enter(&reg);
  std::exception_ptr failed;
  std::optional<response> result;
  try {
    auto body = follow(&rc, &method, &url_text, &ro);
    result.emplace(co_await reg.scope.run(std::move(body)));
  } catch (const phase_timeout_error& e) {
    k.add(client_counters::timeout_in(e.which()));
    failed = std::current_exception();
  } catch (const coreio::timeout_error&) {
    // The scope's deadline: close() moved it to now, or the total ran out.
    if (core->closing()) {
      failed = std::make_exception_ptr(error("http: the client was closed"));
    } else {
      k.add(client_counters::timeout_in(phase::total));
      failed = std::make_exception_ptr(
          phase_timeout_error(phase::total, rc.total.budget, "before the response head"));
    }
  } catch (...) {
    failed = std::current_exception();
  }
  if (!failed && ro.raise_for_status.value_or(core->opts.raise_for_status)) {
    try {
      result->raise_for_status();
    } catch (...) {
      failed = std::current_exception();
    }
  }
  if (failed) {
    k.add(client_counters::failures);
    if (core->opts.trace) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(failed);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      core->trace(trace_kind::request_exception, method, url_text, 0, what);
    }
    result.reset();  // a response refused by raise_for_status gives its connection back first
    // Last: once every request has left, close() returns (nothing of it runs in the client after).
    core->leave(&reg);
    std::rethrow_exception(failed);
  }
  k.add(client_counters::responses);
  core->trace(trace_kind::request_end, method, result->url(), result->status());
  core->leave(&reg);
  co_return std::move(*result);
}

}  // namespace

// ---- client_core ---------------------------------------------------------------------------------

namespace {

/// The header lines a request without headers of its own or the client's sends after Host:
/// User-Agent (unless set empty), Accept, and Accept-Encoding when responses are decoded. Throws
/// http::error for a user_agent that is not a valid field value (CR, LF, NUL: header injection).
std::string default_fields_of(const client_options& o) {
  std::string f;
  if (!o.user_agent.empty()) {
    check_field("User-Agent", o.user_agent);
    f += "User-Agent: " + o.user_agent + "\r\n";
  }
  f += "Accept: */*\r\n";
  if (o.auto_decompress) f += "Accept-Encoding: gzip, deflate, br, zstd\r\n";
  return f;
}

}  // namespace

client_core::client_core(const client_options& o)
    : opts(o),
      home_worker(coreio::current_worker()),
      conn_pool(std::make_shared<pool>(o.limit, o.limit_per_host)),
      default_fields(default_fields_of(o)) {}

std::shared_ptr<tls_context> client_core::tls() {
  std::lock_guard<std::mutex> g(tls_m_);
  if (!tls_) tls_ = tls_context::client(opts.ca_file, opts.verify_ssl);
  return tls_;
}

void client_core::enter(inflight_request* r) {
  std::lock_guard g(m_);
  if (closing_.load(std::memory_order_relaxed)) throw error("http: the client was closed");
  r->prev = nullptr;
  r->next = inflight_;
  if (inflight_ != nullptr) inflight_->prev = r;
  inflight_ = r;
}

void client_core::leave(inflight_request* r) noexcept {
  bool last = false;
  {
    std::lock_guard g(m_);
    if (r->prev != nullptr) r->prev->next = r->next;
    else inflight_ = r->next;
    if (r->next != nullptr) r->next->prev = r->prev;
    r->prev = r->next = nullptr;
    last = closing_.load(std::memory_order_relaxed) && inflight_ == nullptr;
  }
  if (last) drained.set();
}

bool client_core::begin_close() noexcept {
  bool waiting = false;
  {
    std::lock_guard g(m_);
    closing_.store(true, std::memory_order_release);
    for (inflight_request* r = inflight_; r != nullptr; r = r->next) {
      try {
        (void)r->scope.reschedule(clock::now());
      } catch (...) {
      }
    }
    waiting = inflight_ != nullptr;
  }
  conn_pool->close();
  return waiting;
}

bool client_core::closing() const noexcept { return closing_.load(std::memory_order_acquire); }

void client_core::trace(trace_kind k, std::string_view method, std::string_view url, int status,
                        std::string_view error) const noexcept {
  if (!opts.trace) return;
  try {
    opts.trace(trace_event{k, method, url, status, error});
  } catch (...) {
  }
}

}  // namespace detail

// ---- client ----------------------------------------------------------------------------------------

client::client() : client(client_options{}) {}
client::client(const client_options& options)
    : core_(std::make_shared<detail::client_core>(options)) {}
client::~client() {
  if (core_) (void)core_->begin_close();
}

task<response> client::request(std::string_view method, std::string_view url) {
  return detail::run_request(core_, std::string(method), std::string(url), nullptr);
}
task<response> client::request(std::string_view method, std::string_view url,
                               const request_options& options) {
  return detail::run_request(core_, std::string(method), std::string(url),
                             std::make_unique<const request_options>(options));
}
task<response> client::get(std::string_view url) { return request("GET", url); }
task<response> client::get(std::string_view url, const request_options& o) {
  return request("GET", url, o);
}
task<response> client::post(std::string_view url) { return request("POST", url); }
task<response> client::post(std::string_view url, const request_options& o) {
  return request("POST", url, o);
}
task<response> client::put(std::string_view url) { return request("PUT", url); }
task<response> client::put(std::string_view url, const request_options& o) {
  return request("PUT", url, o);
}
task<response> client::patch(std::string_view url) { return request("PATCH", url); }
task<response> client::patch(std::string_view url, const request_options& o) {
  return request("PATCH", url, o);
}
task<response> client::delete_(std::string_view url) { return request("DELETE", url); }
task<response> client::delete_(std::string_view url, const request_options& o) {
  return request("DELETE", url, o);
}
task<response> client::head(std::string_view url) { return request("HEAD", url); }
task<response> client::head(std::string_view url, const request_options& o) {
  return request("HEAD", url, o);
}
task<response> client::options(std::string_view url) { return request("OPTIONS", url); }
task<response> client::options(std::string_view url, const request_options& o) {
  return request("OPTIONS", url, o);
}

task<void> client::close() {
  if (core_->begin_close()) co_await core_->drained.wait();
}

bool client::closed() const noexcept { return core_->closing(); }

client_stats client::stats() const noexcept { return core_->snapshot(); }

client_stats detail::client_core::snapshot() const noexcept {
  using detail::client_counters;
  const client_counters& k = *counters;
  client_stats s;
  s.requests = k.get(client_counters::requests);
  s.responses = k.get(client_counters::responses);
  s.failures = k.get(client_counters::failures);
  s.connections_opened = k.get(client_counters::opened);
  s.connections_reused = k.get(client_counters::reused);
  s.connections_closed = conn_pool->closed_total();
  s.retries = k.get(client_counters::retries);
  s.redirects = k.get(client_counters::redirects);
  s.pool_waits = conn_pool->queued_total();
  static_assert(std::tuple_size_v<decltype(s.timeouts)> == detail::phase_count);
  for (std::size_t i = 0; i < s.timeouts.size(); ++i) {
    s.timeouts[i] = k.get(client_counters::timeout_in(static_cast<detail::phase>(i)));
  }
  s.open_connections = conn_pool->open();
  s.idle_connections = conn_pool->idle();
  s.waiting = conn_pool->waiting();
  return s;
}

}  // namespace coreio::http
