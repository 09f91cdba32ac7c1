// src/http/response.cpp — http::response (response.hpp) and the body reader of a received one
// (client_core.hpp).
#include <coreio/http/response.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include <coreio/errors.hpp>

#include "http/charset.hpp"
#include "http/client_core.hpp"
#include "http/request_body.hpp"
#include "http/text.hpp"

namespace coreio::http {

using detail::iequals;

namespace detail {

namespace {

// The calling thread's kept states (a worker's responses are made and dropped on workers, mostly
// the same one): at most k_kept_response_states, each with the body capacity it had up to
// k_kept_body. A fixed array and a count, and a flag its destructor sets: a response dropped by
// another thread_local's destructor after this one's is deleted, not kept.
constexpr std::size_t k_kept_body = 64 * 1024;
struct kept_states {
  std::unique_ptr<response_state> at[k_kept_response_states];
  std::size_t n = 0;
  bool ended = false;
  ~kept_states() {
    ended = true;
    for (std::size_t i = 0; i < n; ++i) at[i].reset();
    n = 0;
  }
};
thread_local kept_states t_kept;

}  // namespace

std::unique_ptr<response_state> make_response_state() {
  kept_states& k = t_kept;
  if (k.n == 0) return std::make_unique<response_state>();
  return std::move(k.at[--k.n]);
}

void swap_in_fields(response_state& s, fields& parsed) noexcept {
  s.headers.swap(parsed);       // the response's fields: the head's, no copy
  parsed.swap(s.spare_fields);  // the parser's: the strings the state kept (or none)
}

void recycle_response_state(std::unique_ptr<response_state> s) noexcept {
  // First, as a destroyed state did: the connection goes back or closes; earlier responses of a
  // redirect chain are recycled in turn.
  s->reader.reset();
  s->history.clear();
  kept_states& k = t_kept;
  if (k.ended || k.n == k_kept_response_states) return;  // s deleted
  s->status = 200;
  s->reason.clear();
  s->version = 11;
  s->noted = 0;
  s->url.reset();
  s->body_given = false;
  if (s->body.capacity() > k_kept_body) {
    std::string().swap(s->body);
  } else {
    s->body.clear();
  }
  // The fields' strings stay, as spares for the next received head; the fields are cleared.
  if (s->spare_fields.empty()) s->spare_fields.swap(s->headers);
  s->headers.clear();
  k.at[k.n++] = std::move(s);
}

}  // namespace detail

// IANA's "HTTP Status Code Registry" (RFC 9110 section 16.2.1): RFC 9110's codes and those of RFCs
// 2518, 3229, 4918, 5842, 6585, 7725, 8297 and 8470. 306 and 418 are registered as unused, 510 as
// obsolete: they have none.
std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 207:
      return "Multi-Status";
    case 208:
      return "Already Reported";
    case 226:
      return "IM Used";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 423:
      return "Locked";
    case 424:
      return "Failed Dependency";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 506:
      return "Variant Also Negotiates";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 511:
      return "Network Authentication Required";
    default:
      return "";
  }
}

response::response() : response(200) {}

response::response(int status) {
  if (status < 100 || status > 999) {
    throw usage_error("http::response: status " + std::to_string(status) +
                      " is not a three-digit code");
  }
  s_ = detail::make_response_state();
  s_->status = status;
  s_->reason.assign(reason_phrase(status));
}

response::response(int status, std::string body) : response(status) {
  s_->body = std::move(body);
  // A status that has no content (1xx, 204, 205, 304: RFC 9110 section 15) gets no Content-Type:
  // a 304 that named one would describe the cached representation as plain text (section
  // 15.4.5).
  const bool has_content = status >= 200 && status != 204 && status != 205 && status != 304;
  if (has_content) s_->headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
}

response::response(std::unique_ptr<detail::response_state> s) noexcept : s_(std::move(s)) {}
response::response(response&&) noexcept = default;
response& response::operator=(response&&) noexcept = default;
response::~response() {
  if (s_) detail::recycle_response_state(std::move(s_));
}

int response::status() const noexcept { return s_ ? s_->status : 0; }
std::string_view response::reason() const noexcept {
  return s_ ? std::string_view(s_->reason) : std::string_view{};
}
int response::version() const noexcept { return s_ ? s_->version : 11; }

