// src/http/parser.cpp — HTTP/1.1 framing over llhttp (strict), pull-style (see parser.hpp).
//
// Two layers look at every message:
//
//   1. head_scan, coreio's own, runs over the raw bytes of the head before llhttp sees them and
//      rejects what llhttp lets through even in strict mode, or what it cannot bound: bare CR, bare
//      LF, obs-fold (a header line starting with SP or HT) in a request, before the first field or
//      in trailers (a response's other folds are taken, each as its whitespace in spaces: RFC 9112
//      section 5.2), an empty field name, whitespace in a field name or before the colon, control
//      characters in values, and every head limit (start line, one header line, the whole head,
//      the count of fields). It stops exactly at the empty line ending the
//      head, so it never judges body bytes (its 16-byte loads may look past a stopping byte, but
//      only within the input, and only the bytes before it count). Whole lines that pass every
//      rule are taken at once (each one's name, its value, then CRLF and the limits checked),
//      and the empty line after them; otherwise, inside a line it skips runs of bytes no rule
//      stops at, a table lookup each, 16 at a time with SSE2, and the byte ending a run takes
//      the per-byte rules. When it finds a bad byte, llhttp first parses the bytes before it:
//      the first failure in byte order is reported, whichever layer finds it, so the error does
//      not depend on how the input was split (the fuzz targets check this).
//   2. llhttp (LLHTTP_STRICT_MODE=1) parses; its callbacks collect the head and apply the semantic
//      checks (Content-Length and Transfer-Encoding, Host, Connection's close, Expect: the field's
//      kind is found from its name once, by length first), and pause the parser at each event:
//      on_headers_complete returns HPE_PAUSED (with F_SKIPBODY set first when the message has no
//      body: llhttp cannot take "skip the body" and "pause" from one return value), on_body
//      returns HPE_PAUSED after recording its span, on_message_complete returns HPE_PAUSED.
//      llhttp_execute then returns HPE_PAUSED with llhttp_get_error_pos() just past the event's
//      last byte, which is how much feed() consumed; llhttp_resume() before the next execute.
//
// Callbacks never throw (they run inside C code): they record the error in impl::failure and
// return HPE_USER; feed() throws it once llhttp_execute returns.
//
// A field's name and value come from llhttp as spans of the input. They are kept as views of it
// (span_text) and copied into the head's strings once, the value trimmed, when the value is
// complete; a span that does not arrive whole (the input was split inside it) is copied aside as
// it comes, and feed() does that for any field still open before llhttp_execute's input goes
// away. The strings are the previous head's, assigned in order (a keep-alive connection's heads
// stop allocating); on_headers_done sets the ones left over aside for a later, longer head.
//
// A 1xx response other than 101 ends without a body; on_message_complete marks it skipped, feed()
// forgets its head and goes on with the next message in the same call. Trailer fields of a chunked
// body are bounded by the field limits and dropped. A chunk's size digits (leading zeros are valid)
// reach no callback: feed() counts them against max_field, from where the head's pause or the
// pause at the end of the previous chunk's data (on_body) says they start.
#include "http/parser.hpp"

#include <coreio/http/errors.hpp>

#include <llhttp.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include "http/llhttp_dispatch.h"
#include "http/text.hpp"

