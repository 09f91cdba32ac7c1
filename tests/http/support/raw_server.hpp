// http/support/raw_server.hpp — a scripted HTTP/1.1 peer on coreio::net for the client's tests:
// it reads each request (head, and a Content-Length or chunked body), asks the test's script what
// to answer, and sends exactly those bytes — malformed ones included — then closes, stalls or
// waits for the next request as the script says. It counts connections and requests so that tests
// can prove reuse and limits.
//
//   raw_server srv{[](const seen_request& r, std::size_t i) {
//     return reply{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
//   }};
//   ... co_await session.get(srv.url("/")) ...
//   EXPECT_EQ(srv.connections(), 1u);
//   co_await srv.stop();
//
// Loopback only (127.0.0.1, port 0). The script runs on a worker, inside the connection's task:
// it must not block. Made, used and stopped from tasks on one runtime; stop() before the runtime
// ends (it closes the open connections, stalled ones too, and waits for their tasks).
// Thread safety: the counters and seen() from any thread; the rest from tasks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <coreio/coreio.hpp>
#include <coreio/net/tcp_stream.hpp>

#include "support/test_support.hpp"

namespace coreio_http_test {

/// What the server answers one request with.
struct reply {
  reply() = default;
  reply(std::string b, bool close_after = false, bool stall_after = false)
      : bytes(std::move(b)), close(close_after), stall(stall_after) {}
  std::string bytes;                    ///< sent as is (may be empty)
  bool close = false;                   ///< close the connection after sending
  bool stall = false;                   ///< after sending, wait until the client closes
  std::chrono::milliseconds delay{0};   ///< wait this long before sending
  std::shared_ptr<coreio::event> hold;  ///< if set, wait until it is set before sending
  std::string then;                     ///< sent after `then_delay` (e.g. the rest of a body)
  std::chrono::milliseconds then_delay{0};
};

/// A request as the server read it.
struct seen_request {
  std::string head;            ///< request line and headers, up to and including the blank line
  std::string body;            ///< de-chunked
  std::size_t connection = 0;  ///< index of the connection it came on (0, 1, ...)
  std::size_t connection_request = 0;  ///< index of this request on its connection (0, 1, ...)
  /// The request line ("GET /x HTTP/1.1").
  std::string line() const { return head.substr(0, head.find("\r\n")); }
  /// A header's value ("" if absent), case-insensitive name.
  std::string header(std::string_view name) const;
};

using script = std::function<reply(const seen_request&, std::size_t index)>;

class raw_server {
 public:
  /// Binds 127.0.0.1:0 and serves. Worker only.
  explicit raw_server(script s);
  ~raw_server();
  std::uint16_t port() const;
  /// "http://127.0.0.1:<port><path>".
  std::string url(std::string_view path) const;
  /// Connections accepted so far.
  std::size_t connections() const;
  /// Connections open now (their task has not ended).
  std::size_t open_connections() const;
  /// Requests read so far.
  std::size_t requests() const;
  /// Every request read so far, in order.
  std::vector<seen_request> seen() const;
  /// Answer `Expect: 100-continue` with 100 Continue before reading the body (default: ignore it,
  /// as a server that does not know the header), after the bytes `before` (other interim
  /// responses, e.g. a 103).
  void send_continue(bool on, std::string before = {});
  /// Read each request's head only, never its body (a server that answers, or stalls, from the
  /// head; the client's body then fills the socket buffers and its write waits). A stalling reply
  /// then waits for stop() (at most 30 s) instead of reading until the client closes.
  void read_heads_only(bool on = true);
  /// Stops accepting, closes every open connection, waits for their tasks.
  coreio::task<void> stop();

  struct state;

 private:
  std::shared_ptr<state> s_;
};

/// Reads the body req's head announces from s (Content-Length, or chunked: de-chunked, trailers
/// not expected); "" for neither. Throws what the reads throw.
coreio::task<std::string> read_body(coreio::net::tcp_stream& s, const seen_request& req);

/// "HTTP/1.1 <status> X\r\nContent-Length: n\r\n<extra>\r\n<body>".
std::string ok_response(std::string_view body, std::string_view extra_headers = "",
                        int status = 200);

}  // namespace coreio_http_test
