// http/server_usage_test.cpp — what the server refuses from its user, and what it owes them at
// the edges of its life: routes that could never run or whose pattern is malformed, a second
// bind() or serve(), routes and binds after serve() (each a coreio::usage_error naming the fault);
// header names and values that would split a response (http::error, and a 500 with nothing
// injected when a handler tries); requests in the absolute form routed by their path, versions
// other than 1.x answered 505; and serve() returning only once every connection's descriptor is
// closed.
#include <coreio/http/server.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/http/errors.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/time.hpp>

#include "support/server_support.hpp"

namespace coreio_http_test {
namespace {

coreio::task<http::response> ok(http::request&) { co_return http::response{200, "ok"}; }

// The message of the usage_error that route(method, pattern) throws, or "" if it adds the route.
std::string route_error(http::server& srv, const char* method, const char* pattern) {
  try {
    srv.route(method, pattern, ok);
  } catch (const coreio::usage_error& e) {
    return e.what();
  }
  return "";
}

TEST(ServerUsage, RoutesThatCouldNeverRunAreRefused) {
  http::server srv{http::server_options{}};
  EXPECT_EQ(route_error(srv, "GET", "/users/{id}"), "");
  EXPECT_EQ(route_error(srv, "POST", "/users/{id}"), "");  // another method: reachable
  EXPECT_EQ(route_error(srv, "GET", "/users/me/x"), "");   // another length: reachable
  // The same method and pattern, or the same up to capture names: the first always answers.
  const std::string same = route_error(srv, "GET", "/users/{id}");
  EXPECT_NE(same.find("would never run"), std::string::npos) << same;
  EXPECT_NE(same.find("GET /users/{id} is routed before it"), std::string::npos) << same;
  const std::string renamed = route_error(srv, "GET", "/users/{name}");
  EXPECT_NE(renamed.find("GET /users/{name} would never run"), std::string::npos) << renamed;
  // GET answers HEAD too: a later HEAD route for the same pattern is unreachable...
  EXPECT_NE(route_error(srv, "HEAD", "/users/{id}").find("would never run"), std::string::npos);
  // ...but a literal segment before a capture is not the same pattern.
  EXPECT_EQ(route_error(srv, "GET", "/users/{id}/posts"), "");
  EXPECT_EQ(route_error(srv, "GET", "/items/all"), "");
  EXPECT_EQ(route_error(srv, "GET", "/items/{id}"), "");  // matched after the literal one
  // A literal after a capture at its place: the capture takes every such request first.
  const std::string literal = route_error(srv, "GET", "/items/new");
  EXPECT_NE(literal.find("GET /items/new would never run: GET /items/{id}"), std::string::npos)
      << literal;
  EXPECT_EQ(route_error(srv, "GET", "/items/"), "");  // a capture does not match ""
  EXPECT_EQ(route_error(srv, "GET", "/{any}/posts"), "");
  EXPECT_NE(route_error(srv, "GET", "/pages/posts").find("is routed before it"), std::string::npos);
  // A HEAD route before GET's stays reachable (it is tried first).
  EXPECT_EQ(route_error(srv, "HEAD", "/h"), "");
  EXPECT_EQ(route_error(srv, "GET", "/h"), "");
}

TEST(ServerUsage, MalformedPatternsAreRefused) {
  http::server srv{http::server_options{}};
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"users", "must start with '/'"},
      {"", "must start with '/'"},
      {"/a/{x", "a literal or a whole {name}"},
      {"/a/x}", "a literal or a whole {name}"},
      {"/a/{x}y", "a literal or a whole {name}"},
      {"/a/pre{x}", "a literal or a whole {name}"},
      {"/a/{{x}}", "a literal or a whole {name}"},
      {"/a/{}", "a capture without a name"},
      {"/d/{x}/{x}", "capture 'x' appears twice"},
  };
  for (const auto& [pattern, why] : cases) {
    const std::string e = route_error(srv, "GET", pattern);
    EXPECT_NE(e.find("invalid pattern '" + std::string(pattern) + "'"), std::string::npos)
        << pattern << ": " << e;
    EXPECT_NE(e.find(why), std::string::npos) << pattern << ": " << e;
  }
  EXPECT_EQ(route_error(srv, "GET", "/d/{x}/{y}"), "");
}