namespace coreio::http::detail {

namespace {

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

// What the owner of a failed parse throws: a plain error, a limit, or (refuse != 0) a request
// refused with that status.
struct failure_info {
  bool is_limit = false;
  limit_kind kind = limit_kind::header_block;
  std::uint64_t max = 0;
  std::string what;
  int refuse = 0;
};

// The event a callback asked feed() to report after llhttp paused.
enum class pending { none, head, body, end, skipped_1xx, trailers };

// Where the current message is.
// trailers: after the last chunk's size line, until the empty line ending the message.
enum class phase { idle, head, body, trailers, done };

// name == lower ignoring ASCII case, where lower is a lowercase name of letters and '-', and name
// a field name that head_scan passed (no control bytes): eight bytes at a time, each byte with
// its case bit set. Only 'A'-'Z' map onto a lowercase letter that way, and only CR (rejected in
// a name) onto '-'.
bool name_is(std::string_view name, std::string_view lower) noexcept {
  if (name.size() != lower.size()) return false;
  constexpr std::uint64_t case_bits = 0x2020202020202020ull;
  std::size_t i = 0;
  for (; i + 8 <= name.size(); i += 8) {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::memcpy(&a, name.data() + i, 8);
    std::memcpy(&b, lower.data() + i, 8);
    if ((a | case_bits) != b) return false;
  }
  for (; i < name.size(); ++i) {
    if (static_cast<char>(name[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// A method's name from llhttp's code, its length known (no strlen a request).
std::string_view method_name(std::uint8_t code) noexcept {
  static constexpr auto names = [] {
    std::array<std::string_view, 256> t{};
#define COREIO_METHOD_NAME(num, name, string) t[num] = #string;
    HTTP_ALL_METHOD_MAP(COREIO_METHOD_NAME)
#undef COREIO_METHOD_NAME
    return t;
  }();
  return names[code];
}

// The bytes by which a chunked body's size digits and extensions may exceed its data
// (cb_on_chunk_header); 16 KiB, as Node.js bounds a message's chunk extensions.
constexpr std::uint64_t k_framing_allowance = 16 * 1024;

// The fields the semantic checks look at (content_length to expect), and those a head notes for
// its reader (noted_field; keep_alive to set_cookie). A name's length rules out all but one to
// three of them, so most names cost one switch and at most a first-letter comparison; found once
// per field (cb_on_header_field_complete) and used again when its value is complete
// (on_field_done).
// unknown: not classified yet.
enum class field_kind : std::uint8_t {
  unknown,
  other,
  content_length,
  transfer_encoding,
  host,
  connection,
  expect,
  keep_alive,
  content_encoding,
  set_cookie,
};

[[gnu::always_inline]] inline field_kind kind_of(std::string_view name) noexcept {
  switch (name.size()) {
    case 14:
      return name_is(name, "content-length") ? field_kind::content_length : field_kind::other;
    case 17:
      return name_is(name, "transfer-encoding") ? field_kind::transfer_encoding : field_kind::other;
    case 4:
      return name_is(name, "host") ? field_kind::host : field_kind::other;
    case 6:
      return (name[0] | 0x20) == 'e' && name_is(name, "expect") ? field_kind::expect
                                                                : field_kind::other;
    case 10:
      switch (name[0] | 0x20) {
        case 'c':
          return name_is(name, "connection") ? field_kind::connection : field_kind::other;
        case 'k':
          return name_is(name, "keep-alive") ? field_kind::keep_alive : field_kind::other;
        case 's':
          return name_is(name, "set-cookie") ? field_kind::set_cookie : field_kind::other;
        default:
          return field_kind::other;
      }
    case 16:
      return name_is(name, "content-encoding") ? field_kind::content_encoding : field_kind::other;
    default:
      return field_kind::other;
  }
}

// The noted_field bit of a kind from keep_alive on.
inline std::uint8_t noted_bit(field_kind k) noexcept {
  switch (k) {
    case field_kind::keep_alive:
      return noted_keep_alive;
    case field_kind::content_encoding:
      return noted_content_encoding;
    case field_kind::set_cookie:
      return noted_set_cookie;
    default:
      return 0;
  }
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// The text of a field's name or value as llhttp hands it over in spans. The usual field arrives
// whole, one span each for its name and its value within one llhttp_execute: that span stays a
// view of the input (no copy) until the field is complete and its strings are made from it. Any
// other span (a second one, after the input was split) makes it held: copied into `held`, which
// takes the spans that follow. feed() holds every open text before the input it viewed goes away.
struct span_text {
  std::string_view view;  // the text while not held: one span of the input being parsed
  std::string held;       // the text once held (capacity kept from field to field)
  bool is_held = false;

  // The slow paths are kept out of line (here and in the callbacks that call these): inlined,
  // their string code makes the compiler save registers on every call, the usual one included.
  void add(const char* at, std::size_t n) {
    if (!is_held && view.data() == nullptr) {
      view = std::string_view(at, n);
    } else {
      add_held(at, n);
    }
  }
  [[gnu::noinline]] void add_held(const char* at, std::size_t n) {
    hold();
    held.append(at, n);
  }
  void hold() {
    if (!is_held && view.data() != nullptr) hold_view();
  }
  [[gnu::noinline]] void hold_view() {
    held.assign(view);
    is_held = true;
  }
  std::string_view text() const noexcept { return is_held ? std::string_view(held) : view; }
  void clear() noexcept {
    view = {};
    if (is_held) held.clear();
    is_held = false;
  }
};

}  // namespace

std::optional<std::string_view> message_head::find(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

// ---- the Host field's value -------------------------------------------------------------------------

namespace {

/// RFC 9112 section 3.2 / RFC 3986 section 3.2: Host = uri-host [ ":" port ], empty allowed (a
/// target without an authority). uri-host is an IP-literal in brackets, or a reg-name / IPv4
/// address of unreserved, pct-encoded and sub-delims characters; port is digits. A server must
/// answer 400 to any other value (RFC 9112 section 3.2).
// Byte classes of a Host value (RFC 3986 section 3.2.2): reg-name bytes (unreserved, sub-delims,
// '%'), and those an IP literal may add (':' for IPv6 and IPvFuture's tail, '.'). One lookup a
// byte: the check runs on every request.
constexpr std::array<std::uint8_t, 256> host_byte = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum ||
        std::string_view("-._~%!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos) {
      t[c] |= 1;  // reg-name
    }
    if (alnum || c == ':' || c == '.') t[c] |= 2;  // IPv6 literal
    if (alnum || c == ':' ||
        std::string_view("-._~!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos) {
      t[c] |= 4;  // IPvFuture
    }
  }
  return t;
}();

bool valid_host_field(std::string_view v) {
  const auto port_ok = [](std::string_view p) {
    for (const char c : p) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if (v.empty()) return true;
  if (v.front() == '[') {
    // IP-literal (RFC 3986 section 3.2.2): an IPv6 address, or IPvFuture ("v" HEXDIG+ "."
    // then unreserved, sub-delims and ':').
    const std::size_t close = v.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    const std::string_view literal = v.substr(1, close - 1);
    const std::uint8_t cls = literal.front() == 'v' || literal.front() == 'V' ? 4 : 2;
    for (const char c : literal) {
      if ((host_byte[static_cast<unsigned char>(c)] & cls) == 0) return false;
    }
    const std::string_view after = v.substr(close + 1);
    return after.empty() || (after.front() == ':' && port_ok(after.substr(1)));
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == ':') {
      return i > 0 && port_ok(v.substr(i + 1));
    }
    if ((host_byte[c] & 1) == 0) return false;
  }
  return true;
}

}  // namespace

// ---- head_scan: the raw checks over the bytes of a head -------------------------------------------

namespace {

class head_scan {
 public:
  head_scan(const parse_limits& limits, bool request) : limits_(limits), request_(request) {}

  void reset() noexcept {
    total_ = line_len_ = line_index_ = fields_ = start_len_ = 0;
    cr_ = colon_ = done_ = trailers_ = fold_ = false;
    tail_n_ = 0;
    folded_.clear();
  }
  // For the trailer section of a chunked body: field lines only, no start line.
  void reset_for_trailers() noexcept {
    reset();
    line_index_ = 1;
    trailers_ = true;
  }
  bool done() const noexcept { return done_; }
  /// Whether the head's field `index` (0-based, in order) had an obs-fold (responses only). Asked
  /// in field order, once each: the scan is ahead of llhttp, so it has seen the field's folds.
  bool take_folded(std::size_t index) noexcept {
    if (folded_.empty() || folded_.front() != index) return false;
    folded_.erase(folded_.begin());
    return true;
  }
  bool started() const noexcept { return total_ > 0; }
  /// A request's start line's length without its CRLF, once its end was scanned.
  std::size_t start_line_length() const noexcept { return start_len_; }
  std::size_t total() const noexcept { return total_; }

  // Scans bytes of `in` until the head ends or the input does; returns how many it scanned.
  // Returns a failure through `fail` (and 0 meaning nothing more) on the first bad byte.
  std::size_t scan(std::span<const char> in, std::optional<failure_info>& fail) {
    std::size_t i = 0;
    for (; i < in.size() && !done_; ++i) {
      // Fastest path, at the start of a line: whole well-formed lines at once (see whole_lines).
      if (!cr_ && line_len_ == 0) {
        i += whole_lines(in.data() + i, in.size() - i);
        if (done_ || i == in.size()) break;
      }
      // Fast path, inside a line: a run of bytes that no rule below stops at (one table lookup
      // each), cut short where the next byte would cross a limit, so that the byte which stops
      // the run, ordinary or not, takes the per-byte rules below and fails as it always did.
      if (!cr_ && (line_len_ > 0 || line_index_ == 0)) {
        const std::size_t line_max = line_index_ == 0 ? limits_.max_start_line : limits_.max_field;
        const std::size_t room =
            std::min({in.size() - i, limits_.max_head - total_, line_max - line_len_});
        const char* run = in.data() + i;
        const std::size_t j = line_index_ == 0 ? ordinary_run<run_kind::start_line>(run, room)
                              : colon_         ? ordinary_run<run_kind::value>(run, room)
                                               : ordinary_run<run_kind::name>(run, room);
        if (line_index_ == 0 && request_) keep_tail(run, j);
        total_ += j;
        line_len_ += j;
        i += j;
        if (i == in.size()) break;
      }
      const auto c = static_cast<unsigned char>(in[i]);
      if (++total_ > limits_.max_head) {
        fail = limit(limit_kind::header_block, limits_.max_head,
                     "http: " + std::string(trailers_ ? "trailer" : "header") + " block over " +
                         std::to_string(limits_.max_head) + " bytes");
        return i;
      }
      if (cr_) {
        if (c != '\n') {
          fail = plain("http: bare CR (not followed by LF) in the " + where());
          return i;
        }
        cr_ = false;
        end_of_line(fail);
        if (fail) return i;
        continue;
      }
      if (c == '\r') {
        // A field line's end before its colon: said here, where llhttp would call the CR an
        // invalid name byte.
        if (line_index_ >= 1 && line_len_ > 0 && !colon_) {
          fail = plain("http: header line without a colon");
          return i;
        }
        cr_ = true;
        continue;
      }
      if (c == '\n') {
        fail = plain("http: bare LF (line ending without CR) in the " + where());
        return i;
      }
      if (line_index_ >= 1 && line_len_ == 0 && (c == ' ' || c == '\t')) {
        // obs-fold: a request's is refused (a server may, RFC 9112 section 5.2); a response's
        // continues the field line above it (a user agent must take it, as spaces), but not the
        // status line, nor a trailer.
        if (line_index_ < 2 && !trailers_) {
          // No field above it to continue: whitespace between the start line and the first field
          // (RFC 9112 section 2.2).
          fail = plain("http: whitespace before the first header field (RFC 9112 section 2.2)");
          return i;
        }
        if (request_ || trailers_) {
          fail =
              plain("http: obs-fold (header line starting with whitespace, RFC 9112 section 5.2)");
          return i;
        }
        fold_ = true;
        colon_ = true;  // its bytes are value bytes
        if (folded_.empty() || folded_.back() != fields_ - 1) folded_.push_back(fields_ - 1);
      }
      ++line_len_;
      if (line_index_ == 0) {
        if (line_len_ > limits_.max_start_line) {
          const auto kind = request_ ? limit_kind::request_line : limit_kind::status_line;
          fail = limit(kind, limits_.max_start_line,
                       std::string("http: ") + (request_ ? "request line" : "status line") +
                           " over " + std::to_string(limits_.max_start_line) + " bytes");
          return i;
        }
        // HTAB may be in a reason phrase (RFC 9112 section 4); llhttp refuses it elsewhere.
        if ((c < 0x20 && (c != '\t' || request_)) || c == 0x7f) {
          fail = plain("http: control character " + hex_byte(c) + " in the " + where());
          return i;
        }
        if (request_) keep_tail(in.data() + i, 1);
        continue;
      }
      if (line_len_ > limits_.max_field) {
        fail = limit(limit_kind::header_field, limits_.max_field,
                     "http: " + std::string(trailers_ ? "trailer" : "header") + " line over " +
                         std::to_string(limits_.max_field) + " bytes");
        return i;
      }
      if (!colon_) {
        if (c == ':') {
          if (line_len_ == 1) {
            fail = plain("http: empty field name (a line starting with a colon) in the " + where());
            return i;
          }
          colon_ = true;
        } else if (c == ' ' || c == '\t') {
          fail = plain(
              "http: whitespace in a header name or before the colon (or a line without a colon)");
          return i;
        } else if (c < 0x20 || c == 0x7f) {
          fail = plain("http: control character " + hex_byte(c) + " in a header name");
          return i;
        }
      } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
        fail = plain("http: control character " + hex_byte(c) + " in a header value");
        return i;
      }
    }
    return i;
  }

 private:
  using byte_table = std::array<bool, 256>;
  // Bytes the per-byte rules let through without a state change, where the table applies.
  // Start line: any but controls (CR included) and DEL.
  static constexpr byte_table start_line_byte = [] {
    byte_table t{};
    for (int c = 0x20; c < 0x100; ++c) t[c] = c != 0x7f;
    return t;
  }();
  // Field name before the colon: any but controls, DEL, SP and the colon itself.
  static constexpr byte_table name_byte = [] {
    byte_table t{};
    for (int c = 0x21; c < 0x100; ++c) t[c] = c != 0x7f && c != ':';
    return t;
  }();
  // Field value after the colon: any but controls (HTAB allowed) and DEL.
  static constexpr byte_table value_byte = [] {
    byte_table t{};
    for (int c = 0x20; c < 0x100; ++c) t[c] = c != 0x7f;
    t['\t'] = true;
    return t;
  }();

  // Where a run of bytes is.
  enum class run_kind { start_line, name, value };

  // The length of the run of bytes at `run` (at most `room`) that the per-byte rules let through
  // without a state change, in a start line, a field name or a field value.
  template <run_kind K>
  static std::size_t ordinary_run(const char* run, std::size_t room) noexcept {
    constexpr const byte_table& ordinary = K == run_kind::start_line ? start_line_byte
                                           : K == run_kind::name     ? name_byte
                                                                     : value_byte;
    std::size_t j = 0;
#if defined(__SSE2__)
    // Sixteen bytes at a time up to the first that may stop the run (a control byte, DEL, SP and
    // the colon in a name): exactly the bytes its table rejects, and HTAB, on which a value's
    // run goes on. The loads may see bytes past the run's end, even body bytes; none of those is
    // judged.
    constexpr bool name = K == run_kind::name;
    const __m128i low = _mm_set1_epi8(static_cast<char>(name ? 0x20 : 0x1f));
    const __m128i del = _mm_set1_epi8(0x7f);
    const __m128i colon = _mm_set1_epi8(name ? ':' : 0x7f);
    while (j + 16 <= room) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(run + j));
      const __m128i stop =
          _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, low), v),
                       _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, colon)));
      const int mask = _mm_movemask_epi8(stop);
      if (mask != 0) {
        j += static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        if (K != run_kind::value || run[j] != '\t') return j;
        ++j;
        continue;
      }
      j += 16;
    }
#endif
    while (j < room && ordinary[static_cast<unsigned char>(run[j])]) ++j;
    return j;
  }

