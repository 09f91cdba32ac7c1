// coreio/http/server.hpp — the HTTP/1.1 server's names (aiohttp.web): server_options, request,
// server. DECLARATIONS ONLY: issue 12 implements them (branch wip/http-server); until then the
// header states the API the contract (../shared/contract/http.cpp) compiles against, and a program
// that calls these functions does not link. http::response (response.hpp) is shared with the
// client and is complete.
//
//   http::server_options sopts{.max_body = 1 << 20, .header_timeout = 10s, .keepalive_timeout = 75s};
//   http::server srv{sopts};
//   srv.route("GET", "/hello", [](http::request&) -> coreio::task<http::response> {
//     co_return http::response{200, "Hello, World!"};
//   });
//   std::uint16_t port = srv.bind("127.0.0.1", 0);
//   co_await srv.serve();                                   // until stop()
//
// Thread safety: the server is made, bound and served from a task on the runtime; stop() from any
// task or thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <coreio/http/options.hpp>
#include <coreio/http/response.hpp>
#include <coreio/task.hpp>

namespace coreio::http {

/// Configuration of a server (issue 12).
struct server_options {
  /// Largest request body accepted (413 beyond).
  std::size_t max_body = 1 << 20;
  /// Deadline for a whole request head, from its first byte (408 beyond).
  std::chrono::milliseconds header_timeout = std::chrono::milliseconds(10'000);
  /// How long an idle keep-alive connection stays open.
  std::chrono::milliseconds keepalive_timeout = std::chrono::milliseconds(75'000);
};

namespace detail {
struct server_request_state;
struct server_state;
}  // namespace detail

/// A request as a handler sees it.
class request {
 public:
  std::string_view method() const noexcept;
  /// The request target as received ("/users/7?x=1").
  std::string_view target() const noexcept;
  /// The target's path, percent-decoded ("/users/7").
  std::string_view path() const noexcept;
  /// A header's first value (case-insensitive name).
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  /// The whole body (up to server_options::max_body).
  std::string_view body() const noexcept;
  /// The value of a `{name}` segment of the matched route.
  std::string_view match(std::string_view name) const noexcept;

 private:
  detail::server_request_state* s_ = nullptr;
};

/// A route's handler.
using handler = std::function<task<response>(request&)>;

/// An HTTP/1.1 server (issue 12).
class server {
 public:
  explicit server(const server_options& options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Adds a route: method and path pattern ("/users/{id}").
  void route(std::string_view method, std::string_view pattern, handler h);
  /// Binds and listens; returns the port (0: the kernel chooses).
  std::uint16_t bind(std::string_view host, std::uint16_t port);
  /// Serves until stop() and the drain have finished.
  task<void> serve();
  /// Stops accepting at once and starts the graceful drain. Any thread.
  void stop();

 private:
  std::shared_ptr<detail::server_state> s_;
};

}  // namespace coreio::http
