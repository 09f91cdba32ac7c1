// src/http/server_connection.cpp — one server connection: the loop (keep-alive, pipelining, strict
// framing through the shared parser, deadlines), routing, request body streaming, stream
// responses, gzip, TLS, handler cancellation.
//
// One task per connection. The loop parses from its input buffer; responses are appended to the
// output buffer, which is written only when the loop must wait for the socket (or closes), so
// pipelined requests already buffered are answered with one write; a stream_response flushes that
// buffer before its head. Over plain TCP the parser and both buffers are lent to the connection
// only while it serves a request (scratch_pool.hpp): its keep-alive wait is a readiness wait
// (stream_access::wait_readable), and the read after it goes into a buffer taken then.
// Deadlines: the head from its first byte (408), each body read (408), the keep-alive idle wait
// (silent close); over plain TCP each is a deadline on the socket read (read_by) or wait, over TLS
// a wait_until around the read.
//
// Send deadline (server_options::send_timeout, as nginx's send_timeout): a response write waiting
// on a client that reads nothing would hold the connection, its buffers and a streaming handler
// for ever. Each write of response bytes stores 1 in the connection's conn_flags::write_since
// before it starts and 0 when it ends. The server's sweeper (server.cpp, send_sweeper) replaces a
// 1 it finds by the time it found it, and stamps it again whenever the client has taken bytes
// since its last look (the kernel's count of bytes the peer acknowledged, TCP_INFO: a write
// blocked on a full send buffer goes on filling it as a steady reader drains it, so the write
// itself shows no progress until the buffer's wake-up mark). A connection whose stamp is
// send_timeout old is cancelled, the stamp claimed by compare-exchange first (a write that ended,
// and a new one that began meanwhile, store 0 and 1, and the exchange fails). The cancel ends the
// pending write with cancelled_error, which closes the connection. The writes pay two relaxed
// stores to a line the connection touches anyway; only the sweeper reads a clock and the socket.
//
// Connection phases (an atomic per connection, conn_flags::phase), for stop():
//   busy     reading a request that has begun, running its handler, writing its response
//   idle     waiting for the first byte of the next request, nothing unwritten
//   closing  stop() claimed it while idle and cancelled its task
// Steps: (1) the connection stores idle (seq_cst), then loads `stopping` (seq_cst): if set it
// closes; (2) stop() stores `stopping` (seq_cst), then, under the state mutex, CASes each
// registered connection idle -> closing and cancels the task of those it claimed; (3) when the
// idle read returns bytes, the connection CASes idle -> busy; if that fails, stop() came first and
// the connection closes without answering (no byte of that request was acted on). Store-then-load
// on both sides (seq_cst, Dekker): at least one side sees the other, so no idle connection is
// missed. A connection registered after stop()'s scan sees `stopping` in track_connection's check
// (the mutex orders the scan and the registration). A cancel only ever hits an idle read, which
// loses no byte that matters: nothing of a response is in flight then.
//
// Handler cancellation: the handler runs as its own task; a watcher task reads the socket (into
// its own buffer, handed to the loop afterwards: pipelined bytes are kept) and cancels the
// handler on end of stream or a socket error. The loop joins both before it goes on.
#include "server_connection.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <ctime>
#include <exception>

#include <coreio/errors.hpp>
#include <coreio/http/errors.hpp>
#include <coreio/log.hpp>
#include <coreio/spawn.hpp>
#include <coreio/wait_for.hpp>

#include "net/read_buffer.hpp"
#include "net/sockets.hpp"
#include "sched/histogram.hpp"
#include "server_tasks.hpp"
#include "text.hpp"
#include "trace/span.hpp"