  // At the start of a line (no byte of it seen): takes the lines at the start of `in` that pass
  // every rule and limit whole, each with its CRLF, and the empty line ending the head when one
  // follows them, reaching the state the per-byte rules would reach after each LF; returns their
  // size. Stops at the first line it cannot take whole, which the per-byte rules take over: a line
  // cut by the end of the input, HTAB in a start line, an empty line before the start line, any
  // failure. A line of a response head passes here whole: two runs and a few comparisons instead
  // of rules for each of its colon, CR and LF. The counts and limits stay in locals until it
  // returns: as members, each would be stored and loaded again for every line (a char load may
  // alias them).
  std::size_t whole_lines(const char* in, std::size_t size) noexcept {
    const std::size_t max_head = limits_.max_head;
    std::size_t total = total_;
    std::size_t taken = 0;
    if (line_index_ == 0) {
      const std::size_t end = ordinary_run<run_kind::start_line>(in, size);
      if (end == 0 || end + 1 >= size || in[end] != '\r' || in[end + 1] != '\n') return 0;
      if (end > limits_.max_start_line || end + 2 > max_head - total) return 0;
      // Not HTTP/1.x: the per-byte rules decide (end_of_line).
      if (request_ && (!http_protocol(in, end) || in[end - 3] != '1')) return 0;
      taken = end + 2;
      total += taken;
      total_ = total;
      line_index_ = 1;
      start_len_ = end;
    }
    const std::size_t max_field = limits_.max_field;
    const std::size_t max_headers = limits_.max_headers;
    std::size_t fields = fields_;
    for (;;) {
      const char* l = in + taken;
      const std::size_t avail = size - taken;
      if (avail >= 2 && l[0] == '\r' && l[1] == '\n') {
        // The empty line: its CR and LF each count towards the head's size.
        if (2 <= max_head - total) {
          taken += 2;
          total += 2;
          done_ = true;
        }
        break;
      }
      const std::size_t colon = ordinary_run<run_kind::name>(l, avail);
      if (colon == 0 || colon >= avail || l[colon] != ':') break;
      const std::size_t end =
          colon + 1 + ordinary_run<run_kind::value>(l + colon + 1, avail - colon - 1);
      if (end + 1 >= avail || l[end] != '\r' || l[end + 1] != '\n') break;
      if (end > max_field || end + 2 > max_head - total || fields >= max_headers) break;
      ++fields;
      taken += end + 2;
      total += end + 2;
    }
    line_index_ += fields - fields_;
    fields_ = fields;
    total_ = total;
    return taken;
  }

  std::string where() const {
    if (line_index_ == 0) return request_ ? "request line" : "status line";
    return trailers_ ? "trailer block" : "header block";
  }
  static failure_info plain(std::string what) {
    return failure_info{false, limit_kind::header_block, 0, std::move(what)};
  }
  static failure_info limit(limit_kind k, std::uint64_t max, std::string what) {
    return failure_info{true, k, max, std::move(what)};
  }

  void end_of_line(std::optional<failure_info>& fail) {
    if (line_len_ == 0) {
      // An empty line before the start line is tolerated (RFC 9112 section 2.2); llhttp decides.
      if (line_index_ > 0) done_ = true;
      return;
    }
    if (line_index_ == 0 && request_) {
      if (!http_protocol(tail_.data(), tail_n_)) {
        fail = plain("http: request line without HTTP/x.y at its end (RFC 9112 section 2.3)");
        return;
      }
      // Another major version is answered 505 at the line's end: an HTTP/2 preface's line ("PRI *
      // HTTP/2.0") without the rest of it would otherwise wait in llhttp for that rest.
      if (tail_[tail_n_ - 3] != '1') {
        fail = plain("http: request version " + std::string(tail_.data() + tail_n_ - 8, 8) +
                     " (this server speaks HTTP/1.x)");
        fail->refuse = 505;
        return;
      }
      start_len_ = line_len_;
    }
    if (line_index_ >= 1 && fold_) {
      fold_ = false;  // a continuation: the same field
    } else if (line_index_ >= 1) {
      if (!colon_) {
        fail = plain("http: header line without a colon");
        return;
      }
      if (++fields_ > limits_.max_headers) {
        fail = limit(limit_kind::header_count, limits_.max_headers,
                     "http: more than " + std::to_string(limits_.max_headers) +
                         (trailers_ ? " trailer fields" : " header fields"));
        return;
      }
    }
    ++line_index_;
    line_len_ = 0;
    colon_ = false;
  }

  // Whether a request line (its `n` bytes, or its last ones, at `line`) ends with "HTTP/d.d".
  // llhttp takes RTSP/ and ICE/ lines too (and HTTP/0.9's, without a version), and reports the
  // version digits only.
  static bool http_protocol(const char* line, std::size_t n) noexcept {
    return n >= 8 && std::memcmp(line + n - 8, "HTTP/", 5) == 0;
  }
  // The last (up to) 8 bytes of a request line scanned in pieces, for http_protocol.
  void keep_tail(const char* p, std::size_t n) noexcept {
    if (n >= tail_.size()) {
      std::memcpy(tail_.data(), p + n - tail_.size(), tail_.size());
      tail_n_ = tail_.size();
      return;
    }
    const std::size_t keep = std::min(tail_n_, tail_.size() - n);
    std::memmove(tail_.data(), tail_.data() + tail_n_ - keep, keep);
    std::memcpy(tail_.data() + keep, p, n);
    tail_n_ = keep + n;
  }

