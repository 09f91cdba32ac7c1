// http/server_test.cpp — http::server end to end on loopback: the project's client against it
// (routes, captures, query, 404/405/500, keep-alive reuse), raw coreio::net clients for every
// malformed request class (each gets its status and the connection closes), pipelining order,
// the header deadline against a slow client, graceful stop with a request in flight, and curl as
// a real client (keep-alive, chunked upload, Expect: 100-continue, HEAD).
#include <coreio/http/server.hpp>

#include <gtest/gtest.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <coreio/net/tcp_stream.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/to_thread.hpp>

#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

void add_routes(http::server& srv) {
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

http::server_options test_options() {
  http::server_options o{};
  o.max_body = 1024;
  o.header_timeout = 300ms;
  o.body_timeout = 300ms;
  o.keepalive_timeout = 5s;
  o.drain_timeout = 2s;
  return o;
}

// Writes `bytes` on a fresh connection and reads until the server closes it.
coreio::task<std::string> send_and_read(std::uint16_t port, const std::string& bytes) {
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

std::string status_line(const std::string& raw) { return raw.substr(0, raw.find("\r\n")); }

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

coreio::task<void> client_routes() {
  running_server rs{test_options()};
  http::client session;
  {
    const std::string u = rs.url("/hello");
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.status(), 200);
    EXPECT_TRUE(r.header("date").has_value());
    EXPECT_EQ(r.header("server").value_or(""), "coreio");
    std::string body = co_await r.text();
    EXPECT_EQ(body, "Hello, World!");
  }
  {
    const std::string u = rs.url("/users/7?q=a+b");
    http::response r = co_await session.get(u);
    std::string body = co_await r.text();
    EXPECT_EQ(body, "7 /users/7 a b");
  }
  {
    const std::string u = rs.url("/echo");
    http::request_options o{.body = "ping", .headers = {{"Content-Type", "text/x-test"}}};
    http::response r = co_await session.post(u, o);
    EXPECT_EQ(r.header("content-type").value_or(""), "text/x-test");
    std::string body = co_await r.text();
    EXPECT_EQ(body, "ping");
  }
  {
    const std::string u = rs.url("/nowhere");
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.status(), 404);
    std::string body = co_await r.text();
  }
  {
    const std::string u = rs.url("/hello");
    http::response r = co_await session.request("DELETE", u);
    EXPECT_EQ(r.status(), 405);
    EXPECT_EQ(r.header("allow").value_or(""), "GET, HEAD");
    std::string body = co_await r.text();
  }
  {
    const std::string u = rs.url("/throw");
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.status(), 500);
    std::string body = co_await r.text();
  }
  {
    const std::string u = rs.url("/hello");
    http::response r = co_await session.get(u);  // same connection after the 500
    EXPECT_EQ(r.status(), 200);
    std::string body = co_await r.text();
  }
  const http::client_stats st = session.stats();
  EXPECT_EQ(st.connections_opened, 1u);
  EXPECT_EQ(st.connections_reused, 6u);
  co_await session.close();
  co_await rs.stop();
}
TEST(Server, ClientRoutesErrorsAndKeepAlive) { run_test(client_routes); }

struct bad_case {
  const char* name;
  std::string bytes;
  const char* status;
};

