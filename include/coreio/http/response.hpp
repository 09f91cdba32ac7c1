// coreio/http/response.hpp — an HTTP response: what the client received (aiohttp's
// ClientResponse) or what a server handler returns (aiohttp.web.Response). One type for both.
//
// Received (client): status(), reason(), header(name), headers() come with the response; the body
// is read on demand with read_chunk() (streaming, decoded), read() or text() (whole). While the
// body is unread the response holds its connection; reading it to the end returns the connection
// to the client's pool. A response dropped (destroyed, or moved-from and assigned) before its body
// was read to the end gives its connection back if the rest of the body is already buffered, and
// closes it otherwise: it never holds a pool slot once gone. url() is the final URL, history() the
// redirect responses that led to it (oldest first, bodies discarded).
//
// Built (server): `http::response{200, "Hello, World!"}` (Content-Type text/plain; charset=utf-8
// unless a Content-Type is set), set_header / add_header, set_body; body() gives the bytes.
//
// Errors: read_chunk / read / text throw http::error for a malformed body (bad chunk framing, a
// body cut short, corrupt compressed data), http::limit_error for a body or decoded size over its
// cap, coreio::timeout_error naming the phase ("sock_read", "total"), std::system_error for a
// socket error. After such an error the body is at its end, and read_chunk / read / text throw
// the same error again (as aiohttp raises again).
// raise_for_status() throws http::status_error for a status of 400 or more.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe (one task at a time); a response
// may move between tasks and workers, and may outlive the client that made it (its body then
// still reads; its connection is closed at the end instead of pooled). A received response must
// not outlive its runtime (it may hold a socket of that runtime's loops).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <coreio/http/errors.hpp>
#include <coreio/http/options.hpp>
#include <coreio/task.hpp>

namespace coreio::http {

namespace detail {
struct response_state;
struct body_reader;
}  // namespace detail

/// The reason phrase IANA's status code registry gives a status code ("OK", "Not Found", "Too
/// Early"), or "" for an unregistered one.
std::string_view reason_phrase(int status) noexcept;

/// An HTTP response (see the file comment). Move-only.
///
/// Example (client):
///   http::response r = co_await session.get(url);
///   if (auto type = r.header("content-type")) std::cout << *type << '\n';
///   std::string body = co_await r.text();
///   r.raise_for_status();
/// Example (server):
///   http::response r{201, "created"};
///   r.set_header("Location", "/items/7");
class response {
 public:
  /// 200 OK, no body.
  response();
  /// A response to send: status, body, Content-Type text/plain; charset=utf-8 (none for 1xx, 204,
  /// 205 and 304, which have no content and whose body is not sent). Throws
  /// coreio::usage_error for a status that is not a three-digit code (100-999), which would make
  /// a malformed status line.
  response(int status, std::string body);
  /// The same without a body or Content-Type.
  explicit response(int status);
  response(response&&) noexcept;
  response& operator=(response&&) noexcept;
  response(const response&) = delete;
  response& operator=(const response&) = delete;
  /// A received response with an unread body releases or closes its connection (file comment).
  ~response();

  /// The status code (200).
  int status() const noexcept;
  /// The reason phrase as received ("OK"), or the standard one for a built response.
  std::string_view reason() const noexcept;
  /// HTTP version of a received response: 10 or 11 (a later HTTP/1 minor version is read as 1.1,
  /// RFC 9110 section 2.5).
  int version() const noexcept;
  /// True for a status below 400 (aiohttp's ok).
  bool ok() const noexcept { return status() < 400; }

  /// The first value of the header `name` (case-insensitive), or std::nullopt. The view is valid
  /// until the headers change or the response is destroyed.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  /// Every header field in the order received (or set), duplicates kept (Set-Cookie).
  const fields& headers() const noexcept;
  /// Replaces every field named `name` (case-insensitive) by one with `value`. Throws
  /// http::error when the name is not an RFC 9110 token or the value holds CR, LF or NUL (a value
  /// from a request could otherwise add header lines of its own: response splitting).
  void set_header(std::string_view name, std::string_view value);
  /// Appends a field (duplicates allowed), except Content-Type, which has one value (RFC 9110
  /// section 8.3) and is set as set_header sets it. Throws as set_header does.
  void add_header(std::string_view name, std::string_view value);

  /// The URL this response answered (after redirects).
  const std::string& url() const noexcept;
  /// The redirect responses that led here, oldest first (aiohttp's history); bodies discarded.
  const std::vector<response>& history() const noexcept;

  /// Built response: the body to send. Received response: the bytes read() / text() collected.
  std::string_view body() const noexcept;
  /// Replaces the body of a built response.
  void set_body(std::string body);

  /// The next piece of the (decoded) body; an empty span at the end. A piece is what one socket
  /// read brought (up to the connection's buffer), or, decoded, at most about 320 KiB however far
  /// the body expands (the rest comes with the next calls). The bytes stay valid until the next
  /// call on this response. Worker only.
  task<std::span<const std::byte>> read_chunk();
  /// The rest of the (decoded) body, whole; it is also body(). Once the body is at its end,
  /// again what read() or text() collected (as aiohttp's read() returns its body again): empty if
  /// read_chunk() took it all. Worker only.
  task<std::string> read();
  /// read() as text, in UTF-8, from the charset of Content-Type: ISO-8859-1 (`iso-8859-1`,
  /// `latin1`, ...) byte for code point; Windows-1252 (`windows-1252`, `cp1252`) with its
  /// characters at 0x80-0x9F (the WHATWG Encoding Standard's table); `us-ascii` with any byte
  /// over 0x7F as U+FFFD. Any other charset (UTF-8 included) or none: the bytes as they are.
  task<std::string> text();
  /// Closes the connection now if the body is unread (aiohttp's close()); the body ends. A body
  /// cut short so cannot be read: a later read(), text() or read_chunk() throws http::error (as
  /// aiohttp's "Connection closed"); one that had reached its end reads as before (read() gives
  /// again what it collected).
  void close() noexcept;

  /// Throws http::status_error for a status of 400 or more.
  void raise_for_status() const;

  /// Internal: a received response (the client builds these).
  explicit response(std::unique_ptr<detail::response_state> s) noexcept;
  detail::response_state& state() noexcept { return *s_; }

 private:
  std::unique_ptr<detail::response_state> s_;
};

}  // namespace coreio::http