  const parse_limits& limits_;
  bool request_;
  std::array<char, 8> tail_{};
  std::size_t tail_n_ = 0;
  // The current line continues the field above it (obs-fold, responses), and the indices of the
  // head's fields that had one, in order.
  bool fold_ = false;
  std::vector<std::size_t> folded_;
  std::size_t total_ = 0;       // bytes of the head so far
  std::size_t line_len_ = 0;    // bytes of the current line, without its CRLF
  std::size_t line_index_ = 0;  // 0 = the start line
  std::size_t fields_ = 0;      // header lines seen
  std::size_t start_len_ = 0;   // a request line's length (start_line_length)
  bool cr_ = false;             // the previous byte was CR
  bool colon_ = false;          // the current header line's colon was seen
  bool done_ = false;           // the empty line ending the head was seen
  bool trailers_ = false;       // scanning a trailer section, not a head
};

}  // namespace

// ---- impl ---------------------------------------------------------------------------------------

struct parser::impl {
  impl(mode m, parse_limits l) : request(m == mode::request), limits(l), scan(limits, request) {
    llhttp_init(&p, request ? HTTP_REQUEST : HTTP_RESPONSE, &settings());
    // Any one-digit version is parsed, and on_headers_done decides: strict llhttp refuses all but
    // 0.9, 1.0, 1.1 and 2.0, so an HTTP/1.2 request got 400 where it is to be read as the 1.x this
    // parser knows (RFC 9110 section 2.5), and an HTTP/3.0 one 400 where the server answers 505.
    // (llhttp 8.1 has the flag but no setter for it; llhttp_reset keeps it.)
    p.lenient_flags |= LENIENT_VERSION;
    p.data = this;
  }

  static const llhttp_settings_t& settings();

  // Clears everything about the current message (not the connection's death).
  void begin_message() {
    // The previous head's fields stay where they are: this head's fields are assigned into their
    // strings in order (capacity kept, so that a keep-alive connection's heads stop allocating),
    // and on_headers_done moves those left over to the spares before anyone sees the head.
    // The rest of the head is reset member by member: a fresh message_head would cost its
    // construction and a move-assignment of every member for each message.
    fields_used = 0;
    reusable_fields = head.headers.size() + spare_fields.size();
    // A client takes each head's vector (parser::head()): room for a usual head in one allocation.
    if (head.headers.capacity() == 0) head.headers.reserve(16);
    head.method.clear();
    head.target.clear();
    head.status = 0;
    head.reason.clear();
    head.version_major = 1;
    head.version_minor = 1;
    head.keep_alive = true;
    head.chunked = false;
    head.noted = 0;
    head.content_length.reset();
    head.upgrade = false;
    head.expect_continue = false;
    head.expect_other = false;
    field_name.clear();
    field_value.clear();
    current_kind = field_kind::unknown;
    content_lengths = 0;
    transfer_encodings.clear();
    hosts = 0;
    connection_close = false;
    expects_continue = false;
    body_bytes = 0;
    chunk_ext_bytes = 0;
    framing_bytes = 0;
    chunk_ext_part_bytes = 0;
    in_chunk_size = false;
    chunk_size_bytes = 0;
    chunk_crlf_left = 0;
    skipping_1xx = false;
    method_pending = false;
    method_bytes = 0;
    judged = {};
    scan.reset();
  }

  std::string kind() const { return request ? "request" : "response"; }

  // The next bytes of a chunk's size (in_chunk_size; rest starts inside it): counts them, and past
  // max_field throws, after llhttp has parsed the bytes before that point (an error it finds
  // there comes first, so the error does not depend on how the input was split).
  void scan_chunk_size(std::span<const char> rest) {
    // The CRLF ending the previous chunk's data first (llhttp checks that it is one).
    std::size_t k = std::min(chunk_crlf_left, rest.size());
    chunk_crlf_left -= k;
    if (chunk_crlf_left != 0) return;
    const std::size_t start = k;
    while (k < rest.size() && rest[k] != ';' && rest[k] != '\r' && rest[k] != '\n') ++k;
    const std::size_t digits = k - start;
    if (chunk_size_bytes + digits > limits.max_field) {
      const std::size_t good = start + (limits.max_field - chunk_size_bytes);
      const llhttp_errno_t err = coreio_llhttp_execute(&p, good == 0 ? "" : rest.data(), good);
      if (err != HPE_OK) throw_llhttp(err);
      failure = failure_info{
          true, limit_kind::chunk_extension, limits.max_field,
          "http: chunk size over " + std::to_string(limits.max_field) + " bytes (leading zeros)"};
      throw_failure();
    }
    framing_bytes += digits;
    if (k < rest.size()) {
      in_chunk_size = false;  // its end is in this input
    } else {
      chunk_size_bytes += digits;
    }
  }

  int fail(std::string what) {
    failure = failure_info{false, limit_kind::header_block, 0, std::move(what)};
    return HPE_USER;
  }
  int fail_limit(limit_kind k, std::uint64_t max, std::string what) {
    failure = failure_info{true, k, max, std::move(what)};
    return HPE_USER;
  }

  [[noreturn]] void throw_failure() {
    dead = true;
    const failure_info f = std::move(*failure);
    if (f.refuse != 0) throw refused_request(f.refuse, f.what);
    if (f.is_limit) throw limit_error(f.kind, static_cast<std::size_t>(f.max), f.what);
    throw error(f.what);
  }

  // After llhttp refused a request's method at `at` in the input [.., end): llhttp knows a fixed
  // set of methods and stops at the first byte that leaves them. The request line is judged here,
  // to its CRLF: a method of token bytes (those before `at` are: llhttp took them), a target, and
  // HTTP/x.y make a method this server does not implement (501, RFC 9110 section 9.1); anything
  // else a malformed line (400). When the input ends first, the rest of the line is judged as it
  // comes (method_pending).
  void judge_method(const char* at, const char* end) {
    const auto malformed = [this](const char* what) {
      dead = true;
      throw error(std::string("http: malformed request line: ") + what);
    };
    for (; at < end; ++at) {
      const auto c = static_cast<unsigned char>(*at);
      if (++method_bytes > limits.max_start_line) {
        dead = true;
        throw limit_error(
            limit_kind::request_line, limits.max_start_line,
            "http: request line over " + std::to_string(limits.max_start_line) + " bytes");
      }
      switch (judged.part) {
        case line_part::method:
          if (c == ' ' && method_bytes > 1) {
            judged.part = line_part::target;
          } else if (!is_tchar(c)) {
            malformed("a method that is not a token");
          }
          break;
        case line_part::target:
          if (c == ' ' && judged.length > 0) {
            judged.part = line_part::version;
            judged.length = 0;
          } else if (c <= 0x20 || c == 0x7f) {
            malformed("an empty target or a control byte in it");
          } else {
            ++judged.length;
          }
          break;
        case line_part::version:
          if (c == '\n') {
            const std::string_view v(judged.version.data(), judged.length);
            const bool http = v.size() == 9 && v.substr(0, 5) == "HTTP/" && v[8] == '\r' &&
                              std::isdigit(static_cast<unsigned char>(v[5])) && v[6] == '.' &&
                              std::isdigit(static_cast<unsigned char>(v[7]));
            if (!http) malformed("no HTTP/x.y at its end");
            dead = true;
            throw refused_request(501,
                                  "http: request method not implemented (not one of llhttp's)");
          }
          if (judged.length == judged.version.size()) malformed("no HTTP/x.y at its end");
          judged.version[judged.length++] = static_cast<char>(c);
          break;
      }
    }
    method_pending = true;
  }

