// src/http/parser.hpp — HTTP/1.1 message framing: llhttp (strict mode) plus coreio's own checks.
//
// Protocol: pull-style. The owner reads bytes from the socket into its buffer and calls feed() with
// the unconsumed bytes; feed() consumes a prefix and stops at the first event:
//
//   need_more  all of `in` was consumed; read more and feed again (or finish() at end of stream)
//   head       the head is complete: head() holds it (consumed stops right after the head)
//   body       `body` points at body bytes inside `in` (already de-chunked; valid until the
//              caller's buffer changes); feed again from in.subspan(consumed)
//   end        the message is complete; reset() before feeding the next one (keep-alive,
//              pipelining: bytes past `consumed` belong to the next message)
//
// Errors: feed() and finish() throw http::error (limit_error for limits, refused_request for a
// request with a status of its own) naming the malformed part;
// after a throw the parser is dead (the connection must close). Checks beyond llhttp strict mode
// (RFC 9112): obs-fold in a request (a response's is taken as spaces), an empty field name,
// whitespace before a colon, bare CR or LF, control characters in values, Transfer-Encoding on
// HTTP/1.0, empty, or with a final coding other than chunked (in a response with a body: any
// coding but chunked), Content-Length together with Transfer-Encoding, several or malformed
// Content-Length, (responses) a status under 100 or a version other than 1.x, (requests) a
// missing, duplicate or malformed Host on HTTP/1.1, and the size limits below (llhttp has none).
//
// Thread safety: one parser per connection, used by one task at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <coreio/http/errors.hpp>

namespace coreio::http::detail {

/// A request refused with a status of its own rather than 400 (RFC 9110 section 15): a method
/// that is a well-formed token but not one llhttp knows (501 Not Implemented, section 9.1).
class refused_request : public error {
 public:
  refused_request(int status, const std::string& what) : error(what), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

/// Size limits in bytes (counts for max_headers). Defaults: the client's (issue 11); the server
/// passes 8 KiB / 8 KiB / 32 KiB / 100.
struct parse_limits {
  std::size_t max_start_line = 8 * 1024;  ///< request line or status line
  std::size_t max_field = 8 * 1024;       ///< one header line (name + value); a chunk's size digits
  std::size_t max_head = 64 * 1024;       ///< the whole head
  std::size_t max_headers = 128;          ///< header fields
  std::optional<std::uint64_t> max_body;  ///< bytes of body (de-chunked); nullopt = no limit
};

/// Header fields as received, (name, value) in order: the name's case kept, the value without
/// surrounding whitespace. The type of http::fields, so that a head's fields can be handed to a
/// response whole.
using field_list = std::vector<std::pair<std::string, std::string>>;

/// Fields a head says it has, among those its reader looks for after parsing (bits of
/// message_head::noted): the reader skips its search of the fields when the bit is clear.
enum noted_field : std::uint8_t {
  noted_keep_alive = 1,        ///< Keep-Alive
  noted_content_encoding = 2,  ///< Content-Encoding
  noted_set_cookie = 4,        ///< Set-Cookie
};

/// A message head. Requests fill method/target; responses fill status/reason.
struct message_head {
  std::string method;
  std::string target;
  int status = 0;
  std::string reason;
  int version_major = 1;
  int version_minor = 1;
  field_list headers;      ///< in order, duplicates kept
  bool keep_alive = true;  ///< after this message (llhttp_should_keep_alive)
  bool chunked = false;    ///< Transfer-Encoding: chunked
  std::optional<std::uint64_t> content_length;
  bool upgrade = false;
  bool expect_continue = false;  ///< HTTP/1.1 request with Expect: 100-continue
  bool expect_other = false;     ///< HTTP/1.1 request with another expectation (RFC 9110 10.1.1)
  std::uint8_t noted = 0;        ///< noted_field bits of the fields present
  /// First value of a header, case-insensitive name; nullopt if absent.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
};

enum class parse_event { need_more, head, body, end };

struct parse_result {
  std::size_t consumed = 0;
  parse_event event = parse_event::need_more;
  std::span<const char> body;  ///< for parse_event::body
};

class parser {
 public:
  enum class mode { request, response };
  explicit parser(mode m, parse_limits limits = {});
  /// An empty parser: no state, nothing to parse with; it may only be assigned, tested and
  /// destroyed (a connection between requests, its parser lent back: scratch_pool.hpp).
  parser() noexcept;
  /// False for an empty or moved-from parser.
  bool has_state() const noexcept { return impl_ != nullptr; }
  ~parser();
  parser(parser&&) noexcept;
  parser& operator=(parser&&) noexcept;

  /// Ready for the next message on the same connection.
  void reset();
  /// Responses only: the method of the request this response answers (HEAD: no body) — call before
  /// the head completes. 1xx responses are skipped by feed() (never reported as a head) except
  /// 101 Switching Protocols.
  void set_request_method(std::string_view method);
  /// Consumes a prefix of `in`, stops at the first event (see the protocol above).
  parse_result feed(std::span<const char> in);
  /// The peer closed the stream: returns end for a read-until-close body, need_more if no message
  /// had begun; throws http::error naming the part if a message was cut short.
  parse_result finish();
  /// Requests only: the message being parsed is a HEAD request, as far as its request line has
  /// been read (false before its method and the start of its target are); for the status an
  /// error is answered with (no content in a response to HEAD: RFC 9110 section 9.3.2).
  bool request_is_head() const noexcept;
  /// The head of the current message (valid from the head event until reset()).
  const message_head& head() const noexcept;
  /// The same, for the owner to move strings out of (the client hands the fields to its response
  /// instead of copying them); the parser refills them for the next message after reset().
  message_head& head() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// For tests: every parser runs llhttp's SSE4.2 copy from now on (true; if the build and the CPU
/// have it) or its baseline copy (false); see src/http/llhttp_dispatch.h. Returns whether the
/// SSE4.2 copy is in use. Only while no parser runs.
bool use_llhttp_sse42(bool on) noexcept;

}  // namespace coreio::http::detail