coreio::task<void> bind_and_serve_once() {
  http::server srv{test_options()};
  add_routes(srv);
  const std::uint16_t port = srv.bind("127.0.0.1", 0);
  try {
    (void)srv.bind("127.0.0.1", 0);
    ADD_FAILURE() << "a second bind() was accepted";
  } catch (const coreio::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("already bound to port " + std::to_string(port)),
              std::string::npos)
        << e.what();
  }
  coreio::join_handle<void> served = coreio::spawn(srv.serve());
  // A response proves that serve() has begun.
  http::client session;
  const std::string u = "http://127.0.0.1:" + std::to_string(port) + "/hello";
  http::response r = co_await session.get(u);
  EXPECT_EQ(r.status(), 200);
  std::string body = co_await r.text();
  EXPECT_EQ(body, "Hello, World!");
  EXPECT_THROW(srv.route("GET", "/late", ok), coreio::usage_error);
  EXPECT_THROW((void)srv.bind("127.0.0.1", 0), coreio::usage_error);
  bool second_serve_refused = false;
  try {
    coreio::task<void> again = srv.serve();
    co_await std::move(again);
  } catch (const coreio::usage_error& e) {
    second_serve_refused = std::string(e.what()).find("already served") != std::string::npos;
  }
  EXPECT_TRUE(second_serve_refused);
  // The late route was not added: still 404, and the server still serves.
  const std::string late = "http://127.0.0.1:" + std::to_string(port) + "/late";
  http::response r2 = co_await session.get(late);
  EXPECT_EQ(r2.status(), 404);
  std::string b2 = co_await r2.text();
  co_await session.close();
  srv.stop();
  co_await served;
}

TEST(ServerUsage, BindAndServeOnceAndRoutesBeforeServing) { run_test(bind_and_serve_once); }

TEST(ServerUsage, StatusesAndHeaderFieldsThatWouldBreakAResponseAreRefused) {
  http::response r{200, "x"};
  EXPECT_THROW(r.set_header("X-A", "a\r\nSet-Cookie: injected=1"), http::error);
  EXPECT_THROW(r.set_header("X-A", "a\nb"), http::error);
  EXPECT_THROW(r.add_header("X-A", std::string_view("a\0b", 3)), http::error);
  EXPECT_THROW(r.set_header("X-A: v\r\nSet-Cookie", "x"), http::error);
  EXPECT_THROW(r.add_header("Bad Name", "x"), http::error);
  EXPECT_THROW(r.add_header("", "x"), http::error);
  EXPECT_FALSE(r.header("x-a").has_value());
  EXPECT_FALSE(r.header("set-cookie").has_value());
  r.set_header("X-A", "a, b\tc");  // tabs and commas are field content
  EXPECT_EQ(r.header("x-a").value_or(""), "a, b\tc");
  EXPECT_THROW(http::response(99), coreio::usage_error);
  EXPECT_THROW(http::response(1000, "x"), coreio::usage_error);
  EXPECT_THROW(http::response(-200), coreio::usage_error);
  EXPECT_EQ(http::response(599).status(), 599);
  http::stream_response s{200};
  EXPECT_THROW(s.set_header("X-Name: v\r\nSet-Cookie", "x"), http::error);
  EXPECT_THROW(s.add_header("X-A", "v\r\nSet-Cookie: injected=1"), http::error);
}