  [[noreturn]] void throw_llhttp(llhttp_errno_t err) {
    if (failure) throw_failure();
    dead = true;
    const char* reason = llhttp_get_error_reason(&p);
    // A method of RTSP's with an HTTP version: a token, not an HTTP method this server implements.
    if (err == HPE_INVALID_CONSTANT && request && p.method >= HTTP_DESCRIBE) {
      throw refused_request(501, "http: request method not implemented (an RTSP method)");
    }
    // The HTTP/2 connection preface ("PRI * HTTP/2.0"): a version this server does not speak.
    if (err == HPE_PAUSED_H2_UPGRADE) {
      throw refused_request(505, "http: HTTP/2 connection preface (this server speaks HTTP/1.x)");
    }
    throw error("http: malformed " + kind() + ": " + (reason != nullptr ? reason : "") + " (" +
                llhttp_errno_name(err) + ")");
  }

  // The head's next field, made at once from its text: an earlier head's field or a spare one
  // (strings assigned, capacity kept), else new strings.
  std::pair<std::string, std::string>& add_field(std::string_view name, std::string_view value) {
    if (fields_used < reusable_fields) return reuse_field(name, value);
    ++fields_used;
    return head.headers.emplace_back(std::piecewise_construct,
                                     std::forward_as_tuple(name.data(), name.size()),
                                     std::forward_as_tuple(value.data(), value.size()));
  }
  [[gnu::noinline]] std::pair<std::string, std::string>& reuse_field(std::string_view name,
                                                                     std::string_view value) {
    if (fields_used == head.headers.size()) {
      head.headers.push_back(std::move(spare_fields.back()));
      spare_fields.pop_back();
    }
    auto& f = head.headers[fields_used++];
    set_text(f.first, name);
    set_text(f.second, value);
    return f;
  }
  // s = v, for v outside s (a span of the input, or the held text). A keep-alive connection's
  // heads usually repeat their fields' sizes, so resize() is most often no change; the copy of a
  // short text is done inline (two overlapping loads and stores), as memcpy would after its call.
  static void set_text(std::string& s, std::string_view v) {
    const std::size_t n = v.size();
    s.resize(n);
    char* d = s.data();
    const char* from = v.data();
    if (n >= 8 && n <= 16) {
      std::uint64_t a, b;
      std::memcpy(&a, from, 8);
      std::memcpy(&b, from + n - 8, 8);
      std::memcpy(d, &a, 8);
      std::memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
      std::uint32_t a, b;
      std::memcpy(&a, from, 4);
      std::memcpy(&b, from + n - 4, 4);
      std::memcpy(d, &a, 4);
      std::memcpy(d + n - 4, &b, 4);
    } else if (n > 16 && n <= 32) {
      std::uint64_t a[2], b[2];
      std::memcpy(a, from, 16);
      std::memcpy(b, from + n - 16, 16);
      std::memcpy(d, a, 16);
      std::memcpy(d + n - 16, b, 16);
    } else if (n != 0) {
      std::memcpy(d, from, n);
    }
  }
  // An earlier head's fields this head did not reuse: to the spares, out of the head.
  [[gnu::noinline]] void drop_unused_fields() {
    for (std::size_t i = fields_used; i < head.headers.size(); ++i) {
      spare_fields.push_back(std::move(head.headers[i]));
    }
    head.headers.resize(fields_used);
  }
  // Before llhttp_execute returns to feed(): the field being collected stops viewing the input.
  void hold_field() {
    field_name.hold();
    field_value.hold();
  }

  int on_field_done();
  // on_field_done's work for the fields the checks look at, out of line: the usual field only
  // pays for its kind.
  [[gnu::noinline]] int on_framing_field(field_kind kind, std::string_view value);
  [[gnu::noinline]] int take_target_authority();
  int on_headers_done();
  // llhttp's callbacks (settings()); p->data is the impl.
  static int cb_on_message_begin(llhttp_t* p);
  static int cb_on_url(llhttp_t* p, const char* at, std::size_t n);
  static int cb_on_status(llhttp_t* p, const char* at, std::size_t n);
  static int cb_on_header_field(llhttp_t* p, const char* at, std::size_t n);
  static int cb_on_header_value(llhttp_t* p, const char* at, std::size_t n);
  static int cb_on_header_field_complete(llhttp_t* p);
  static int cb_on_header_value_complete(llhttp_t* p);
  static int cb_on_headers_complete(llhttp_t* p);
  static int cb_on_body(llhttp_t* p, const char* at, std::size_t n);
  static int cb_on_message_complete(llhttp_t* p);
  static int cb_on_chunk_extension(llhttp_t* p, const char* at, std::size_t n);
  static int cb_on_chunk_extension_part_done(llhttp_t* p);
  static int cb_on_chunk_complete(llhttp_t* p);
  static int cb_on_chunk_header(llhttp_t* p);

  bool request;
  parse_limits limits;
  head_scan scan;
  llhttp_t p{};
  message_head head;
  phase state = phase::idle;
  bool dead = false;
  std::optional<failure_info> failure;
  pending event = pending::none;
  std::span<const char> body;
  // Responses: the request answered was a HEAD, a CONNECT (set_request_method).
  bool answers_head = false;
  bool answers_connect = false;

  // The field being collected (not in trailers, whose fields are dropped), and what its name says
  // (cb_on_header_field_complete); empty between fields.
  span_text field_name;
  span_text field_value;
  field_kind current_kind = field_kind::unknown;
  // Seen so far in this head.
  std::size_t content_lengths = 0;
  std::vector<std::string> transfer_encodings;
  // Fields of this head so far: head.headers[0, fields_used); the rest, until on_headers_done,
  // are an earlier head's (begin_message).
  std::size_t fields_used = 0;
  // Earlier heads' fields this head may reuse, in head.headers then in spare_fields (their sum
  // does not change while it reuses them): head.headers.size() + spare_fields.size() when the
  // message began.
  std::size_t reusable_fields = 0;
  // Fields of earlier heads left over (drop_unused_fields), reused when a head has more fields
  // than the one before.
  field_list spare_fields;
  std::size_t hosts = 0;
  std::string valid_host;         // the last Host value found valid on this connection
  bool connection_close = false;  // a Connection field had the close option
  bool expects_continue = false;  // an Expect field had 100-continue
  // Body accounting.
  std::uint64_t body_bytes = 0;
  std::size_t chunk_ext_bytes = 0;
  // A chunked body's size digits and extensions so far (k_framing_allowance).
  std::uint64_t framing_bytes = 0;
  std::size_t chunk_ext_part_bytes = 0;  // of the extension name or value being read
  // The next input starts inside a chunk's size (its hex digits, up to ';', CR or LF), or in the
  // CRLF before it (chunk_crlf_left bytes of it to come), which reach no llhttp callback: leading
  // zeros are valid, so without a bound a peer could send one size line for ever. feed() counts
  // its bytes (chunk_size_bytes) against max_field. Set where the position is exact, at pauses
  // that already happen: after a chunked head, and at the end of each chunk's data (on_body).
  bool in_chunk_size = false;
  std::size_t chunk_size_bytes = 0;
  std::size_t chunk_crlf_left = 0;
  bool skipping_1xx = false;
  // Bytes of the interim responses skipped before this response's head (see feed()).
  std::size_t interim_bytes = 0;
  bool method_pending = false;   // judge_method is waiting for the rest of the request line
  std::size_t method_bytes = 0;  // of the request line judge_method has looked at
  enum class line_part : std::uint8_t { method, target, version };
  struct {
    line_part part = line_part::method;
    std::size_t length = 0;         // of the target, then of the version text
    std::array<char, 9> version{};  // "HTTP/x.y" and its CR
  } judged;
  bool finishing = false;  // inside llhttp_finish: on_message_complete must not pause
};

int parser::impl::cb_on_message_begin(llhttp_t* p) {
  auto& s = *static_cast<impl*>(p->data);
  if (s.state == phase::idle) s.state = phase::head;
  return 0;
}

int parser::impl::cb_on_url(llhttp_t* p, const char* at, std::size_t n) {
  static_cast<impl*>(p->data)->head.target.append(at, n);
  return 0;
}

int parser::impl::cb_on_status(llhttp_t* p, const char* at, std::size_t n) {
  static_cast<impl*>(p->data)->head.reason.append(at, n);
  return 0;
}