coreio::task<void> malformed_requests() {
  running_server rs{test_options()};
  const std::string tail = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";  // must never be answered
  const std::vector<bad_case> cases = {
      {"CL+TE",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       "HTTP/1.1 400"},
      {"duplicate CL",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       "HTTP/1.1 400"},
      {"malformed CL", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\na",
       "HTTP/1.1 400"},
      {"obs-fold", "GET /hello HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", "HTTP/1.1 400"},
      {"space before colon", "GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", "HTTP/1.1 400"},
      {"bare LF", "GET /hello HTTP/1.1\nHost: a\r\n\r\n", "HTTP/1.1 400"},
      {"bad chunk size",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
       "HTTP/1.1 400"},
      {"missing Host", "GET /hello HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
      {"duplicate Host", "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400"},
      {"control char in value", "GET /hello HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n",
       "HTTP/1.1 400"},
      {"TE on 1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       "HTTP/1.1 400"},
      {"unknown coding",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n",
       "HTTP/1.1 501"},
      {"long request line", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
       "HTTP/1.1 414"},
      {"long header",
       "GET /hello HTTP/1.1\r\nHost: a\r\nX-A: " + std::string(9000, 'b') + "\r\n\r\n",
       "HTTP/1.1 431"},
      {"big head",
       [] {
         std::string s = "GET /hello HTTP/1.1\r\nHost: a\r\n";
         for (int i = 0; i < 8; ++i)
           s += "X-" + std::to_string(i) + ": " + std::string(5000, 'c') + "\r\n";
         return s + "\r\n";
       }(),
       "HTTP/1.1 431"},
      {"many headers",
       [] {
         std::string s = "GET /hello HTTP/1.1\r\nHost: a\r\n";
         for (int i = 0; i < 120; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
         return s + "\r\n";
       }(),
       "HTTP/1.1 431"},
      {"body over max_body",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'd'),
       "HTTP/1.1 413"},
  };
  for (const bad_case& c : cases) {
    std::string bytes = c.bytes + tail;
    const std::string got = co_await send_and_read(rs.port, bytes);
    EXPECT_EQ(status_line(got).substr(0, 12), c.status) << c.name << ": " << status_line(got);
    EXPECT_EQ(count(got, "HTTP/1.1 "), 1u) << c.name << ": pipelined bytes after it were answered";
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << c.name;
  }
  co_await rs.stop();
}
TEST(Server, MalformedRequestsGetTheirStatusAndClose) { run_test(malformed_requests); }

coreio::task<void> pipelining_in_order() {
  running_server rs{test_options()};
  std::string bytes =
      "GET /users/1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
      "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /users/2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
      "GET /users/3 HTTP/1.1\r\nHost: a\r\n\r\n";  // after close: not answered
  const std::string got = co_await send_and_read(rs.port, bytes);
  const std::size_t a = got.find("\r\n\r\n1 /users/1 -");
  const std::size_t b = got.find("\r\n\r\nbody", a);
  const std::size_t c = got.find("HTTP/1.1 404", b);
  const std::size_t d = got.find("HTTP/1.1 200", c);
  const std::size_t e = got.find("\r\n\r\n2 /users/2 -", d);
  EXPECT_NE(a, std::string::npos);
  EXPECT_NE(b, std::string::npos);
  EXPECT_NE(c, std::string::npos);
  EXPECT_NE(d, std::string::npos);
  EXPECT_NE(e, std::string::npos);
  EXPECT_EQ(count(got, "HTTP/1.1 "), 5u);
  EXPECT_EQ(got.find("Hello, World!"), std::string::npos);  // HEAD: no body
  co_await rs.stop();
}
TEST(Server, PipelinedResponsesInOrder) { run_test(pipelining_in_order); }

coreio::task<void> keepalive_requests_cap() {
  http::server_options o = test_options();
  o.keepalive_requests = 2;
  running_server rs{o};
  std::string bytes =
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string got = co_await send_and_read(rs.port, bytes);
  EXPECT_EQ(count(got, "HTTP/1.1 200"), 2u);
  EXPECT_EQ(count(got, "Connection: close"), 1u);
  co_await rs.stop();
}
TEST(Server, KeepaliveRequestsCap) { run_test(keepalive_requests_cap); }

// A slow-loris client: part of a head, then nothing. The head deadline (300 ms from its first
// byte) answers 408 and closes; send_and_read() reads until that close.
coreio::task<void> header_deadline() {
  running_server rs{test_options()};
  const auto t0 = std::chrono::steady_clock::now();
  std::string slow = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slo";
  const std::string got = co_await send_and_read(rs.port, slow);
  EXPECT_EQ(status_line(got), "HTTP/1.1 408 Request Timeout");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  std::string short_body = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab";
  const std::string body = co_await send_and_read(rs.port, short_body);
  EXPECT_EQ(status_line(body), "HTTP/1.1 408 Request Timeout");
  co_await rs.stop();
}
TEST(Server, HeaderAndBodyDeadlines) { run_test(header_deadline); }

coreio::task<void> graceful_stop() {
  auto entered = std::make_shared<coreio::event>();
  auto release = std::make_shared<coreio::event>();
  http::server_options o = test_options();
  running_server rs{o, [&](http::server& srv) {
                      srv.route("GET", "/slow",
                                [entered, release](http::request&) -> coreio::task<http::response> {
                                  entered->set();
                                  co_await release->wait();
                                  co_return http::response{200, "late"};
                                });
                    }};
  // An idle keep-alive connection, and one with a request in flight.
  coreio::task<coreio::net::tcp_stream> c1 = coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
  coreio::net::tcp_stream idle = co_await std::move(c1);
  const std::string slow = "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n";
  coreio::join_handle<std::string> inflight = coreio::spawn(send_and_read(rs.port, slow));
  co_await entered->wait();
  rs.srv.stop();
  // The idle connection is closed by the server (end of stream), the slow one still runs.
  std::array<char, 64> buf{};
  auto rd = idle.read_some(std::span<char>(buf));
  auto w = coreio::wait_for(std::move(rd), 2s);
  const std::size_t n = co_await std::move(w);
  EXPECT_EQ(n, 0u);
  // The listener closed when stop() cancelled the accept loop (on its worker, before the idle
  // connection's close, which waits for its 100 ms idle slice): a new connection is refused.
  bool refused = false;
  try {
    coreio::task<coreio::net::tcp_stream> c2 =
        coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
    coreio::net::tcp_stream s = co_await std::move(c2);
  } catch (const std::exception&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  release->set();
  const std::string got = co_await inflight;
  EXPECT_EQ(status_line(got), "HTTP/1.1 200 OK");
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  EXPECT_NE(got.find("late"), std::string::npos);
  co_await rs.served;
}
TEST(Server, GracefulStopAnswersInFlight) { run_test(graceful_stop); }

coreio::task<void> drain_deadline_cancels() {
  http::server_options o = test_options();
  o.drain_timeout = 200ms;
  auto entered = std::make_shared<coreio::event>();
  running_server rs{o, [&](http::server& srv) {
                      srv.route("GET", "/never",
                                [entered](http::request&) -> coreio::task<http::response> {
                                  entered->set();
                                  coreio::event never;
                                  co_await never.wait();
                                  co_return http::response{200, "never"};
                                });
                    }};
  const std::string req = "GET /never HTTP/1.1\r\nHost: a\r\n\r\n";
  coreio::join_handle<std::string> inflight = coreio::spawn(send_and_read(rs.port, req));
  co_await entered->wait();
  co_await rs.stop();  // returns once the drain deadline cancelled the handler
  const std::string got = co_await inflight;
  EXPECT_EQ(got, "");
}
TEST(Server, DrainDeadlineCancelsWhatIsLeft) { run_test(drain_deadline_cancels); }

// curl as a real client, run on the blocking pool while the server serves. posix_spawn, not
// popen: a fork() of this multi-threaded process (mimalloc's fork handlers) has hung its workers'
// exit; posix_spawn runs no fork handlers.
std::string run_curl(const std::string& args) {
  char path[] = "/tmp/coreio_server_curl_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  close(fd);
  const std::string cmd = "curl -sS --max-time 10 " + args + " > " + path + " 2>&1";
  const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
      0) {
    return "posix_spawn failed";
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::string out;
  if (FILE* f = std::fopen(path, "rb")) {
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    std::fclose(f);
  }
  std::remove(path);
  return out;
}

// Runs curl with `args` on the blocking pool. The task is built in its own statement: g++ 12
// miscompiles a lambda with captures built inside a co_await expression (a use after free).
coreio::task<std::string> curl(const std::string& args) {
  auto call = [args] { return run_curl(args); };
  coreio::task<std::string> t = coreio::to_thread(std::move(call));
  std::string out = co_await std::move(t);
  co_return out;
}

coreio::task<void> curl_client() {
  running_server rs{test_options()};
  const std::string hello = rs.url("/hello");
  const std::string echo = rs.url("/echo");
  std::string a1 = "-v " + hello + " " + hello;
  const std::string keep = co_await curl(a1);
  EXPECT_EQ(count(keep, "Hello, World!"), 2u) << keep;
  EXPECT_NE(keep.find("Re-using existing connection"), std::string::npos) << keep;
  std::string a2 = "-H 'Transfer-Encoding: chunked' --data-binary 'chunked-body' " + echo;
  const std::string chunked = co_await curl(a2);
  EXPECT_EQ(chunked, "chunked-body");
  std::string a3 = "-v -H 'Expect: 100-continue' --data-binary 'continued' " + echo;
  const std::string cont = co_await curl(a3);
  EXPECT_NE(cont.find("HTTP/1.1 100 Continue"), std::string::npos) << cont;
  EXPECT_NE(cont.find("continued"), std::string::npos) << cont;
  std::string a4b = "-I " + hello;
  const std::string head = co_await curl(a4b);
  EXPECT_NE(head.find("HTTP/1.1 200 OK"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: 13"), std::string::npos) << head;
  EXPECT_EQ(head.find("Hello, World!"), std::string::npos) << head;
  co_await rs.stop();
}
TEST(Server, CurlKeepAliveChunkedContinueHead) { run_test(curl_client); }

}  // namespace
}  // namespace coreio_http_test