std::optional<std::string_view> response::header(std::string_view name) const noexcept {
  if (!s_) return std::nullopt;
  for (const auto& [n, v] : s_->headers)
    if (iequals(n, name)) return std::string_view(v);
  return std::nullopt;
}

const fields& response::headers() const noexcept {
  static const fields none;
  return s_ ? s_->headers : none;
}

void response::set_header(std::string_view name, std::string_view value) {
  detail::check_field(name, value);
  std::erase_if(s_->headers, [&](const auto& f) { return iequals(f.first, name); });
  s_->headers.emplace_back(std::string(name), std::string(value));
}

void response::add_header(std::string_view name, std::string_view value) {
  // Content-Type has one value (RFC 9110 section 8.3): adding one replaces the constructor's
  // default (or an earlier one) rather than sending two.
  if (iequals(name, "content-type")) {
    set_header(name, value);
    return;
  }
  detail::check_field(name, value);
  s_->headers.emplace_back(std::string(name), std::string(value));
}

const std::string& response::url() const noexcept {
  static const std::string none;
  return s_ && s_->url ? *s_->url : none;
}

const std::vector<response>& response::history() const noexcept {
  static const std::vector<response> none;
  return s_ ? s_->history : none;
}

std::string_view response::body() const noexcept {
  return s_ ? std::string_view(s_->body) : std::string_view{};
}

void response::set_body(std::string body) { s_->body = std::move(body); }

task<std::span<const std::byte>> response::read_chunk() {
  if (!s_) co_return std::span<const std::byte>{};
  if (s_->reader) co_return co_await s_->reader->next();
  if (s_->body_given || s_->body.empty()) co_return std::span<const std::byte>{};
  s_->body_given = true;
  co_return std::as_bytes(std::span<const char>(s_->body.data(), s_->body.size()));
}

task<std::string> response::read() {
  if (!s_) co_return std::string{};
  if (!s_->reader) {
    s_->body_given = true;
    co_return s_->body;
  }
  // The body's pieces taken in this frame (body_reader::step), a task only for a read: a body that
  // came with the head costs no task.
  detail::body_reader& rd = *s_->reader;
  // Already at its end: what an earlier read() or text() collected (aiohttp's read() returns its
  // body again), unless close() cut it short.
  if (rd.done) {
    rd.check_not_cut_short();
    co_return s_->body;
  }
  std::string all;
  try {
    for (;;) {
      const std::optional<std::span<const std::byte>> piece = rd.step();
      if (!piece) {
        rd.after_read(co_await rd.read_more());
        continue;
      }
      if (piece->empty()) break;
      all.append(reinterpret_cast<const char*>(piece->data()), piece->size());
    }
  } catch (...) {
    rd.rethrow_failure();
  }
  s_->body = all;
  co_return all;
}

task<std::string> response::text() {
  std::string bytes = co_await read();
  co_return detail::decode_text(std::move(bytes),
                                detail::charset_of(header("content-type").value_or("")));
}

void response::close() noexcept {
  if (s_ && s_->reader) s_->reader->close();
}

void response::raise_for_status() const {
  if (status() >= 400) throw status_error(status(), std::string(reason()));
}