int parser::impl::cb_on_header_field(llhttp_t* p, const char* at, std::size_t n) {
  // Bounded: head_scan checked these bytes (head or trailers) before llhttp saw them. A name may
  // come in several spans (split input); trailer fields are dropped.
  auto& s = *static_cast<impl*>(p->data);
  if (s.state == phase::trailers) return 0;
  s.field_name.add(at, n);
  return 0;
}

int parser::impl::cb_on_header_value(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = *static_cast<impl*>(p->data);
  if (s.state == phase::trailers) return 0;
  s.field_value.add(at, n);
  return 0;
}

int parser::impl::cb_on_header_field_complete(llhttp_t* p) {
  auto& s = *static_cast<impl*>(p->data);
  if (s.state == phase::trailers) return 0;  // a trailer field: dropped
  s.current_kind = kind_of(s.field_name.text());
  // Checked here, before llhttp parses the value, so that these errors carry coreio's words.
  if (s.current_kind == field_kind::content_length) {
    if (s.content_lengths > 0) return s.fail("http: several Content-Length fields");
    if (!s.transfer_encodings.empty()) {
      return s.fail("http: Content-Length and Transfer-Encoding together");
    }
  } else if (s.current_kind == field_kind::transfer_encoding) {
    if (s.content_lengths > 0) {
      return s.fail("http: Content-Length and Transfer-Encoding together");
    }
  }
  return 0;
}

int parser::impl::cb_on_header_value_complete(llhttp_t* p) {
  return static_cast<impl*>(p->data)->on_field_done();
}

int parser::impl::cb_on_headers_complete(llhttp_t* p) {
  return static_cast<impl*>(p->data)->on_headers_done();
}

int parser::impl::cb_on_body(llhttp_t* p, const char* at, std::size_t n) {
  auto& s = *static_cast<impl*>(p->data);
  if (n == 0) return 0;
  s.body_bytes += n;
  if (s.limits.max_body && s.body_bytes > *s.limits.max_body) {
    return s.fail_limit(limit_kind::body, static_cast<std::size_t>(*s.limits.max_body),
                        "http: body over " + std::to_string(*s.limits.max_body) + " bytes");
  }
  s.body = std::span<const char>(at, n);
  s.event = pending::body;
  if (s.head.chunked && p->content_length == 0) {
    // The chunk's data ends here, where this pause leaves feed(): its CRLF, then the next size.
    s.in_chunk_size = true;
    s.chunk_size_bytes = 0;
    s.chunk_crlf_left = 2;
  }
  return HPE_PAUSED;
}

int parser::impl::cb_on_message_complete(llhttp_t* p) {
  auto& s = *static_cast<impl*>(p->data);
  if (s.skipping_1xx) {
    s.event = pending::skipped_1xx;
    return HPE_PAUSED;
  }
  s.state = phase::done;
  s.event = pending::end;
  return s.finishing ? 0 : HPE_PAUSED;
}

int parser::impl::cb_on_chunk_extension(llhttp_t* p, const char* /*at*/, std::size_t n) {
  auto& s = *static_cast<impl*>(p->data);
  s.chunk_ext_bytes += n;
  s.framing_bytes += n;
  s.chunk_ext_part_bytes += n;
  if (s.chunk_ext_bytes > s.limits.max_field) {
    return s.fail_limit(
        limit_kind::chunk_extension, s.limits.max_field,
        "http: chunk extension over " + std::to_string(s.limits.max_field) + " bytes");
  }
  return 0;
}

// The end of an extension's name or value: each is a token or (a value) a quoted string, never
// empty (RFC 9112 section 7.1.1); llhttp takes "5;=v" and "5;n=" (and, with the fixed transition
// of cmake/llhttp.cmake, "5;a;;b").
int parser::impl::cb_on_chunk_extension_part_done(llhttp_t* p) {
  auto& s = *static_cast<impl*>(p->data);
  if (s.chunk_ext_part_bytes == 0) {
    return s.fail("http: malformed " + s.kind() + ": empty chunk extension name or value");
  }
  s.chunk_ext_part_bytes = 0;
  return 0;
}

// After a chunk's size line; the last chunk (size 0) is followed by the trailer section, which
// feed() scans as it scans a head: pause there to learn where it starts.
int parser::impl::cb_on_chunk_header(llhttp_t* p) {
  auto& s = *static_cast<impl*>(p->data);
  // Each size line is bounded (max_field), but not their sum: a body sent as many chunks with
  // long extensions or leading zeros costs the reader bandwidth and time for little or no data,
  // which neither max_body nor a read deadline bounds (Node.js, CVE-2024-22019). The size digits
  // and extensions of a message may exceed its data by k_framing_allowance bytes; a client's own
  // chunks (a size's few digits for a chunk's many bytes) stay far below.
  if (s.framing_bytes > k_framing_allowance + s.body_bytes) {
    return s.fail_limit(limit_kind::chunk_extension, k_framing_allowance,
                        "http: chunk sizes and extensions of " + std::to_string(s.framing_bytes) +
                            " bytes for " + std::to_string(s.body_bytes) +
                            " bytes of body (over the body by more than " +
                            std::to_string(k_framing_allowance) + " bytes)");
  }
  if (p->content_length != 0) {
    // A chunk that cannot fit under the body limit is refused at its size line, as a
    // Content-Length over it is at the head, instead of after its bytes have come.
    if (s.limits.max_body && p->content_length > *s.limits.max_body - s.body_bytes) {
      return s.fail_limit(limit_kind::body, static_cast<std::size_t>(*s.limits.max_body),
                          "http: a chunk of " + std::to_string(p->content_length) +
                              " bytes over the body limit of " +
                              std::to_string(*s.limits.max_body) + " bytes");
    }
    return 0;
  }
  s.state = phase::trailers;
  s.event = pending::trailers;
  return HPE_PAUSED;
}

int parser::impl::cb_on_chunk_complete(llhttp_t* p) {
  static_cast<impl*>(p->data)->chunk_ext_bytes = 0;
  return 0;
}

int parser::impl::on_field_done() {
  if (state == phase::trailers) return 0;  // a trailer field (head_scan bounded it): dropped
  const std::string_view name = field_name.text();
  // Classified when its name was complete; unknown only if llhttp never said so.
  const field_kind kind = current_kind != field_kind::unknown ? current_kind : kind_of(name);
  current_kind = field_kind::unknown;
  // The value without surrounding whitespace: trimmed before it is copied (llhttp's span rarely
  // has any: its ends are looked at first).
  std::string_view value = field_value.text();
  if (!value.empty() && (is_ows(value.front()) || is_ows(value.back()))) value = trim_ows(value);
  const std::size_t index = fields_used;
  auto& f = add_field(name, value);
  // A folded response field: llhttp drops each fold's CRLF and keeps its whitespace, which
  // becomes spaces (RFC 9112 section 5.2).
  if (!request && scan.take_folded(index))
    std::replace(f.second.begin(), f.second.end(), '\t', ' ');
  field_name.clear();
  field_value.clear();
  if (kind == field_kind::other) return 0;
  if (kind >= field_kind::keep_alive) {
    head.noted |= noted_bit(kind);
    return 0;
  }
  return on_framing_field(kind, f.second);
}

int parser::impl::on_framing_field(field_kind kind, std::string_view value) {
  if (kind == field_kind::content_length) {
    ++content_lengths;
    std::uint64_t v = 0;
    const auto* b = value.data();
    const auto* e = value.data() + value.size();
    const bool digits =
        !value.empty() && std::all_of(b, e, [](char c) { return c >= '0' && c <= '9'; });
    const auto r = std::from_chars(b, e, v);
    if (!digits || r.ec != std::errc{} || r.ptr != e) {
      return fail("http: malformed Content-Length '" + std::string(value.substr(0, 64)) + "'");
    }
    head.content_length = v;
  } else if (kind == field_kind::transfer_encoding) {
    // The codings of every Transfer-Encoding field, in order (a list may span several fields).
    // A field with no coding at all is refused: with a Content-Length after it, one recipient
    // would frame the message by that length and another refuse it (a smuggling vector).
    bool any = false;
    any_list_item(value, [&](std::string_view item) {
      if (!item.empty()) {
        transfer_encodings.emplace_back(item);
        any = true;
      }
      return false;
    });
    if (!any) return fail("http: empty Transfer-Encoding field");
  } else if (kind == field_kind::connection) {
    // Its options are read here, not by llhttp, which takes "close" only as the whole of a list
    // item without whitespace after it ("close\t" is the same option, RFC 9110 section 5.6.1).
    // The usual value first (name_is suits a value: head_scan let no CR into it).
    if (name_is(value, "keep-alive")) return 0;
    if (list_has(value, "close")) connection_close = true;
  } else if (kind == field_kind::expect) {
    // Expect = #expectation (RFC 9110 section 10.1.1): noted here, judged at the head's end.
    any_list_item(value, [this](std::string_view item) {
      if (iequals(item, "100-continue")) {
        expects_continue = true;
      } else if (!item.empty()) {
        head.expect_other = true;
      }
      return false;
    });
  } else if (kind == field_kind::host) {
    // Checked here, where the value is at hand, rather than looked up again at the head's end;
    // a keep-alive connection's requests repeat their Host, which is checked once.
    if (++hosts == 1 && request && value != valid_host) {
      if (!valid_host_field(value)) {
        return fail("http: invalid Host field value '" + std::string(value.substr(0, 64)) + "'");
      }
      valid_host.assign(value);
    }
  }
  return 0;
}