coreio::task<void> injection_from_a_request() {
  running_server rs{test_options(), [](http::server& srv) {
                      srv.route(
                          "GET", "/lang", [](http::request& req) -> coreio::task<http::response> {
                            http::response r{200, "x"};
                            r.set_header("Content-Language", req.query("lang").value_or("en"));
                            co_return r;
                          });
                    }};
  const std::string raw = co_await send_and_read(
      rs.port,
      "GET /lang?lang=en%0D%0ASet-Cookie:%20injected=1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /lang?lang=fr HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  // The handler's set_header threw: 500, nothing injected, and the connection still serves.
  EXPECT_EQ(status_line(raw), "HTTP/1.1 500 Internal Server Error") << raw;
  EXPECT_EQ(raw.find("injected"), std::string::npos) << raw;
  EXPECT_NE(raw.find("Content-Language: fr\r\n"), std::string::npos) << raw;
  co_await rs.stop();
}

TEST(ServerUsage, AHandlerCannotInjectHeaderLines) { run_test(injection_from_a_request); }

coreio::task<void> absolute_form() {
  running_server rs{test_options()};
  // RFC 9112 section 3.2.2: a server must accept the absolute form; it is routed by its path.
  const std::string a =
      co_await send_and_read(rs.port,
                             "GET http://127.0.0.1/users/7?q=a+b HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Connection: close\r\n\r\n");
  EXPECT_EQ(status_line(a), "HTTP/1.1 200 OK") << a;
  EXPECT_NE(a.find("\r\n\r\n7 /users/7 a b"), std::string::npos) << a;
  const std::string b = co_await send_and_read(
      rs.port,
      "GET HTTP://example.com:8080/hello HTTP/1.1\r\nHost: example.com:8080\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_EQ(status_line(b), "HTTP/1.1 200 OK") << b;
  const std::string c = co_await send_and_read(
      rs.port, "GET http://127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_line(c), "HTTP/1.1 404 Not Found") << c;  // path "/": no route for it
  co_await rs.stop();
}

TEST(ServerUsage, AbsoluteFormIsRoutedByItsPath) { run_test(absolute_form); }

coreio::task<void> other_versions() {
  running_server rs{test_options()};
  for (const char* version : {"HTTP/2.0", "HTTP/0.9"}) {
    const std::string raw =
        co_await send_and_read(rs.port, std::string("GET /hello ") + version +
                                            "\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\n"
                                            "Host: a\r\n\r\n");
    // Answered 505, and the connection closed without reading the pipelined request.
    EXPECT_EQ(status_line(raw), "HTTP/1.1 505 HTTP Version Not Supported") << version << raw;
    EXPECT_EQ(count(raw, "HTTP/1.1 "), 1u) << version << raw;
  }
  const std::string ten = co_await send_and_read(rs.port, "GET /hello HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_line(ten), "HTTP/1.1 200 OK") << ten;
  co_await rs.stop();
}

TEST(ServerUsage, VersionsOtherThanOneGet505) { run_test(other_versions); }

coreio::task<void> serve_returns_after_sockets_closed() {
  running_server rs{test_options()};
  http::client session;
  const std::string u = rs.url("/hello");
  {
    // Eight connections at once, then all idle in the client's pool (keep-alive).
    std::vector<http::response> held;
    for (int i = 0; i < 8; ++i) held.push_back(co_await session.get(u));
    for (auto& r : held) {
      std::string b = co_await r.text();
      EXPECT_EQ(b, "Hello, World!");
    }
  }
  EXPECT_EQ(rs.srv.stats().connections_open, 8u);
  co_await rs.stop();
  // serve() has returned: every descriptor is closed already, not a moment later.
  const http::server_stats st = rs.srv.stats();
  EXPECT_EQ(st.connections_accepted, 8u);
  EXPECT_EQ(st.connections_closed, 8u);
  EXPECT_EQ(st.connections_open, 0u);
  co_await session.close();
}

TEST(ServerUsage, ServeReturnsOnceEveryDescriptorIsClosed) {
  run_test(serve_returns_after_sockets_closed);
}

}  // namespace
}  // namespace coreio_http_test