namespace coreio::http {

namespace detail {

namespace {
int hexval(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_decode(std::string_view s, bool plus_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
      i += 2;
    } else if (plus_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  if (!p.empty() && p[0] == '/') i = 1;
  while (i <= p.size()) {
    const std::size_t j = std::min(p.find('/', i), p.size());
    out.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace detail

namespace {

using namespace std::string_view_literals;
using coreio::detail::saturating_add;
using detail::iequals;
using detail::list_has;
using detail::percent_decode;
using detail::steady;
using detail::trim_ows;

// The path of an absolute-form target without its query ("http://h:1/a" -> "/a", "http://h" ->
// "/"); any other form as it is (llhttp has checked the target's characters).
std::string_view path_of_absolute_form(std::string_view t) noexcept {
  const std::size_t scheme_end = t.find("://");
  if (scheme_end == std::string_view::npos) return t;
  const std::string_view scheme = t.substr(0, scheme_end);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return t;
  const std::size_t slash = t.find('/', scheme_end + 3);
  return slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
}

// `method` added to an Allow list ("GET, HEAD, POST") unless there; HEAD comes with GET, which
// answers it.
void add_allowed(std::string& allow, const std::string& method) {
  const auto listed = [&allow](std::string_view m) {
    for (std::size_t at = 0; (at = allow.find(m, at)) != std::string::npos; at += m.size()) {
      const std::size_t end = at + m.size();
      if ((at == 0 || allow[at - 1] == ' ') && (end == allow.size() || allow[end] == ',')) {
        return true;
      }
    }
    return false;
  };
  if (!listed(method)) {
    if (!allow.empty()) allow += ", ";
    allow += method;
  }
  if (method == "GET" && !listed("HEAD")) allow += ", HEAD";
}

// "Mon, 30 Nov 2026 18:10:37 GMT" for `now`.
std::string_view http_date(std::time_t now, std::array<char, 64>& buf) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {buf.data(), n};
}

bool status_has_body(int status) noexcept {
  return !(status == 204 || status == 304 || (status >= 100 && status < 200));
}

// The framing fields, which the server writes itself; a handler's copies are dropped. (A handler's
// Date or Server goes out instead of the server's, as aiohttp and hyper do.)
bool server_owned(std::string_view name) noexcept {
  return iequals(name, "content-length") || iequals(name, "connection") ||
         iequals(name, "transfer-encoding");
}

bool has_field(const fields& fs, std::string_view name) noexcept {
  return std::any_of(fs.begin(), fs.end(), [&](const auto& f) { return iequals(f.first, name); });
}

// The status line, Server and Date, each line with its CRLF, in `text`; the Server line starts at
// `server_at` and the Date line at `date_at`. Valid until the thread's next status_block().
struct status_lines {
  std::string_view text;
  std::size_t server_at = 0;
  std::size_t date_at = 0;

  /// The block without the Server line (the handler gave its own), or the Date line, or both.
  template <class Put>
  void put_without(bool server, bool date, Put&& put) const {
    if (!server && !date) {
      put(text);
      return;
    }
    put(text.substr(0, server_at));
    if (!server) put(text.substr(server_at, date_at - server_at));
    if (!date) put(text.substr(date_at));
  }
  std::size_t size_without(bool server, bool date) const noexcept {
    return text.size() - (server ? date_at - server_at : 0) - (date ? text.size() - date_at : 0);
  }
};

// The status lines of a response: a per-thread copy, rebuilt when the second, the status or the
// server name changes (a run of responses shares all three). Counts the response in the server's
// stats.
status_lines status_block(int status, const detail::server_state& st) {
  st.stats.response(status);
  struct cached {
    std::time_t sec = 0;
    int status = 0;
    std::string server_name;
    std::string text;
    std::size_t server_at = 0;
    std::size_t date_at = 0;
  };
  thread_local cached c;
  const std::time_t now = std::time(nullptr);
  if (now != c.sec || status != c.status || st.opts.server_name != c.server_name) {
    std::array<char, 64> date{};
    std::array<char, 12> code{};
    const auto [end, ec] = std::to_chars(code.data(), code.data() + code.size(), status);
    c.text.clear();
    c.text += "HTTP/1.1 ";
    c.text.append(code.data(), end);
    c.text += ' ';
    c.text += reason_phrase(status);
    c.text += "\r\n";
    c.server_at = c.text.size();
    c.text += "Server: ";
    c.text += st.opts.server_name;
    c.text += "\r\n";
    c.date_at = c.text.size();
    c.text += "Date: ";
    c.text += http_date(now, date);
    c.text += "\r\n";
    c.sec = now;
    c.status = status;
    c.server_name = st.opts.server_name;
  }
  return {c.text, c.server_at, c.date_at};
}

// The handler's fields but those the server writes itself; `, Accept-Encoding` after the value
// `extend_vary` points at (scan_handler_fields), if any.
void append_fields(std::string& out, const fields& fs, const std::string* extend_vary) {
  for (const auto& [name, value] : fs) {
    if (server_owned(name)) continue;
    out += name;
    out += ": ";
    out += value;
    if (&value == extend_vary) out += ", Accept-Encoding";
    out += "\r\n";
  }
}

// What a handler's own fields say about those the server writes, found in one pass: its
// Content-Length (a HEAD response without a body may carry the length GET would send, RFC 9110
// section 8.6), a close option in its Connection (honoured: the connection ends after the
// response), and its Vary fields (Accept-Encoding is added to the first one when the response may
// be compressed, RFC 9110 section 12.5.5, unless it is there or the value is "*"), and whether it
// gave its own Server or Date (sent instead of the server's).
struct handler_fields {
  std::string_view length;
  bool close = false;
  bool server = false;
  bool date = false;
  const std::string* vary = nullptr;  // the first Vary field's value
  bool vary_covers_coding = false;    // some Vary value is "*" or lists Accept-Encoding
};

handler_fields scan_handler_fields(const fields& fs) noexcept {
  handler_fields h;
  for (const auto& [name, value] : fs) {
    if (iequals(name, "vary")) {
      if (h.vary == nullptr) h.vary = &value;
      h.vary_covers_coding =
          h.vary_covers_coding || list_has(value, "accept-encoding") || list_has(value, "*");
    } else if (iequals(name, "content-length")) {
      h.length = trim_ows(value);
    } else if (iequals(name, "connection")) {
      h.close = h.close || list_has(value, "close");
    } else if (iequals(name, "server")) {
      h.server = true;
    } else if (iequals(name, "date")) {
      h.date = true;
    }
  }
  return h;
}

// The status line, then the server's Server and Date unless the handler gave its own.
void append_status_lines(std::string& out, int status, const detail::server_state& st,
                         const handler_fields& own) {
  status_block(status, st).put_without(own.server, own.date, [&out](std::string_view piece) {
    out += piece;
  });
}

// A whole response; returns whether the connection closes after it (`close`, or the handler's
// Connection: close). gzip_ok: the client accepts gzip and the server compresses. keep_alive_10:
// an HTTP/1.0 request asked to keep the connection, and it is kept: the response says so
// (`Connection: keep-alive`, RFC 9112 appendix C.2.2), or the client would wait for the close.
// Its size is counted first and it is written into one resize of `out`: appended piece by piece
// (a capacity check and a copy call each) it cost about 800 instructions for a small response,
// a tenth of all the server spends on a request.
bool append_response(std::string& out, const response& r, const detail::server_state& st,
                     bool head_only, bool close, bool gzip_ok, bool keep_alive_10 = false) {
  const int status = r.status();
  const bool has_body = status_has_body(status);
  // 205 Reset Content has a body of length 0, whatever the handler gave (RFC 9110 section 15.3.6).
  const std::string_view content =
      status == 205 ? std::string_view("") : std::string_view(r.body());
  const fields& fs = r.headers();
  const handler_fields own = scan_handler_fields(fs);
  close = close || own.close;
  std::string zipped;
  bool zip = false;
  bool vary = false;
  if (st.opts.compress && has_body && content.size() >= st.opts.compress_min_size &&
      !has_field(fs, "content-encoding")) {
    vary = true;
    if (gzip_ok) {
      zipped = detail::gzip_compress(content);
      zip = true;
    }
  }
  const status_lines block = status_block(status, st);
  const std::string_view body = zip ? std::string_view(zipped) : content;
  std::array<char, 24> len{};
  std::string_view length;
  if (has_body) {
    const auto [end, ec] = std::to_chars(len.data(), len.data() + len.size(), body.size());
    length = std::string_view(len.data(), static_cast<std::size_t>(end - len.data()));
    // A HEAD answered without a body: the handler's own length, if it gave one.
    if (head_only && body.empty() && !own.length.empty() &&
        own.length.find_first_not_of("0123456789") == std::string_view::npos) {
      length = own.length;
    }
  }
  constexpr std::string_view encoding = "Content-Encoding: gzip\r\n"sv;
  constexpr std::string_view vary_line = "Vary: Accept-Encoding\r\n"sv;
  constexpr std::string_view vary_more = ", Accept-Encoding"sv;
  constexpr std::string_view length_name = "Content-Length: "sv;
  constexpr std::string_view closing = "Connection: close\r\n"sv;
  constexpr std::string_view keeping = "Connection: keep-alive\r\n"sv;
  const bool keep_10 = keep_alive_10 && !close;
  const bool add_vary = vary && own.vary == nullptr;
  const bool extend_vary = vary && own.vary != nullptr && !own.vary_covers_coding;
  const bool with_body = !head_only && has_body;

  std::size_t size = block.size_without(own.server, own.date) + 2;
  for (const auto& [name, value] : fs) {
    if (!server_owned(name)) size += name.size() + value.size() + 4;
  }
  if (zip) size += encoding.size();
  if (add_vary) size += vary_line.size();
  if (extend_vary) size += vary_more.size();
  if (has_body) size += length_name.size() + length.size() + 2;
  if (close) size += closing.size();
  if (keep_10) size += keeping.size();
  if (with_body) size += body.size();

  const std::size_t at = out.size();
  out.resize(at + size);
  char* p = out.data() + at;
  const auto put = [&p](std::string_view piece) {
    std::memcpy(p, piece.data(), piece.size());
    p += piece.size();
  };
  block.put_without(own.server, own.date, put);
  for (const auto& [name, value] : fs) {
    if (server_owned(name)) continue;
    put(name);
    put(": "sv);
    put(value);
    if (extend_vary && &value == own.vary) put(vary_more);
    put("\r\n"sv);
  }
  if (zip) put(encoding);
  if (add_vary) put(vary_line);
  if (has_body) {
    put(length_name);
    put(length);
    put("\r\n"sv);
  }
  if (close) put(closing);
  if (keep_10) put(keeping);
  put("\r\n"sv);
  if (with_body) put(body);
  return close;
}

response plain(int status, std::string body) { return response{status, std::move(body)}; }

int status_for(const limit_error& e) noexcept {
  switch (e.limit()) {
    case limit_kind::request_line:
      return 414;
    case limit_kind::header_field:
    case limit_kind::header_block:
    case limit_kind::header_count:
      return 431;
    case limit_kind::body:
      return 413;
    default:
      return 400;
  }
}

// Thrown inside the loop to answer with a status and close.
struct reject {
  int status;
};

}  // namespace

namespace detail {

class server_connection {
 public:
  // The smallest free space a socket read into the input buffer gets.
  static constexpr std::size_t k_read = 16 * 1024;
  // Output bytes that may wait behind a pipelined request before they are written (loop()).
  static constexpr std::size_t k_out_high = 64 * 1024;

  server_connection(std::shared_ptr<server_state> st, net::tcp_stream s, conn_flags* flags)
      : st_(std::move(st)), s_(std::move(s)), flags_(flags) {}

  task<void> run() {
    span_ = coreio::detail::trace::current_trace_task();  // the connection task (trace/span.hpp)
    try {
      remote_ = s_.remote_endpoint().to_string();
    } catch (const std::exception&) {
    }
    s_.set_nodelay(true);
    if (st_->tls) {
      tls_ = std::make_unique<tls_stream>(st_->tls, net::stream(std::move(s_)));
      try {
        auto hs = tls_->accept();
        auto w = wait_until(std::move(hs), saturating_add(steady::now(), st_->opts.header_timeout));
        co_await std::move(w);
      } catch (const cancelled_error&) {
        throw;
      } catch (const std::exception&) {
        tls_->close();  // a failed or slow handshake: nothing to answer
        co_return;
      }
    }
    int status = 0;
    bool do_linger = false;
    try {
      co_await loop();
      do_linger = linger_;
    } catch (const reject& r) {
      status = r.status;
    } catch (const limit_error& e) {
      status = status_for(e);
    } catch (const detail::refused_request& e) {
      status = e.status();
    } catch (const http::error&) {
      status = 400;
    } catch (const cancelled_error&) {
      throw;
    } catch (const std::exception&) {
      close_transport();  // a socket error or reset: nothing more to say
      co_return;
    }
    if (status != 0) {
      response r = plain(status, std::string(reason_phrase(status)) + "\n");
      // A HEAD request's error gets its head only (RFC 9110 section 9.3.2), when its request
      // line was read before the error.
      const bool head_only = sx_->p.has_state() && sx_->p.request_is_head();
      append_response(sx_->out, r, *st_, head_only, true, false);
      do_linger = true;
    }
    try {
      co_await flush();
      if (do_linger) co_await linger();
    } catch (const cancelled_error&) {
      throw;
    } catch (const std::exception&) {
    }
    close_transport();
  }

  // ---- used by request and stream_response --------------------------------------------------

  // The next piece of the request body (the parser's protocol); empty at its end. Records the
  // status owed for an error in rs.body_error and rethrows.
  task<std::span<const std::byte>> read_body_piece(server_request_state& rs) {
    if (rs.body_done) co_return std::span<const std::byte>{};
    try {
      if (rs.continue_pending) {
        rs.continue_pending = false;
        sx_->out += "HTTP/1.1 100 Continue\r\n\r\n";  // read_more() flushes it before it reads
      }
      while (true) {
        if (!sx_->in.empty() || !rs.fed) {
          rs.fed = true;
          const parse_result r = sx_->p.feed(input());
          if (r.event == parse_event::body) {
            rs.chunk.assign(r.body.data(), r.body.size());
            sx_->in.consume(r.consumed);
            rs.fed = false;  // the end may come on an empty feed after the last body bytes
            co_return std::as_bytes(std::span<const char>(rs.chunk.data(), rs.chunk.size()));
          }
          sx_->in.consume(r.consumed);
          if (r.event == parse_event::end) {
            rs.body_done = true;
            co_return std::span<const std::byte>{};
          }
        }
        if (!co_await read_more(std::min(saturating_add(steady::now(), st_->opts.body_timeout),
                                         rs.request_deadline))) {
          if (sx_->p.finish().event == parse_event::end) {
            rs.body_done = true;
            co_return std::span<const std::byte>{};
          }
          throw http::error("http: request body cut short: the client closed the connection");
        }
      }
    } catch (const timeout_error&) {
      rs.body_done = true;
      rs.body_error = 408;
      throw;
    } catch (const limit_error& e) {
      rs.body_done = true;
      rs.body_error = status_for(e);
      throw;
    } catch (const http::error&) {
      rs.body_done = true;
      rs.body_error = 400;
      throw;
    } catch (...) {
      rs.body_done = true;
      rs.body_error = -1;
      throw;
    }
  }

  // The rest of the request body from the bytes already buffered, without reading the socket:
  // sets body_done if it ends there. A malformed rest leaves the parser dead and body_done clear
  // (the connection closes). Not after a 100 Continue still owed: the client withholds the body.
  void drain_buffered_body(server_request_state& rs) noexcept {
    if (rs.continue_pending) return;
    try {
      for (;;) {
        if (sx_->in.empty() && rs.fed) return;  // the rest would take a read
        rs.fed = true;
        const parse_result r = sx_->p.feed(input());
        sx_->in.consume(r.consumed);
        if (r.event == parse_event::end) {
          rs.body_done = true;
          return;
        }
        if (r.event != parse_event::body) return;
        rs.fed = false;
      }
    } catch (const std::exception&) {
    }
  }

  task<void> stream_prepare(server_request_state& rs, int status, const fields& fs) {
    if (rs.prepared) throw usage_error("http::stream_response::prepare: already prepared");
    if (status < 200) {
      throw usage_error("http::stream_response::prepare: " + std::to_string(status) +
                        " is an interim status, not a response");
    }
    // 205 Reset Content: a head with Content-Length: 0, writes discarded (RFC 9110 15.3.6).
    const bool has_body = status_has_body(status) && status != 205;
    std::optional<std::uint64_t> length;
    for (const auto& [name, value] : fs) {
      if (!iequals(name, "content-length")) continue;
      std::uint64_t n = 0;
      const std::string_view v = trim_ows(value);
      const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || v.empty() || (length && *length != n)) {
        throw usage_error("http::stream_response: malformed Content-Length '" + value + "'");
      }
      length = n;
    }
    const bool own_coding = has_field(fs, "content-encoding");
    const bool http10 = rs.head->version_major == 1 && rs.head->version_minor == 0;
    const bool may_zip = st_->opts.compress && has_body && !length && !own_coding;
    const bool zip = may_zip && accepts_gzip(rs.head->find("accept-encoding").value_or(""));
    rs.prepared = true;
    rs.head_only = !has_body || rs.head->method == "HEAD"sv;
    rs.length = has_body ? length : std::nullopt;
    if (status == 205) rs.length = 0;
    rs.chunked = has_body && !length && !http10;
    const handler_fields own = scan_handler_fields(fs);
    rs.close_after = must_close(rs) || (has_body && !length && http10) || own.close;
    if (zip) rs.gzip = std::make_unique<gzip_encoder>();
    // A 100 Continue still owed goes out before the final head, never after it (RFC 9110 section
    // 15.2: interim responses precede the final one): a stream_body handler may read the body
    // after prepare() (a streaming echo), and the client sends it only once asked. One that then
    // leaves it unread closes the connection, as any unread body to come does.
    if (rs.continue_pending) {
      rs.continue_pending = false;
      sx_->out += "HTTP/1.1 100 Continue\r\n\r\n";
    }
    append_status_lines(sx_->out, status, *st_, own);
    append_fields(sx_->out, fs, may_zip && !own.vary_covers_coding ? own.vary : nullptr);
    if (zip) sx_->out += "Content-Encoding: gzip\r\n";
    if (may_zip && own.vary == nullptr) sx_->out += "Vary: Accept-Encoding\r\n";
    if (rs.length) sx_->out += "Content-Length: " + std::to_string(*rs.length) + "\r\n";
    if (rs.chunked) sx_->out += "Transfer-Encoding: chunked\r\n";
    if (rs.close_after) sx_->out += "Connection: close\r\n";
    else if (http10) sx_->out += "Connection: keep-alive\r\n";  // as append_response says it
    sx_->out += "\r\n";
    try {
      co_await flush();
    } catch (...) {
      rs.broken = rs.send_failed = true;
      throw;
    }
  }

  task<void> stream_write(server_request_state& rs, std::span<const std::byte> data) {
    if (!rs.prepared) throw usage_error("http::stream_response::write before prepare()");
    if (rs.eof) throw usage_error("http::stream_response::write after write_eof()");
    if (rs.head_only || data.empty()) co_return;
    if (rs.length && rs.written + data.size() > *rs.length) {
      rs.broken = true;
      throw usage_error("http::stream_response::write: more than the Content-Length set (" +
                        std::to_string(*rs.length) + ")");
    }
    rs.written += data.size();
    std::string payload;
    if (rs.gzip) {
      rs.gzip->feed(data, payload, true);
      data = std::as_bytes(std::span<const char>(payload.data(), payload.size()));
    }
    co_await send_body(rs, data);
  }

  task<void> stream_eof(server_request_state& rs) {
    if (!rs.prepared) throw usage_error("http::stream_response::write_eof before prepare()");
    if (rs.eof) co_return;
    rs.eof = true;
    if (rs.head_only) co_return;
    if (rs.length && rs.written != *rs.length) {
      rs.broken = true;
      throw usage_error("http::stream_response::write_eof: " + std::to_string(rs.written) +
                        " bytes written, Content-Length says " + std::to_string(*rs.length));
    }
    std::string tail;
    if (rs.gzip) rs.gzip->finish(tail);
    std::string frame;
    if (rs.chunked) {
      if (!tail.empty()) append_chunk(frame, tail);
      frame += "0\r\n\r\n";
    } else {
      frame = std::move(tail);
    }
    if (frame.empty()) co_return;
    try {
      co_await send(frame);
    } catch (...) {
      rs.broken = rs.send_failed = true;
      throw;
    }
  }

 private:
  static void append_chunk(std::string& out, std::string_view data) {
    std::array<char, 20> hex{};
    const auto [p, ec] = std::to_chars(hex.data(), hex.data() + hex.size(), data.size(), 16);
    out.append(hex.data(), p);
    out += "\r\n";
    out += data;
    out += "\r\n";
  }

  task<void> send_body(server_request_state& rs, std::span<const std::byte> data) {
    if (data.empty()) co_return;
    try {
      if (rs.chunked) {
        std::string frame;
        frame.reserve(data.size() + 32);
        append_chunk(frame,
                     std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
        co_await send(frame);
      } else {
        co_await send(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
      }
    } catch (...) {
      rs.broken = rs.send_failed = true;
      throw;
    }
  }

  bool must_close(const server_request_state& rs) const noexcept {
    return !rs.head->keep_alive || served_ >= st_->opts.keepalive_requests ||
           st_->stopping.load(std::memory_order_acquire);
  }

  // Writes data to the peer (TLS or plain).
  task<void> send(std::string_view data) {
    st_->stats.add(server_counters::bytes_out, data.size());
    write_mark mark(flags_);
    if (tls_) {
      auto w = tls_->write_all(std::as_bytes(std::span<const char>(data.data(), data.size())));
      co_await std::move(w);
    } else {
      co_await s_.write_all(data);
    }
  }

  // Reads at least one byte into buf before `deadline` (max: none); 0 at end of stream.
  task<std::size_t> receive(std::span<char> buf, steady::time_point deadline) {
    if (tls_) {
      auto rd = tls_->read_some(std::as_writable_bytes(buf));
      if (deadline == steady::time_point::max()) co_return co_await std::move(rd);
      auto w = wait_until(std::move(rd), deadline);
      co_return co_await std::move(w);
    }
    co_return co_await read_by(buf, deadline);
  }

  // One socket read into buf, ending in timeout_error if it has to wait for bytes past `deadline`
  // (max: none). A deadline on the socket (net/stream.cpp, "Read deadlines"), not wait_until: no
  // timer armed and erased and no child task per read.
  net::stream::read_awaiter read_by(std::span<char> buf, steady::time_point deadline) {
    auto rd = s_.read_some(buf);
    if (deadline != steady::time_point::max()) {
      coreio::detail::stream_access::set_read_deadline(rd, deadline);
    }
    return rd;
  }

  // Waits until the socket may be readable (no buffer: stream_access::wait_readable), ending in
  // timeout_error if nothing came by `deadline`.
  net::stream::read_awaiter wait_readable(steady::time_point deadline) {
    auto rd = coreio::detail::stream_access::wait_readable(s_);
    if (deadline != steady::time_point::max()) {
      coreio::detail::stream_access::set_read_deadline(rd, deadline);
    }
    return rd;
  }

  void close_transport() noexcept {
    if (tls_) tls_->close();
    s_.close();
  }

  // Writes the output buffer and empties it, keeping its capacity for the next responses. A
  // failed write drops what it did not send (the connection closes).
  task<void> flush() {
    if (!sx_ || sx_->out.empty()) co_return;
    coreio::detail::trace::span_scope writing("http.server.write", span_);
    if (!tls_) {
      co_await write_out();  // no frame for send()
      co_return;
    }
    try {
      co_await send(sx_->out);
    } catch (...) {
      sx_->out.clear();
      throw;
    }
    sx_->out.clear();
  }

  // The plain-TCP write of a non-empty output buffer, as an awaiter (no frame), marked for the send
  // deadline while it is under way: the buffer is emptied when the write ends, whether it failed
  // or not.
  struct out_write {
    net::stream::write_awaiter write;
    std::string& out;
    conn_flags* flags;
    bool await_ready() { return write.await_ready(); }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      // Before the write starts: once it is queued, this awaiter may already be resumed elsewhere.
      flags->write_since.store(1, std::memory_order_relaxed);  // conn_flags: relaxed
      return write.await_suspend(h);
    }
    void await_resume() {
      flags->write_since.store(0, std::memory_order_relaxed);
      struct clear_at_end {
        std::string& out;
        ~clear_at_end() { out.clear(); }
      } clear{out};
      write.await_resume();
    }
  };
  out_write write_out() {
    st_->stats.add(server_counters::bytes_out, sx_->out.size());
    return out_write{s_.write_all(sx_->out), sx_->out, flags_};
  }

  // A write of response bytes under way (send()), for the send deadline.
  struct write_mark {
    conn_flags* flags;
    explicit write_mark(conn_flags* f) noexcept : flags(f) {
      flags->write_since.store(1, std::memory_order_relaxed);  // conn_flags: relaxed
    }
    write_mark(const write_mark&) = delete;
    write_mark& operator=(const write_mark&) = delete;
    ~write_mark() { flags->write_since.store(0, std::memory_order_relaxed); }
  };

  // Lingering close (RFC 9112 section 9.6), after every response the server closes on (an error,
  // Connection: close, keepalive_requests, a stop, HTTP/1.0): stop sending, then discard what the
  // peer still sends until it closes or for a short while. A socket closed with unread bytes in
  // its receive queue (a body left unread, requests pipelined behind the last one answered), or
  // that receives some after its close, is reset, and the reset makes the peer's kernel discard
  // the responses it has not read yet, the last one and those before it.
  task<void> linger() {
    if (tls_) {
      co_await tls_->shutdown();
    } else {
      s_.shutdown_write();
    }
    const auto until = steady::now() + std::chrono::milliseconds(500);
    std::array<char, 4096> junk{};
    try {
      while (co_await receive(std::span<char>(junk), until) != 0) {
      }
    } catch (const cancelled_error&) {
      throw;
    } catch (const std::exception&) {
    }
  }

  // The unconsumed input.
  std::span<const char> input() const noexcept {
    const std::string_view v = sx_->in.view();
    return {v.data(), v.size()};
  }

  // Free space at the end of the input buffer for one socket read (at least k_read bytes).
  std::span<char> input_room() {
    const std::span<std::byte> room = sx_->in.prepare(k_read);
    return {reinterpret_cast<char*>(room.data()), room.size()};
  }

  // Reads more bytes into the input buffer (flushing pending output first). Returns false at end
  // of stream.
  task<bool> read_more(steady::time_point deadline) {
    co_await flush();
    std::size_t n = 0;
    if (tls_) {
      n = co_await receive(input_room(), deadline);
    } else {
      n = co_await read_by(input_room(), deadline);  // no frame for receive()
    }
    if (n == 0) co_return false;
    st_->stats.add(server_counters::bytes_in, n);
    sx_->in.commit(n);
    co_return true;
  }

  // A request whose head announced no body: feeds the parser what is buffered (an empty feed
  // ends such a message) and marks the body done if the message ended. False: it did not end (the
  // parser wants more bytes, which read_body_piece reads).
  bool end_without_body(server_request_state& rs) {
    rs.fed = true;
    const parse_result r = sx_->p.feed(input());
    if (r.event == parse_event::body) {  // not announced, but read_body_piece's loop takes it so
      rs.body.append(r.body.data(), r.body.size());
      rs.fed = false;
    }
    sx_->in.consume(r.consumed);
    if (r.event != parse_event::end) return false;
    rs.body_done = true;
    return true;
  }

  task<void> loop();
  task<bool> serve_request();
  const route_entry* match(server_request_state& rs, std::string& allow) const;
  task<response> call_handler(const route_entry& rt, server_request_state& rs);
  static response handler_outcome(server_request_state& rs, std::optional<response>& r,
                                  const std::exception_ptr& failure);
  task<response> run_handler(const route_entry& rt, server_request_state& rs);
  task<void> watch_peer(join_handle<response>& handler);

  void check_codings(const message_head& h) const {
    for (const auto& f : h.headers) {
      if (!iequals(f.first, "transfer-encoding")) continue;
      std::string_view v = f.second;
      while (!v.empty()) {
        const std::size_t comma = std::min(v.find(','), v.size());
        const std::string_view item = trim_ows(v.substr(0, comma));
        if (!item.empty() && !iequals(item, "chunked")) throw reject{501};
        v.remove_prefix(std::min(comma + 1, v.size()));
      }
    }
  }

  std::shared_ptr<server_state> st_;
  net::tcp_stream s_;
  // The TLS layer over s_'s socket when the server has a certificate (s_ is then moved-from).
  std::unique_ptr<tls_stream> tls_;
  conn_flags* flags_;
  // The parser, the input buffer (the socket reads go straight into its free space: no
  // intermediate buffer, nothing zeroed per read) and the output buffer. Null while a plain-TCP
  // connection waits for its next request: lent back to the worker (scratch_pool.hpp).
  scratch_ptr sx_;
  std::string peeked_;  // what watch_peer read while a handler ran
  std::string remote_;
  std::size_t served_ = 0;
  std::uint64_t span_ = 0;  // the tracer's id of this connection's spans (0: not tracing)
  bool linger_ = false;     // close with a lingering read (linger())
};

task<void> server_connection::loop() {
  const auto& o = st_->opts;
  while (true) {
    // The keep-alive wait for the first byte of the next request (the phase protocol in the file
    // comment), in the loop's own frame. Closes at end of stream, at the idle deadline, or on
    // stop().
    if (!sx_ || sx_->in.empty()) {
      // Nothing unwritten while idle: a cancel cannot cut a response. (Over plain TCP,
      // serve_request has mostly written it.)
      if (sx_ && !sx_->out.empty()) co_await flush();
      // seq_cst: the store-then-load pairs with stop()'s (Dekker; the file comment, step 1).
      flags_->phase.store(phase_idle, std::memory_order_seq_cst);
      if (st_->stopping.load(std::memory_order_seq_cst)) co_return;
      const auto idle_deadline = saturating_add(steady::now(), o.keepalive_timeout);
      std::size_t n = 0;
      try {
        if (tls_) {
          if (!sx_) sx_ = st_->scratch->take();
          n = co_await receive(input_room(), idle_deadline);
        } else {
          // The scratch goes back to the worker while the connection waits (scratch_pool.hpp),
          // and is taken when the next request's bytes are there, from the worker that reads them.
          if (sx_) st_->scratch->give(sx_);
          co_await wait_readable(idle_deadline);
          sx_ = st_->scratch->take();
          const std::span<char> room = input_room();
          const std::optional<std::size_t> got =
              coreio::detail::stream_access::try_read_now(s_, std::as_writable_bytes(room));
          if (got) {
            n = *got;
          } else {
            n = co_await read_by(room, idle_deadline);  // no receive() frame
          }
        }
      } catch (const timeout_error&) {
        co_return;
      }
      int expected = phase_idle;
      // seq_cst: orders against stop()'s CAS on the same word (step 3).
      if (!flags_->phase.compare_exchange_strong(expected, phase_busy, std::memory_order_seq_cst)) {
        co_return;
      }
      if (n == 0) co_return;
      st_->stats.add(server_counters::bytes_in, n);
      sx_->in.commit(n);
    }
    if (!co_await serve_request()) co_return;
    // Pipelined requests still buffered: their responses are appended behind this one and go out
    // in one write when the input runs dry; but no more than k_out_high bytes wait so, so that a
    // client that sends requests and reads no response is held back by its own socket (a write
    // that blocks) rather than making the server build every response it asked for (aiohttp's
    // transport has the same 64 KiB high-water mark before it awaits drain()).
    if (sx_ && !sx_->in.empty() && sx_->out.size() >= k_out_high) co_await flush();
  }
}

// One request, its first bytes read: the head, the body, the handler, the response appended to
// the output buffer. False: the connection closes (end of stream, a failed body socket, a
// response that closes it). Its own frame rather than the loop's: the loop's frame lives as long
// as the connection, and with many connections the lines it last touched a request ago have left
// the cache; this frame comes from the worker's frame cache, which the previous request of any
// connection has just used.
task<bool> server_connection::serve_request() {
  const auto& o = st_->opts;
  const auto begun = steady::now();
  const auto head_deadline = o.request_timeout.count() > 0
                                 ? std::min(saturating_add(begun, o.header_timeout),
                                            saturating_add(begun, o.request_timeout))
                                 : saturating_add(begun, o.header_timeout);
  bool waited = false;  // the head took a read: its end is a later time than `begun`
  coreio::detail::trace::span_scope reading("http.server.read_head",
                                            span_);  // tracer: HTTP phase
  while (true) {
    if (!sx_->in.empty()) {
      const parse_result r = sx_->p.feed(input());
      sx_->in.consume(r.consumed);
      if (r.event == parse_event::head) break;
    }
    waited = true;
    try {
      if (!co_await read_more(head_deadline)) co_return false;
    } catch (const timeout_error&) {
      throw reject{408};
    }
  }
  reading.end();
  ++served_;
  st_->stats.add(server_counters::requests);
  // The duration counts from the head's end (one clock read a request when the head was there).
  const std::uint64_t started =
      waited ? coreio::detail::monotonic_ns()
             : static_cast<std::uint64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(begun.time_since_epoch())
                       .count());
  server_request_state rs;
  rs.conn = this;
  rs.head = &sx_->p.head();
  if (o.request_timeout.count() > 0) rs.request_deadline = saturating_add(begun, o.request_timeout);
  rs.remote = &remote_;
  // llhttp parses HTTP/0.9 and 2.0 request lines too; this server speaks 1.0 and 1.1 (RFC 9110
  // section 15.6.6).
  if (rs.head->version_major != 1) throw reject{505};
  // CONNECT asks for a tunnel, which this server does not make: llhttp takes every byte after its
  // head as tunnel data, so a body the client framed would otherwise be parsed as the next request
  // (a smuggling vector). Refused before anything more is read, and the connection closed.
  if (rs.head->method == "CONNECT"sv) throw reject{501};
  check_codings(*rs.head);
  // An expectation other than 100-continue cannot be met (RFC 9110 section 10.1.1); HTTP/1.0
  // requests' expectations are ignored (the parser leaves expect_other clear for them).
  if (rs.head->expect_other) throw reject{417};
  const bool is_head = rs.head->method == "HEAD"sv;
  const bool has_body = rs.head->chunked || rs.head->content_length.value_or(0) > 0;
  if (rs.head->content_length && *rs.head->content_length > o.max_body) throw reject{413};

  std::string allow;
  const route_entry* rt = match(rs, allow);
  // A body the client holds back for a 100 Continue is asked for only when a handler will take
  // it; a 404 or 405 is the final answer at once, the body unread (the connection then closes).
  const bool withheld = rs.head->expect_continue && sx_->in.empty() && has_body;
  rs.continue_pending = withheld && rt != nullptr;
  rs.stream_body = rt != nullptr && rt->opts.stream_body;
  // A request without a body ends with its head: no read_body_piece (and no frame) for it.
  const bool ended = !rs.stream_body && !has_body && end_without_body(rs);
  if (!rs.stream_body && !ended && !(withheld && rt == nullptr)) {
    try {
      while (true) {
        auto piece = co_await read_body_piece(rs);
        if (piece.empty()) break;
        rs.body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
      }
    } catch (const timeout_error&) {
      throw reject{408};
    }
  }

  // ---- dispatch ----
  std::optional<response> res;
  if (rt == nullptr) {
    if (rs.head->target == "*"sv) {
      res.emplace(200);  // OPTIONS *: what the server routes, no body
      res->set_header("Allow", allow);
    } else if (allow.empty()) {
      res.emplace(plain(404, "Not Found\n"));
    } else {
      res.emplace(plain(405, "Method Not Allowed\n"));
      res->set_header("Allow", allow);
    }
  } else if (!o.handler_cancellation || !rs.body_done) {
    // call_handler's steps, in this frame (one frame less a request).
    coreio::detail::trace::span_scope handling("http.server.handler", span_);
    request req;
    server_request_state::attach(req, &rs);
    std::optional<response> r;
    std::exception_ptr failure;
    try {
      task<response> t = rt->h(req);  // own statement: g++ 12 and co_await temporaries
      r.emplace(co_await std::move(t));
    } catch (const cancelled_error&) {
      throw;
    } catch (...) {
      failure = std::current_exception();
    }
    res.emplace(handler_outcome(rs, r, failure));
  } else {
    coreio::detail::trace::span_scope handling("http.server.handler", span_);
    task<response> t = run_handler(*rt, rs);
    res.emplace(co_await std::move(t));
  }
  if (rs.body_error == -1) co_return false;  // the body's socket failed: nothing more to say
  if (rs.prepared) {
    if (!rs.broken && !rs.eof) {
      try {
        co_await stream_eof(rs);
      } catch (const cancelled_error&) {
        throw;
      } catch (const std::exception&) {
      }
    }
    st_->stats.duration(coreio::detail::monotonic_ns() - started);
    if (rs.broken) co_return false;
    if (rs.close_after) {
      linger_ = true;  // the client may have sent more: see linger()
      co_return false;
    }
    // A stream_body handler that left its body unread, as below: the rest, if already buffered,
    // is taken, and the connection kept (its head, long gone, did not say it closes).
    if (!rs.body_done) drain_buffered_body(rs);
  } else {
    if (rs.body_error != 0) throw reject{rs.body_error};
    // A stream_body handler that left its body unread: the rest, if already buffered, is taken
    // so that the connection is kept (aiohttp drains it too); else the connection closes.
    if (!rs.body_done) drain_buffered_body(rs);
    // After the handler: a stop() that came while it ran closes the connection too.
    const bool gzip_ok = o.compress && accepts_gzip(rs.head->find("accept-encoding").value_or(""));
    const bool close =
        append_response(sx_->out, *res, *st_, is_head, must_close(rs) || !rs.body_done, gzip_ok,
                        rs.head->version_minor == 0);
    st_->stats.duration(coreio::detail::monotonic_ns() - started);
    if (close) {
      linger_ = true;  // the client may have sent more: see linger()
      co_return false;
    }
  }
  if (!rs.body_done) {
    linger_ = true;
    co_return false;
  }
  sx_->p.reset();
  // The responses appended so far go out when no pipelined request is buffered behind this one
  // (else with the next one's). Over plain TCP the write is awaited here, in this frame, which
  // the worker's frame cache keeps warm, rather than in the loop's: at 1,000 connections the
  // loop's frame is cold, and the awaiter written there cost about 3 cache misses a request more
  // than a flush() frame (cachegrind, 1 MiB LL modelled).
  if (!tls_ && sx_->in.empty() && !sx_->out.empty()) {
    coreio::detail::trace::span_scope writing("http.server.write", span_);
    co_await write_out();
  }
  co_return true;
}

const route_entry* server_connection::match(server_request_state& rs, std::string& allow) const {
  std::string_view target = rs.head->target;
  // The asterisk form asks about the server as a whole, and only OPTIONS has it (RFC 9112 section
  // 3.2.4): no route; `allow` gets every method the server routes, and the caller answers 200.
  if (target == "*"sv) {
    if (rs.head->method != "OPTIONS"sv) throw reject{400};
    for (const auto& rt : st_->routes) add_allowed(allow, rt.method);
    rs.path = "*";
    return nullptr;
  }
  // A fragment is never part of a request target (RFC 9112 section 3.2): one a client sent anyway
  // is dropped, as aiohttp drops it, rather than made part of the path.
  target = target.substr(0, target.find('#'));
  const std::size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  // The absolute form ("http://host/path", RFC 9112 section 3.2.2, which a server must accept):
  // routed by its path.
  if (raw_path.empty() || raw_path.front() != '/') raw_path = path_of_absolute_form(raw_path);
  // Neither form (a bare name, an authority without CONNECT, another scheme): no resource of this
  // server, and not a request line RFC 9112 section 3.2 allows.
  if (raw_path.empty() || raw_path.front() != '/') throw reject{400};
  const bool encoded = raw_path.find('%') != std::string_view::npos;
  if (!encoded) {
    rs.path = raw_path;
  } else {
    rs.decoded_path = percent_decode(raw_path, false);
    rs.path = rs.decoded_path;
  }
  if (q != std::string::npos) rs.query = std::string(target.substr(q + 1));
  // The path's segments as split_path() makes them, walked in place (no vector per request), over
  // the path as sent: an encoded slash (%2F) is data inside its segment, not a separator; each
  // segment is decoded on its own. A path without escapes matches a pattern without captures
  // when it is that pattern's path (route_entry::literal): one comparison, no walk.
  std::string_view rest = raw_path;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  std::size_t n_segs = 0;  // counted at the first pattern walked
  for (const auto& rt : st_->routes) {
    std::vector<std::pair<std::string, std::string>> caps;
    bool ok = true;
    if (!encoded && !rt.literal.empty()) {
      ok = rt.literal == raw_path;
    } else {
      if (n_segs == 0) {
        n_segs = 1 + static_cast<std::size_t>(std::count(rest.begin(), rest.end(), '/'));
      }
      ok = rt.segments.size() == n_segs;
      std::string_view left = rest;
      for (std::size_t i = 0; i < n_segs && ok; ++i) {
        const std::size_t end = std::min(left.find('/'), left.size());
        std::string_view seg = left.substr(0, end);
        left.remove_prefix(std::min(end + 1, left.size()));
        std::string decoded;
        if (encoded && seg.find('%') != std::string_view::npos) {
          decoded = percent_decode(seg, false);
          seg = decoded;
        }
        const std::string& p = rt.segments[i];
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
          if (seg.empty()) ok = false;
          else caps.emplace_back(p.substr(1, p.size() - 2), std::string(seg));
        } else if (p != seg) {
          ok = false;
        }
      }
    }
    if (!ok) continue;
    const bool method_ok =
        rt.method == rs.head->method || (rs.head->method == "HEAD"sv && rt.method == "GET"sv);
    if (method_ok) {
      rs.captures = std::move(caps);
      return &rt;
    }
    add_allowed(allow, rt.method);
  }
  return nullptr;
}

// The handler as a task of its own (run_handler spawns it), its outcome through handler_outcome.
// serve_request awaits the handler in its own frame, the same way, without this one.
task<response> server_connection::call_handler(const route_entry& rt, server_request_state& rs) {
  request req;
  server_request_state::attach(req, &rs);
  std::optional<response> r;
  std::exception_ptr failure;
  try {
    task<response> t = rt.h(req);  // own statement: g++ 12 and co_await temporaries
    r.emplace(co_await std::move(t));
  } catch (const cancelled_error&) {
    throw;
  } catch (...) {
    failure = std::current_exception();
  }
  co_return handler_outcome(rs, r, failure);
}

// What a handler's run answers: its response; or 500 for an exception or an interim status (or,
// after a stream's head went out, a broken stream: the connection closes with the body
// unterminated).
response server_connection::handler_outcome(server_request_state& rs, std::optional<response>& r,
                                            const std::exception_ptr& failure) {
  if (!failure) {
    // A 1xx is interim (RFC 9110 section 15.2): as the answer, the client would wait on for the
    // final one, and take the next response for it. A handler error, answered 500.
    if (r->status() >= 200) return std::move(*r);
    coreio::log(log_level::error, "http server: the handler for " + rs.head->method + " " +
                                      std::string(rs.path) + " returned " +
                                      std::to_string(r->status()) +
                                      ", an interim status, as its response");
  } else {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      // Logged unless the request's own socket failed under the handler (a body read, or a write
      // of a streamed response to a client that went away): a handler's error, before or after
      // its prepare(), is a bug to see (aiohttp logs "Error handling request" in both).
      if (rs.body_error == 0 && !rs.send_failed) {
        coreio::log(log_level::error, "http server: the handler for " + rs.head->method + " " +
                                          std::string(rs.path) + " threw: " + e.what());
      }
    } catch (...) {
      coreio::log(log_level::error, "http server: the handler for " + rs.head->method + " " +
                                        std::string(rs.path) + " threw");
    }
  }
  if (rs.prepared) rs.broken = true;
  return plain(500, "Internal Server Error\n");
}

// Runs the handler under watch_peer (handler_cancellation, the body read).
task<response> server_connection::run_handler(const route_entry& rt, server_request_state& rs) {
  join_handle<response> h = spawn_server_task(call_handler(rt, rs), server_task::handler);
  join_handle<void> watcher = spawn_server_task(watch_peer(h), server_task::watch_peer);
  std::optional<response> res;
  std::exception_ptr failure;
  try {
    res.emplace(co_await h);
  } catch (...) {
    failure = std::current_exception();
  }
  watcher.cancel();
  try {
    co_await watcher;
  } catch (...) {
  }
  if (!peeked_.empty()) {
    const std::span<std::byte> room = sx_->in.prepare(peeked_.size());
    std::memcpy(room.data(), peeked_.data(), peeked_.size());
    sx_->in.commit(peeked_.size());
    peeked_.clear();
  }
  if (failure) {
    // Cancelled because the peer left (or the drain cancelled this connection): close.
    rs.body_error = -1;
    co_return response{};
  }
  co_return std::move(*res);
}

// Reads the socket while a handler runs; end of stream or a socket error cancels the handler.
// Stops watching (without cancelling) once 64 KiB of pipelined bytes are waiting.
task<void> server_connection::watch_peer(join_handle<response>& handler) {
  std::array<char, 4096> buf{};
  try {
    while (peeked_.size() < 64 * 1024) {
      const std::size_t n = co_await receive(std::span<char>(buf), steady::time_point::max());
      if (n == 0) break;
      st_->stats.add(server_counters::bytes_in, n);
      peeked_.append(buf.data(), n);
    }
    if (peeked_.size() >= 64 * 1024) co_return;
  } catch (const cancelled_error&) {
    throw;  // the handler finished first
  } catch (const std::exception&) {
  }
  handler.cancel();
}

}  // namespace detail

namespace detail {

task<void> run_connection(std::shared_ptr<server_state> st, net::tcp_stream s, conn_flags* flags) {
  st->stats.add(server_counters::accepted);
  st->socket_opened();
  // Declared before c, so destroyed after it: "closed" is counted once the socket's descriptor is
  // closed (a probe for tests and scrapers: connections_open == 0 means no descriptor is left;
  // serve() waits for it, server_state::sockets_closed).
  // c's destruction posts the socket's deletion to its owner's loop (net/sockets.hpp,
  // destroy_on_owner), even on the owner; the count is posted after it, and the loop runs posts in
  // order. It holds its own reference to the state, which c's destruction may otherwise release.
  struct closed_guard {
    std::shared_ptr<server_state> st;
    coreio::detail::worker* owner;
    ~closed_guard() {
      try {
        owner->post([st = st] {
          st->stats.add(server_counters::closed);
          st->socket_closed();
        });
      } catch (...) {
        st->stats.add(server_counters::closed);  // out of memory: counted now, a moment early
        st->socket_closed();
      }
    }
  } closed{st, coreio::detail::stream_access::owner(s)};
  server_connection c(std::move(st), std::move(s), flags);
  task<void> t = c.run();
  co_await std::move(t);
}

task<std::span<const std::byte>> read_body_piece(server_request_state& rs) {
  return rs.conn->read_body_piece(rs);
}

task<void> stream_prepare(server_request_state& rs, int status, const fields& fs) {
  return rs.conn->stream_prepare(rs, status, fs);
}

task<void> stream_write(server_request_state& rs, std::span<const std::byte> data) {
  return rs.conn->stream_write(rs, data);
}

task<void> stream_eof(server_request_state& rs) { return rs.conn->stream_eof(rs); }

}  // namespace detail
}  // namespace coreio::http