// An absolute-form target ("http://host:port/path", RFC 9112 section 3.2.2) names the host: its
// authority, checked as a Host field is (no userinfo, RFC 9110 section 4.2.4; not empty, section
// 4.2.1), becomes the Host field's value, so that what the application reads is the host the
// request is for (RFC 9112 section 3.3; Go's server does the same). Other targets are left alone.
int parser::impl::take_target_authority() {
  const std::string_view t = head.target;
  const std::size_t scheme_end = t.find("://");
  if (scheme_end == std::string_view::npos) return 0;
  const std::string_view scheme = t.substr(0, scheme_end);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return 0;
  const std::string_view rest = t.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.front() == ':' ||
      authority.find('@') != std::string_view::npos || !valid_host_field(authority)) {
    return fail("http: absolute-form request target with an invalid authority '" +
                std::string(authority.substr(0, 64)) + "'");
  }
  for (auto& [name, value] : head.headers) {
    if (name.size() == 4 && iequals(name, "host")) {
      value.assign(authority);
      return 0;
    }
  }
  // No Host field (HTTP/1.0 may omit it): the target's authority is the request's host all the
  // same (RFC 9112 section 3.2.2), so header("host") names it.
  add_field("Host", authority);
  return 0;
}

int parser::impl::on_headers_done() {
  if (head.headers.size() > fields_used) drop_unused_fields();
  head.version_major = llhttp_get_http_major(&p);
  head.version_minor = llhttp_get_http_minor(&p);
  if (request) {
    head.method.assign(method_name(llhttp_get_method(&p)));
    // One SP between the method, the target and the version (RFC 9112 section 3). llhttp takes
    // several; a recipient may, but lenient parsing of the request line is a smuggling vector
    // when another hop reads it otherwise (same section), and httparse (hyper) and aiohttp's
    // parser refuse it too. The line is the three parts and two spaces exactly, or it had more.
    if (scan.start_line_length() != head.method.size() + head.target.size() + 10) {
      return fail(
          "http: more than one space between the method, the target and the version of the "
          "request line (RFC 9112 section 3)");
    }
  } else {
    head.status = llhttp_get_status_code(&p);
    // llhttp takes one to three digits and any version: a status is three digits, 100-999 here
    // (RFC 9112 section 4; RFC 9110 section 15), and HTTP/1.1 responses are HTTP/1.x (a server
    // answers 505 to other versions itself).
    if (head.status < 100) {
      return fail(
          "http: no three-digit status code (100-999) after the version and one space in "
          "the status line (read " +
          std::to_string(head.status) + ")");
    }
    if (head.version_major != 1) {
      return fail("http: response version HTTP/" + std::to_string(head.version_major) + "." +
                  std::to_string(head.version_minor) + " (not HTTP/1.x)");
    }
  }
  const bool http11 = head.version_major == 1 && head.version_minor >= 1;

  std::string_view unsupported;  // a response's transfer coding other than chunked, if any
  if (!transfer_encodings.empty()) {
    if (!http11) return fail("http: Transfer-Encoding in an HTTP/1.0 message");
    const std::string& last = transfer_encodings.back();
    if (!iequals(last, "chunked")) {
      return fail("http: Transfer-Encoding whose final coding is '" + last + "', not chunked");
    }
    for (std::size_t i = 0; i + 1 < transfer_encodings.size(); ++i) {
      if (iequals(transfer_encodings[i], "chunked")) {
        return fail("http: Transfer-Encoding with chunked before the final coding");
      }
      // Only chunked is decoded: a response body under another transfer coding would reach the
      // user still encoded, as if it were the content (RFC 9112 section 6.1); refused below if the
      // response has a body (a HEAD or 304 response may name the codings of the one it stands
      // for). A request's is answered 501 by the server, which sees the codings in the head.
      if (unsupported.empty()) unsupported = transfer_encodings[i];
    }
    head.chunked = true;
  }
  if (request) {
    if (hosts > 1) return fail("http: several Host fields");
    if (hosts == 0 && http11) return fail("http: HTTP/1.1 request without a Host field");
    if (!head.target.empty() && head.target.front() != '/' && head.target != "*") {
      if (const int rc = take_target_authority(); rc != 0) return rc;
    }
    // HTTP/1.0 has no 100 (Continue) to send (RFC 9110 section 15.2): its Expect is ignored.
    head.expect_continue = http11 && expects_continue;
    if (!http11) head.expect_other = false;
  }
  head.upgrade = p.upgrade != 0;
  // close in any Connection field ends the connection after this message, whatever else the
  // fields say (RFC 9112 section 9.6); llhttp's answer covers the rest (version, keep-alive,
  // a body read until close).
  head.keep_alive = llhttp_should_keep_alive(&p) != 0 && !connection_close;

  bool no_body = false;
  if (!request) {
    const int st = head.status;
    if (st / 100 == 1 && st != 101) {
      // Interim response: no body, whatever its fields say (RFC 9112 section 6.3 item 1; llhttp
      // 8.1 would read one by its Content-Length or chunked); feed() skips it.
      skipping_1xx = true;
      p.flags |= F_SKIPBODY;
      // Its Connection: close is not the connection's end (the final response follows): llhttp
      // would refuse the bytes after it.
      p.flags &= ~static_cast<decltype(p.flags)>(F_CONNECTION_CLOSE);
      return 0;
    }
    no_body = st == 204 || st == 304 || answers_head || (answers_connect && st / 100 == 2);
  }
  // The framing llhttp applies must be the one checked above: a Transfer-Encoding whose last
  // coding this layer reads as chunked and llhttp does not ("chunked\t", "chunked,": llhttp
  // matches the whole item) would be read until the connection closes, its chunk lines taken as
  // content.
  if (!no_body && head.chunked && (p.flags & F_CHUNKED) == 0) {
    return fail(
        "http: Transfer-Encoding that ends in chunked followed by whitespace or an empty "
        "item (not framed as chunked)");
  }
  if (!no_body && !request && !unsupported.empty()) {
    return fail("http: unsupported transfer coding '" + std::string(unsupported.substr(0, 64)) +
                "' (only chunked is implemented)");
  }
  if (no_body) {
    // A 204 that declares a body (a Content-Length above 0, or chunked: RFC 9110 section 8.6 and
    // RFC 9112 section 6.1 forbid both) has none read; bytes the server sends for it would be read
    // as the next response: its connection is not kept.
    if (!request && head.status == 204 && (head.chunked || head.content_length.value_or(0) != 0)) {
      head.keep_alive = false;
    }
    head.chunked = false;
    // What returning 1 does; llhttp reads it in after_headers_complete, where the pause resumes.
    p.flags |= F_SKIPBODY;
  } else if (limits.max_body && head.content_length && *head.content_length > *limits.max_body) {
    return fail_limit(limit_kind::body, static_cast<std::size_t>(*limits.max_body),
                      "http: Content-Length " + std::to_string(*head.content_length) +
                          " over the body limit of " + std::to_string(*limits.max_body) + " bytes");
  }
  state = phase::body;
  event = pending::head;
  // The body starts with the first chunk's size, unless llhttp reads no body after this head: it
  // takes a CONNECT request and a 101 response as upgrades (llhttp__after_headers_complete), and
  // what follows is another protocol.
  const bool upgrades = request ? llhttp_get_method(&p) == HTTP_CONNECT : head.status == 101;
  in_chunk_size = head.chunked && !upgrades;
  chunk_size_bytes = 0;
  chunk_crlf_left = 0;
  return HPE_PAUSED;
}

