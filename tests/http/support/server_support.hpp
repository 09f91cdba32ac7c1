// http/support/server_support.hpp — what the server tests share: a server on a free port with the
// basic routes, raw loopback clients, and curl run on the blocking pool.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <coreio/http/server.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/to_thread.hpp>

#include "support/client_support.hpp"
#include "support/shell.hpp"

namespace coreio_http_test {

inline void add_routes(http::server& srv) {
  srv.route("GET", "/hello", [](http::request&) -> coreio::task<http::response> {
    co_return http::response{200, "Hello, World!"};
  });
  srv.route("POST", "/echo", [](http::request& req) -> coreio::task<http::response> {
    http::response r{200, std::string(req.body())};
    r.set_header("Content-Type", req.header("content-type").value_or("application/octet-stream"));
    co_return r;
  });
  srv.route("GET", "/users/{id}", [](http::request& req) -> coreio::task<http::response> {
    std::string body = std::string(req.match("id")) + " " + std::string(req.path()) + " " +
                       req.query("q").value_or("-");
    co_return http::response{200, body};
  });
  srv.route("GET", "/throw", [](http::request&) -> coreio::task<http::response> {
    throw std::runtime_error("handler failure (expected by the test)");
    co_return http::response{200, "never"};
  });
}

// A server on a free port, served by its own task; stop() and the drain at the end.
struct running_server {
  explicit running_server(const http::server_options& o,
                          const std::function<void(http::server&)>& more = {})
      : srv(o) {
    add_routes(srv);
    if (more) more(srv);
    port = srv.bind("127.0.0.1", 0);
    served = coreio::spawn(srv.serve());
  }
  coreio::task<void> stop() {
    srv.stop();
    co_await served;
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  http::server srv;
  std::uint16_t port = 0;
  coreio::join_handle<void> served;
};

inline http::server_options test_options() {
  http::server_options o{};
  o.max_body = 1024;
  o.header_timeout = 300ms;
  o.body_timeout = 300ms;
  o.keepalive_timeout = 5s;
  o.drain_timeout = 2s;
  return o;
}

// Writes `bytes` on a fresh connection and reads until the server closes it.
inline coreio::task<std::string> send_and_read(std::uint16_t port, const std::string& bytes) {
  // The task in its own statement: g++ 12 and temporaries inside a co_await expression.
  coreio::task<coreio::net::tcp_stream> connecting =
      coreio::net::tcp_stream::connect("127.0.0.1", port);
  coreio::net::tcp_stream s = co_await std::move(connecting);
  co_await s.write_all(std::string_view(bytes));
  std::string got;
  std::array<char, 4096> buf{};
  while (true) {
    auto rd = s.read_some(std::span<char>(buf));
    auto w = coreio::wait_for(std::move(rd), 5s);
    const std::size_t n = co_await std::move(w);
    if (n == 0) break;
    got.append(buf.data(), n);
  }
  co_return got;
}

inline std::string status_line(const std::string& raw) { return raw.substr(0, raw.find("\r\n")); }

inline std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

// curl as a real client (support/shell.hpp runs it without a fork of this process).
inline std::string run_curl(const std::string& args) {
  return coreio_test::run_shell("curl -sS --max-time 10 " + args).output;
}

// Runs curl with `args` on the blocking pool. The task is built in its own statement: g++ 12
// miscompiles a lambda with captures built inside a co_await expression (a use after free).
inline coreio::task<std::string> curl(const std::string& args) {
  auto call = [args] { return run_curl(args); };
  coreio::task<std::string> t = coreio::to_thread(std::move(call));
  std::string out = co_await std::move(t);
  co_return out;
}

}  // namespace coreio_http_test
