// http/server_stream_test.cpp — the server's streaming and optional features end to end on
// loopback: stream_response read back piece by piece by the project's client (chunked and
// Content-Length), request bodies streamed through read_chunk() as they arrive (and their 413),
// gzip for clients that accept it, TLS with the project's client and curl, handler cancellation
// when the client disconnects, and one SO_REUSEPORT listener per worker (and max_connections with
// it).
#include <coreio/http/server.hpp>

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <coreio/net/tcp_stream.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/time.hpp>
#include <coreio/wait_for.hpp>

#include "support/log_capture.hpp"
#include "support/server_support.hpp"
#include "support/test_certs.hpp"

namespace coreio_http_test {
namespace {

struct feed_events {
  coreio::event go;  // the client read the first chunk
};

coreio::task<http::response> feed(std::shared_ptr<feed_events> ev, http::request& req) {
  http::stream_response out{200};
  out.set_header("Content-Type", "text/plain");
  co_await out.prepare(req);
  co_await out.write("first;");
  if (req.method() != "HEAD") co_await ev->go.wait();  // the client saw "first;" before this
  co_await out.write("second");
  co_await out.write_eof();
  co_return http::response{};
}

coreio::task<http::response> fixed(http::request& req) {
  http::stream_response out{201};
  out.set_header("Content-Length", "10");
  co_await out.prepare(req);
  co_await out.write("01234");
  co_await out.write("56789");
  co_return http::response{};  // the server ends it: write_eof() is implied
}

coreio::task<void> stream_response_pieces() {
  auto ev = std::make_shared<feed_events>();
  running_server rs{test_options(), [&](http::server& srv) {
                      srv.route("GET", "/feed", [ev](http::request& req) { return feed(ev, req); });
                      srv.route("GET", "/fixed", fixed);
                    }};
  http::client session;
  {
    const std::string u = rs.url("/feed");
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.status(), 200);
    EXPECT_EQ(r.header("transfer-encoding").value_or(""), "chunked");
    EXPECT_FALSE(r.header("content-length").has_value());
    std::span<const std::byte> c1 = co_await r.read_chunk();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(c1.data()), c1.size()), "first;");
    ev->go.set();
    std::string rest = co_await r.text();
    EXPECT_EQ(rest, "second");
  }
  {
    const std::string u = rs.url("/fixed");
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.status(), 201);
    EXPECT_EQ(r.header("content-length").value_or(""), "10");
    std::string body = co_await r.text();
    EXPECT_EQ(body, "0123456789");
  }
  EXPECT_EQ(session.stats().connections_opened, 1u);  // both streams ended cleanly: kept alive
  co_await session.close();
  // HEAD: the head of the stream, no body bytes.
  const std::string head = co_await send_and_read(
      rs.port, "HEAD /feed HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_line(head), "HTTP/1.1 200 OK");
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(head.find("first;"), std::string::npos) << head;
  co_await rs.stop();
}
TEST(ServerStream, StreamResponseIsReadBackPieceByPiece) { run_test(stream_response_pieces); }

// A handler that throws after its stream's head went out: the connection closes with the body
// unterminated (the client sees a cut stream), and the error is logged as before prepare() (a
// probe found it silent; aiohttp logs "Error handling request" in both cases).
coreio::task<http::response> throws_mid_stream(http::request& req) {
  http::stream_response out{200};
  co_await out.prepare(req);
  co_await out.write("part;");
  throw std::runtime_error("mid-stream failure (expected by the test)");
}

coreio::task<void> handler_error_after_prepare() {
  const coreio_test::log_capture logs;
  running_server rs{test_options(),
                    [](http::server& srv) { srv.route("GET", "/midway", throws_mid_stream); }};
  const std::string request = "GET /midway HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string got = co_await send_and_read(rs.port, request);
  EXPECT_EQ(status_line(got), "HTTP/1.1 200 OK");
  EXPECT_NE(got.find("part;"), std::string::npos) << got;
  EXPECT_EQ(got.find("0\r\n\r\n"), std::string::npos) << "the cut stream was terminated";
  EXPECT_EQ(logs.containing("/midway"),
            std::vector<std::string>{"error: http server: the handler for GET /midway threw: "
                                     "mid-stream failure (expected by the test)"});
  co_await rs.stop();
}
TEST(ServerStream, AHandlerErrorAfterPrepareIsLoggedAndCutsTheStream) {
  run_test(handler_error_after_prepare);
}