namespace detail {

body_reader::~body_reader() { abandon(); }

void body_reader::end_ok() noexcept {
  done = true;
  if (!conn) return;
  if (held) {
    owner->unhold(conn.get());
    held = false;
  }
  if (keep_alive && conn->pending().empty() && keep_for.count() > 0) {
    conn->idle_deadline =
        coreio::detail::saturating_add(std::chrono::steady_clock::now(), keep_for);
    owner->put_back(std::move(conn));
  } else {
    owner->discard(std::move(conn));
  }
}

void body_reader::close() noexcept {
  if (!done) {
    try {
      cut_short = std::make_exception_ptr(
          error("http: the response was closed (response::close()) before the end of its body"));
    } catch (...) {  // no memory for the error: the read after it will say bad_alloc instead
      cut_short = std::current_exception();
    }
  }
  fail();
}

void body_reader::check_not_cut_short() const {
  if (cut_short) std::rethrow_exception(cut_short);
}

void body_reader::fail() noexcept {
  done = true;
  if (!conn) return;
  if (held) {
    owner->unhold(conn.get());
    held = false;
  }
  owner->discard(std::move(conn));
}

void body_reader::abandon() noexcept {
  if (done || !conn) return;
  // What is already buffered may hold the rest of the body: then the connection is still good.
  try {
    for (;;) {
      const auto pend = conn->pending();
      if (pend.empty() && !kick) break;
      const parse_result r = conn->response_parser.feed(pend);
      conn->consume(r.consumed);
      kick = r.event == parse_event::body;
      if (r.event == parse_event::end) {
        end_ok();
        return;
      }
      if (r.event == parse_event::need_more || r.event == parse_event::head) break;
    }
  } catch (...) {
  }
  fail();
}

task<std::span<const std::byte>> body_reader::next() {
  if (done) {
    check_not_cut_short();
    co_return std::span<const std::byte>{};
  }
  try {
    for (;;) {
      if (const auto piece = step()) co_return *piece;
      after_read(co_await read_more());
    }
  } catch (...) {
    rethrow_failure();
  }
}

void body_reader::rethrow_failure() {
  std::exception_ptr failure = std::current_exception();
  bool cancelled = false;
  try {
    throw;
  } catch (const phase_timeout_error& e) {
    counters->add(client_counters::timeout_in(e.which()));
  } catch (const coreio::cancelled_error&) {
    cancelled = true;
  } catch (...) {
  }
  fail();
  if (owner->closing() && !cancelled) {
    failure = std::make_exception_ptr(error("http: the client was closed"));
  }
  // A later read (perhaps by a task that is not cancelled) learns the body was cut short.
  cut_short = cancelled ? std::make_exception_ptr(error(
                              "http: an earlier read of this body was cancelled; the rest is lost"))
                        : failure;
  std::rethrow_exception(failure);
}

read_within body_reader::read_more() {
  if (!held) {
    owner->hold(conn.get());
    held = true;
  }
  const limit gap = sock_read ? phase_limit(phase::sock_read, sock_read, clock::now()) : limit{};
  return read_within(*conn, earliest(total, gap), "reading the body");
}

void body_reader::after_read(std::size_t n) {
  if (n != 0) return;
  const parse_result r = conn->response_parser.finish();
  if (r.event != parse_event::end)
    throw error("http: the connection closed before the end of the body");
  keep_alive = false;
  ended = true;
}

std::optional<std::span<const std::byte>> body_reader::step() {
  auto bytes_of = [](std::string_view s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
  };
  for (;;) {
    if (flushed) {
      end_ok();
      return std::span<const std::byte>{};
    }
    // What the decoder holds comes out, a piece at a time, before more of the body is fed to it.
    if (decoder && decoder->holding()) {
      out.clear();
      decoder->feed({}, out);
      if (!out.empty()) return bytes_of(out);
      continue;  // it held nothing more after all (each call makes progress)
    }
    if (ended) {  // the parser's end event, or the connection's end where after_read allowed it
      if (decoder) {
        out.clear();
        decoder->finish(out);
        flushed = true;
        if (!out.empty()) return bytes_of(out);
        continue;
      }
      end_ok();
      return std::span<const std::byte>{};
    }
    const auto pend = conn->pending();
    // After the head or a body event the parser may end the message without another byte (the
    // last body byte, a zero Content-Length): feed it once more, even with nothing.
    if (pend.empty() && !kick) return std::nullopt;  // need_more: all consumed; read on
    const parse_result r = conn->response_parser.feed(pend);
    conn->consume(r.consumed);
    kick = r.event == parse_event::body;
    if (r.event == parse_event::body) {
      if (r.body.empty()) continue;
      if (!decoder) return std::as_bytes(r.body);
      out.clear();
      decoder->feed(std::as_bytes(r.body), out);
      if (out.empty()) continue;
      return bytes_of(out);
    }
    if (r.event == parse_event::end) {
      ended = true;
      continue;
    }
    if (r.event == parse_event::head) throw error("http: a second response head inside a body");
  }
}

}  // namespace detail

}  // namespace coreio::http