const llhttp_settings_t& parser::impl::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_begin = cb_on_message_begin;
    st.on_url = cb_on_url;
    st.on_status = cb_on_status;
    st.on_header_field = cb_on_header_field;
    st.on_header_value = cb_on_header_value;
    st.on_header_field_complete = cb_on_header_field_complete;
    st.on_header_value_complete = cb_on_header_value_complete;
    st.on_headers_complete = cb_on_headers_complete;
    st.on_body = cb_on_body;
    st.on_message_complete = cb_on_message_complete;
    st.on_chunk_extension_name = cb_on_chunk_extension;
    st.on_chunk_extension_value = cb_on_chunk_extension;
    st.on_chunk_extension_name_complete = cb_on_chunk_extension_part_done;
    st.on_chunk_extension_value_complete = cb_on_chunk_extension_part_done;
    st.on_chunk_complete = cb_on_chunk_complete;
    st.on_chunk_header = cb_on_chunk_header;
    return st;
  }();
  return s;
}

// ---- parser -------------------------------------------------------------------------------------

parser::parser(mode m, parse_limits limits) : impl_(std::make_unique<impl>(m, limits)) {
  impl_->begin_message();
}
parser::parser() noexcept = default;
parser::~parser() = default;
parser::parser(parser&&) noexcept = default;
parser& parser::operator=(parser&&) noexcept = default;

void parser::reset() {
  auto& s = *impl_;
  s.answers_head = s.answers_connect = false;
  s.event = pending::none;
  s.body = {};
  s.state = phase::idle;
  s.begin_message();
  s.interim_bytes = 0;
  if (!s.dead) llhttp_reset(&s.p);
}

void parser::set_request_method(std::string_view method) {
  impl_->answers_head = iequals(method, "HEAD");
  impl_->answers_connect = iequals(method, "CONNECT");
}

parse_result parser::feed(std::span<const char> in) {
  auto& s = *impl_;
  if (s.dead) throw error("http: parser used after an error (the connection must close)");
  if (s.state == phase::done) return parse_result{0, parse_event::end, {}};
  if (in.empty() && s.state == phase::idle) return parse_result{};
  if (s.method_pending) {
    s.judge_method(in.data(), in.data() + in.size());
    return parse_result{in.size(), parse_event::need_more, {}};
  }

  static constexpr char nothing[1] = {0};
  std::size_t off = 0;
  for (;;) {
    const std::span<const char> rest = in.subspan(off);
    if (s.state == phase::idle || s.state == phase::head || s.state == phase::trailers) {
      if (!rest.empty() && s.state == phase::idle) s.state = phase::head;
      if (!s.scan.done()) {
        std::optional<failure_info> fail;
        const std::size_t good = s.scan.scan(rest, fail);
        if (fail) {
          // The first failure in byte order wins, whichever layer finds it, so that the error
          // does not depend on how the bytes were split: llhttp sees the good bytes first.
          const char* data = good == 0 ? "" : rest.data();
          const llhttp_errno_t err = coreio_llhttp_execute(&s.p, data, good);
          if (err == HPE_INVALID_METHOD && s.request) {
            s.judge_method(llhttp_get_error_pos(&s.p), rest.data() + rest.size());
            return parse_result{in.size(), parse_event::need_more, {}};
          }
          if (err != HPE_OK && err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE) s.throw_llhttp(err);
          s.failure = std::move(fail);
          s.throw_failure();
        }
      }
    }
    if (s.in_chunk_size && !rest.empty()) s.scan_chunk_size(rest);
    const char* data = rest.empty() ? nothing : rest.data();
    s.event = pending::none;
    const llhttp_errno_t err = coreio_llhttp_execute(&s.p, data, rest.size());
    s.hold_field();
    std::size_t n = rest.size();
    if (err != HPE_OK) {
      const char* pos = llhttp_get_error_pos(&s.p);
      if (pos != nullptr && pos >= data && pos <= data + rest.size()) {
        n = static_cast<std::size_t>(pos - data);
      }
    }
    off += n;
    if (err == HPE_OK) return parse_result{off, parse_event::need_more, {}};
    if (err == HPE_PAUSED_UPGRADE) {
      // After the end of an upgrade (101, CONNECT): the rest is another protocol.
      s.state = phase::done;
      return parse_result{off, parse_event::end, {}};
    }
    if (err == HPE_INVALID_METHOD && s.request) {
      s.judge_method(llhttp_get_error_pos(&s.p), rest.data() + rest.size());
      return parse_result{in.size(), parse_event::need_more, {}};
    }
    if (err != HPE_PAUSED) s.throw_llhttp(err);
    llhttp_resume(&s.p);
    switch (s.event) {
      case pending::head:
        return parse_result{off, parse_event::head, {}};
      case pending::body: {
        const auto b = s.body;
        s.body = {};
        return parse_result{off, parse_event::body, b};
      }
      case pending::end:
        return parse_result{off, parse_event::end, {}};
      case pending::trailers:
        s.scan.reset_for_trailers();
        continue;
      case pending::skipped_1xx: {
        // Interim responses share one head budget (max_head bytes) before the final response: a
        // server that sends them without end cannot hold a request that has no deadline (Go's
        // client bounds them so too).
        const std::size_t interim = s.interim_bytes + s.scan.total();
        if (interim > s.limits.max_head) {
          s.failure = failure_info{true, limit_kind::header_block, s.limits.max_head,
                                   "http: interim (1xx) responses over " +
                                       std::to_string(s.limits.max_head) +
                                       " bytes before the final response"};
          s.throw_failure();
        }
        s.begin_message();
        s.interim_bytes = interim;
        s.state = phase::idle;
        if (off == in.size()) return parse_result{off, parse_event::need_more, {}};
        continue;
      }
      case pending::none:
        break;
    }
    // A pause no callback asked for cannot happen; treat it as a broken parser.
    s.dead = true;
    throw error("http: internal parser error (unexpected pause)");
  }
}

parse_result parser::finish() {
  auto& s = *impl_;
  if (s.dead) throw error("http: parser used after an error (the connection must close)");
  switch (s.state) {
    case phase::idle:
      return parse_result{};
    case phase::done:
      return parse_result{0, parse_event::end, {}};
    case phase::head:
      s.dead = true;
      throw error("http: connection closed before the end of the " + s.kind() + " head");
    case phase::body: {
      // A message whose head said "no body" (or whose body is complete) ends on no byte at all.
      const parse_result r = feed(std::span<const char>());
      if (r.event == parse_event::end) return r;
      break;
    }
    case phase::trailers:
      break;
  }
  s.finishing = true;
  s.event = pending::none;
  const llhttp_errno_t err = llhttp_finish(&s.p);
  s.finishing = false;
  if (err == HPE_OK && s.event == pending::end) return parse_result{0, parse_event::end, {}};
  if (s.failure) s.throw_failure();
  s.dead = true;
  std::string what = "http: connection closed before the end of the " + s.kind() + " body";
  if (s.head.chunked) {
    what += " (chunked, " + std::to_string(s.body_bytes) + " bytes received)";
  } else if (s.head.content_length) {
    what += " (" + std::to_string(s.body_bytes) + " of " + std::to_string(*s.head.content_length) +
            " bytes)";
  }
  throw error(what);
}

bool parser::request_is_head() const noexcept {
  // llhttp reports the target (on_url) only after the method: a target begun means the method is
  // known.
  return impl_ != nullptr && impl_->request && !impl_->head.target.empty() &&
         llhttp_get_method(&impl_->p) == HTTP_HEAD;
}

const message_head& parser::head() const noexcept { return impl_->head; }
message_head& parser::head() noexcept { return impl_->head; }

bool use_llhttp_sse42(bool on) noexcept { return coreio_llhttp_use_sse42(on ? 1 : 0) != 0; }

}  // namespace coreio::http::detail