struct upload_events {
  coreio::event first_read;  // the handler has the first piece
};

coreio::task<http::response> upload(std::shared_ptr<upload_events> ev, http::request& req) {
  std::string note;
  try {
    (void)req.body();
  } catch (const coreio::usage_error&) {
    note = "body() refused;";
  }
  std::span<const std::byte> first = co_await req.read_chunk();
  note += "first=" + std::string(reinterpret_cast<const char*>(first.data()), first.size()) + ";";
  ev->first_read.set();
  std::string rest = co_await req.read();
  co_return http::response{200, note + "rest=" + rest};
}

coreio::task<void> streaming_request_body() {
  auto ev = std::make_shared<upload_events>();
  running_server rs{test_options(), [&](http::server& srv) {
                      srv.route(
                          "POST", "/upload", [ev](http::request& req) { return upload(ev, req); },
                          http::route_options{.stream_body = true});
                    }};
  coreio::task<coreio::net::tcp_stream> c = coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
  coreio::net::tcp_stream s = co_await std::move(c);
  co_await s.write_all(std::string_view(
      "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
  // The handler reads "hello" while the rest of the body has not been sent yet.
  auto waited = coreio::wait_for(ev->first_read.wait(), 2s);
  co_await std::move(waited);
  co_await s.write_all(std::string_view("6\r\n world\r\n0\r\n\r\n"));
  std::string got;
  std::array<char, 4096> buf{};
  while (got.find("rest=") == std::string::npos || got.find(" world") == std::string::npos) {
    auto rd = s.read_some(std::span<char>(buf));
    auto w = coreio::wait_for(std::move(rd), 2s);
    const std::size_t n = co_await std::move(w);
    if (n == 0) break;
    got.append(buf.data(), n);
  }
  EXPECT_EQ(status_line(got), "HTTP/1.1 200 OK");
  EXPECT_NE(got.find("body() refused;first=hello;rest= world"), std::string::npos) << got;
  // Past max_body (1024) while streaming: 413, the connection closes.
  std::string big = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) big += "200\r\n" + std::string(512, 'x') + "\r\n";
  big += "0\r\n\r\n";
  const std::string over = co_await send_and_read(rs.port, big);
  EXPECT_EQ(status_line(over), "HTTP/1.1 413 Content Too Large");
  // A declared Content-Length over max_body is refused before the handler runs.
  const std::string declared = co_await send_and_read(
      rs.port, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(status_line(declared), "HTTP/1.1 413 Content Too Large");
  co_await rs.stop();
}
TEST(ServerStream, RequestBodyIsStreamedThroughReadChunk) { run_test(streaming_request_body); }

// A stream_body handler that prepares its response before it reads the body (a streaming echo),
// for a client that withholds the body for a 100 Continue: the 100 goes out before the final head
// (RFC 9110 section 15.2), never inside the response, and the echo gets the body. Chunked and
// with the handler's own Content-Length; from a raw client (the bytes in order) and from the
// project's client with expect_continue.
coreio::task<http::response> echo_after_prepare(http::request& req) {
  http::stream_response out{200};
  if (req.query("length")) out.set_header("Content-Length", std::string(*req.query("length")));
  co_await out.prepare(req);
  for (;;) {
    std::span<const std::byte> piece = co_await req.read_chunk();
    if (piece.empty()) break;
    co_await out.write(std::string(reinterpret_cast<const char*>(piece.data()), piece.size()));
  }
  co_return http::response{};
}

coreio::task<void> continue_before_a_prepared_head() {
  running_server rs{test_options(), [](http::server& srv) {
                      srv.route("POST", "/echo_stream", echo_after_prepare,
                                http::route_options{.stream_body = true});
                    }};
  for (const char* target : {"/echo_stream", "/echo_stream?length=5"}) {
    coreio::task<coreio::net::tcp_stream> c =
        coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
    coreio::net::tcp_stream s = co_await std::move(c);
    co_await s.write_all(std::string_view(
        "POST " + std::string(target) +
        " HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    std::string got;
    std::array<char, 4096> buf{};
    const auto read_until = [&](std::string_view what) -> coreio::task<void> {
      while (got.find(what) == std::string::npos) {
        auto rd = s.read_some(std::span<char>(buf));
        auto w = coreio::wait_for(std::move(rd), 5s);
        const std::size_t n = co_await std::move(w);
        if (n == 0) break;
        got.append(buf.data(), n);
      }
    };
    {
      auto t = read_until("HTTP/1.1 200 OK");
      co_await std::move(t);
    }
    EXPECT_TRUE(got.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")) << got;
    co_await s.write_all(std::string_view("hello"));
    {
      auto t = read_until(std::string(target).ends_with("=5") ? "\r\n\r\nhello" : "0\r\n\r\n");
      co_await std::move(t);
    }
    EXPECT_EQ(count(got, "100 Continue"), 1u) << target << ": " << got;
    EXPECT_NE(got.find("hello"), std::string::npos) << target << ": " << got;
  }
  http::client session;
  http::request_options ro{.body = "continued", .expect_continue = true};
  for (const char* target : {"/echo_stream", "/echo_stream?length=9"}) {
    const std::string u = rs.url(target);
    auto t = session.post(u, ro);
    http::response r = co_await std::move(t);
    EXPECT_EQ(r.status(), 200) << target;
    auto text = r.text();
    EXPECT_EQ(co_await std::move(text), "continued") << target;
  }
  co_await rs.stop();
}
TEST(ServerStream, A100ContinueOwedGoesOutBeforeAPreparedHead) {
  run_test(continue_before_a_prepared_head);
}

// A stream_body handler that leaves its body unread, answering with a whole response or a
// stream_response it prepared: a rest already buffered is taken and the connection kept (the
// pipelined request after it answered); a rest still to come, or a malformed one, closes the
// connection instead of being read.
coreio::task<http::response> streamed_without_reading(http::request& req) {
  http::stream_response out{200};
  co_await out.prepare(req);
  co_await out.write("streamed");
  co_await out.write_eof();
  co_return http::response{};
}

coreio::task<void> an_unread_buffered_body_keeps_the_connection() {
  running_server rs{test_options(), [](http::server& srv) {
                      srv.route(
                          "POST", "/ignore",
                          [](http::request&) -> coreio::task<http::response> {
                            co_return http::response{200, "ignored"};
                          },
                          http::route_options{.stream_body = true});
                      srv.route("POST", "/stream", streamed_without_reading,
                                http::route_options{.stream_body = true});
                    }};
  const std::string next = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  for (const std::string target : {"/ignore", "/stream"}) {
    const std::vector<std::string> firsts = {
        "POST " + target + " HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST " + target +
            " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"};
    for (const std::string& first : firsts) {
      const std::string both = first + next;
      const std::string got = co_await send_and_read(rs.port, both);
      EXPECT_EQ(count(got, "HTTP/1.1 200 OK"), 2u) << target << ": " << got;
      EXPECT_NE(got.find("Hello, World!"), std::string::npos) << target << ": " << got;
    }
  }
  // Malformed after the head: the response, then the close; the request behind is not read.
  const std::string bad =
      "POST /ignore HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + next;
  const std::string got = co_await send_and_read(rs.port, bad);
  EXPECT_EQ(count(got, "HTTP/1.1 200 OK"), 1u) << got;
  EXPECT_EQ(got.find("Hello, World!"), std::string::npos) << got;
  co_await rs.stop();
}
TEST(ServerStream, AnUnreadBufferedBodyKeepsTheConnection) {
  run_test(an_unread_buffered_body_keeps_the_connection);
}

coreio::task<void> gzip_when_accepted() {
  http::server_options o = test_options();
  o.compress = true;
  o.compress_min_size = 100;
  const std::string text(4000, 'z');
  running_server rs{o, [&](http::server& srv) {
                      srv.route("GET", "/big",
                                [text](http::request&) -> coreio::task<http::response> {
                                  co_return http::response{200, text};
                                });
                    }};
  http::client session;  // sends Accept-Encoding: gzip, deflate, br, zstd and decodes
  {
    const std::string u = rs.url("/big");
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.header("content-encoding").value_or(""), "gzip");
    EXPECT_EQ(r.header("vary").value_or(""), "Accept-Encoding");
    EXPECT_LT(std::stoul(std::string(r.header("content-length").value_or("0"))), 200u);
    std::string body = co_await r.text();
    EXPECT_EQ(body, text);
  }
  {
    const std::string u = rs.url("/hello");  // under compress_min_size: as is
    http::response r = co_await session.get(u);
    EXPECT_FALSE(r.header("content-encoding").has_value());
    std::string body = co_await r.text();
    EXPECT_EQ(body, "Hello, World!");
  }
  co_await session.close();
  // No Accept-Encoding, or gzip refused with q=0: identity, still Vary.
  const std::string plain_get =
      co_await send_and_read(rs.port, "GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(plain_get.find("Content-Encoding"), std::string::npos);
  EXPECT_NE(plain_get.find("Vary: Accept-Encoding"), std::string::npos);
  EXPECT_NE(plain_get.find(text), std::string::npos);
  const std::string refused = co_await send_and_read(
      rs.port,
      "GET /big HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip;q=0, *\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(refused.find("Content-Encoding"), std::string::npos);
  co_await rs.stop();
}
TEST(ServerStream, GzipWhenTheClientAcceptsIt) { run_test(gzip_when_accepted); }

// A handler's own Vary gets Accept-Encoding added when the response may be compressed (RFC 9110
// section 12.5.5: a cache would otherwise give gzip to clients that do not take it), whole or
// streamed; a Vary that has it already, or is "*", is left as it is.
coreio::task<http::response> vary_stream(http::request& req) {
  http::stream_response out{200};
  out.set_header("Vary", "Origin");
  co_await out.prepare(req);
  const std::string piece(3000, 's');  // its own statement: g++ 12 and co_await temporaries
  co_await out.write(std::string_view(piece));
  co_await out.write_eof();
  co_return http::response{};
}

coreio::task<void> own_vary_gets_accept_encoding() {
  http::server_options o = test_options();
  o.compress = true;
  o.compress_min_size = 100;
  running_server rs{o, [](http::server& srv) {
                      for (const char* vary : {"Origin", "origin, ACCEPT-ENCODING", "*"}) {
                        srv.route("GET", "/vary/" + std::to_string(std::string_view(vary).size()),
                                  [vary](http::request&) -> coreio::task<http::response> {
                                    http::response r{200, std::string(3000, 'v')};
                                    r.set_header("Vary", vary);
                                    co_return r;
                                  });
                      }
                      srv.route("GET", "/vary-stream", vary_stream);
                    }};
  const auto request_for = [](const std::string& path) {
    return "GET " + path +
           " HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n";
  };
  // (Each request an lvalue: send_and_read's task keeps a reference to it.)
  const std::string q6 = request_for("/vary/6"), q23 = request_for("/vary/23"),
                    q1 = request_for("/vary/1"), qs = request_for("/vary-stream");
  const std::string added = co_await send_and_read(rs.port, q6);
  EXPECT_NE(added.find("\r\nVary: Origin, Accept-Encoding\r\n"), std::string::npos) << added;
  EXPECT_NE(added.find("Content-Encoding: gzip"), std::string::npos) << added;
  EXPECT_EQ(count(added, "Vary:"), 1u) << added;
  const std::string listed = co_await send_and_read(rs.port, q23);
  EXPECT_NE(listed.find("\r\nVary: origin, ACCEPT-ENCODING\r\n"), std::string::npos) << listed;
  const std::string star = co_await send_and_read(rs.port, q1);
  EXPECT_NE(star.find("\r\nVary: *\r\n"), std::string::npos) << star;
  const std::string streamed = co_await send_and_read(rs.port, qs);
  EXPECT_NE(streamed.find("\r\nVary: Origin, Accept-Encoding\r\n"), std::string::npos) << streamed;
  co_await rs.stop();
}
TEST(ServerStream, AHandlersVaryGetsAcceptEncoding) { run_test(own_vary_gets_accept_encoding); }

coreio::task<void> tls_round_trip() {
  const test_certs& certs = test_certs::get();
  http::server_options o = test_options();
  o.tls_cert_file = certs.cert_file;
  o.tls_key_file = certs.key_file;
  o.header_timeout = 5s;  // it bounds the handshake too, which takes a while under TSan
  running_server rs{o};
  const std::string base = "https://127.0.0.1:" + std::to_string(rs.port);
  http::client_options co{};
  co.ca_file = certs.ca_file;
  http::client session{co};
  {
    const std::string u = base + "/hello";
    http::response r = co_await session.get(u);
    EXPECT_EQ(r.status(), 200);
    std::string body = co_await r.text();
    EXPECT_EQ(body, "Hello, World!");
  }
  {
    const std::string u = base + "/echo";
    http::request_options ro{.body = std::string(1000, 'q')};
    http::response r = co_await session.post(u, ro);
    std::string body = co_await r.text();
    EXPECT_EQ(body, std::string(1000, 'q'));
  }
  EXPECT_EQ(session.stats().connections_opened, 1u);
  co_await session.close();
  std::string args = "--cacert " + certs.ca_file + " " + base + "/hello";
  const std::string out = co_await curl(args);
  EXPECT_EQ(out, "Hello, World!");
  // A plain-text request on the TLS port gets no HTTP answer (the handshake fails).
  const std::string plain_text =
      co_await send_and_read(rs.port, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(plain_text.find("Hello, World!"), std::string::npos);
  co_await rs.stop();
  // Bad configuration: a clear error at bind().
  http::server_options bad = test_options();
  bad.tls_cert_file = certs.cert_file;
  http::server only_cert{bad};
  EXPECT_THROW(only_cert.bind("127.0.0.1", 0), http::error);
  bad.tls_key_file = certs.dir + "/missing.pem";
  http::server missing{bad};
  try {
    missing.bind("127.0.0.1", 0);
    ADD_FAILURE() << "a missing key file was accepted";
  } catch (const http::error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
}
TEST(ServerStream, TlsRoundTripWithTheClientAndCurl) { run_test(tls_round_trip); }

struct cancel_events {
  coreio::event entered;
  coreio::event cancelled;
};

coreio::task<http::response> wait_forever(std::shared_ptr<cancel_events> ev, http::request&) {
  ev->entered.set();
  coreio::event never;
  try {
    co_await never.wait();
  } catch (const coreio::cancelled_error&) {
    ev->cancelled.set();
    throw;
  }
  co_return http::response{200, "never"};
}

coreio::task<void> cancel_on_disconnect() {
  http::server_options o = test_options();
  o.handler_cancellation = true;
  auto ev = std::make_shared<cancel_events>();
  running_server rs{o, [&](http::server& srv) {
                      srv.route("GET", "/wait",
                                [ev](http::request& req) { return wait_forever(ev, req); });
                    }};
  // A handler that finishes is unaffected, and pipelined bytes read by the watcher are kept.
  const std::string two = co_await send_and_read(
      rs.port,
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\nConnection: "
      "close\r\n\r\n");
  EXPECT_EQ(count(two, "Hello, World!"), 2u) << two;
  {
    coreio::task<coreio::net::tcp_stream> c =
        coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
    coreio::net::tcp_stream s = co_await std::move(c);
    co_await s.write_all(std::string_view("GET /wait HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto entered = coreio::wait_for(ev->entered.wait(), 2s);
    co_await std::move(entered);
    s.close();  // the client goes away while the handler runs
  }
  auto cancelled = coreio::wait_for(ev->cancelled.wait(), 2s);
  co_await std::move(cancelled);  // throws timeout_error (failing the test) if never cancelled
  EXPECT_TRUE(ev->cancelled.is_set());
  co_await rs.stop();
}
TEST(ServerStream, HandlerIsCancelledWhenTheClientDisconnects) { run_test(cancel_on_disconnect); }

// LISTEN sockets on `port` in /proc/self/net/tcp (state 0A).
std::size_t listeners_on(std::uint16_t port) {
  std::ifstream f("/proc/self/net/tcp");
  std::string line;
  std::size_t n = 0;
  char want[16];
  std::snprintf(want, sizeof want, ":%04X", static_cast<unsigned>(port));
  std::getline(f, line);
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state;
    in >> slot >> local >> remote >> state;
    if (local.size() >= 5 && local.substr(local.size() - 5) == want && state == "0A") ++n;
  }
  return n;
}

// `n` connections one after another, each a GET /hello that closes: how many were answered.
coreio::task<int> hellos_served(std::uint16_t port, int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    const std::string got =
        co_await send_and_read(port, "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    ok += got.find("Hello, World!") != std::string::npos ? 1 : 0;
  }
  co_return ok;
}

coreio::task<void> reuse_port_listeners() {
  http::server_options o = test_options();
  o.reuse_port = true;
  running_server rs{o};
  EXPECT_EQ(listeners_on(rs.port), 2u);                    // one per worker (run_test: two workers)
  coreio::task<int> serving = hellos_served(rs.port, 20);  // own statement: g++ 12
  EXPECT_EQ(co_await std::move(serving), 20);
  co_await rs.stop();
  // The listeners close on their worker's loop: probe, with a deadline (against a hang only).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (listeners_on(rs.port) != 0 && std::chrono::steady_clock::now() < deadline) {
    co_await coreio::sleep_for(1ms);
  }
  EXPECT_EQ(listeners_on(rs.port), 0u);
}
TEST(ServerStream, ReusePortGivesEachWorkerItsListener) { run_test(reuse_port_listeners); }

// Reads one response head and its "Hello, World!" body from `s` (keep-alive).
coreio::task<bool> read_hello(coreio::net::tcp_stream& s, std::chrono::milliseconds within) {
  std::string got;
  std::array<char, 4096> buf{};
  while (got.find("Hello, World!") == std::string::npos) {
    auto rd = s.read_some(std::span<char>(buf));
    auto w = coreio::wait_for(std::move(rd), within);
    std::size_t n = 0;
    try {
      n = co_await std::move(w);
    } catch (const coreio::timeout_error&) {
      co_return false;
    }
    if (n == 0) co_return false;
    got.append(buf.data(), n);
  }
  co_return true;
}

// max_connections with one listener or one per worker (reuse_port, where each worker's loop
// accepts from the listener the kernel chose): connections one after another are each served,
// whichever listener has them; a connection beyond the limit waits until one ends, then is served.
coreio::task<void> max_connections_served(bool reuse_port) {
  http::server_options o = test_options();
  o.reuse_port = reuse_port;
  o.max_connections = 1;
  running_server rs{o};
  coreio::task<int> serving = hellos_served(rs.port, 40);  // own statement: g++ 12
  EXPECT_EQ(co_await std::move(serving), 40);

  const std::string get = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
  auto connect_a = coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
  coreio::net::tcp_stream a = co_await std::move(connect_a);
  co_await a.write_all(std::string_view(get));
  EXPECT_TRUE(co_await read_hello(a, 5s));  // a holds the one slot (keep-alive)
  auto connect_b = coreio::net::tcp_stream::connect("127.0.0.1", rs.port);
  coreio::net::tcp_stream b = co_await std::move(connect_b);
  co_await b.write_all(std::string_view(get));
  // Not served while a holds the slot (a negative check: a window, not a proof).
  EXPECT_FALSE(co_await read_hello(b, 200ms));
  a.close();
  EXPECT_TRUE(co_await read_hello(b, 5s));  // served once a's connection ended
  b.close();
  co_await rs.stop();
}
TEST(ServerStream, MaxConnectionsServesEachConnectionWithOneListener) {
  run_test([] { return max_connections_served(false); });
}
TEST(ServerStream, MaxConnectionsServesEachConnectionWithAListenerPerWorker) {
  run_test([] { return max_connections_served(true); });
}

}  // namespace
}  // namespace coreio_http_test
