// http/client_basic_test.cpp — coreio::http::client against the scripted server: methods, query
// parameters, bodies sent (form, multipart, JSON, chunked, streamed), bodies received
// (Content-Length, chunked, until close, none for HEAD/204/304), headers, text(), keep-alive reuse.
#include <coreio/http/client.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

coreio::task<void> keep_alive_reuses_one_connection() {
  raw_server srv{[](const seen_request& r, std::size_t i) {
    return reply{ok_response("hello " + std::to_string(i) + " " + r.line())};
  }};
  http::client session;
  const std::string url = srv.url("/a");
  for (int i = 0; i < 3; ++i) {
    http::response r = co_await session.get(url);
    EXPECT_EQ(r.status(), 200);
    EXPECT_EQ(r.reason(), "X");
    const std::string body = co_await r.text();
    EXPECT_EQ(body, "hello " + std::to_string(i) + " GET /a HTTP/1.1");
  }
  EXPECT_EQ(srv.connections(), 1u);
  const http::client_stats st = session.stats();
  EXPECT_EQ(st.connections_opened, 1u);
  EXPECT_EQ(st.connections_reused, 2u);
  EXPECT_EQ(st.requests, 3u);
  EXPECT_EQ(st.idle_connections, 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, KeepAliveReusesOneConnection) { run_test(keep_alive_reuses_one_connection); }

coreio::task<void> sends_host_params_and_default_headers() {
  raw_server srv{[](const seen_request&, std::size_t) { return reply{ok_response("")}; }};
  http::client_options opts{.headers = {{"X-Default", "1"}, {"Accept", "text/html"}}};
  http::client session{opts};
  http::request_options o{.params = {{"q", "a b"}, {"x", "&="}},
                          .headers = {{"Accept", "application/json"}}};
  const std::string url = srv.url("/s?k=v");
  http::response r = co_await session.get(url, o);
  EXPECT_EQ(r.status(), 200);
  const auto seen = srv.seen();
  EXPECT_EQ(seen.at(0).line(), "GET /s?k=v&q=a%20b&x=%26%3D HTTP/1.1");
  EXPECT_EQ(seen.at(0).header("host"), "127.0.0.1:" + std::to_string(srv.port()));
  EXPECT_EQ(seen.at(0).header("x-default"), "1");
  EXPECT_EQ(seen.at(0).header("accept"), "application/json");
  EXPECT_NE(seen.at(0).header("accept-encoding").find("gzip"), std::string::npos);
  EXPECT_EQ(seen.at(0).header("content-length"), "");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, SendsHostParamsAndHeaders) { run_test(sends_host_params_and_default_headers); }

// A request with no headers of its own or the client's sends the default lines made once at
// construction; one with some merges them field by field. Both give the same head.
coreio::task<void> sends_the_same_default_head_with_or_without_headers() {
  raw_server srv{[](const seen_request&, std::size_t) { return reply{ok_response("")}; }};
  const std::string url = srv.url("/p");
  const std::string host = "Host: 127.0.0.1:" + std::to_string(srv.port()) + "\r\n";
  {
    http::client session;
    (void)co_await session.get(url);
    http::request_options o{.headers = {{"X-A", "1"}}};
    (void)co_await session.get(url, o);
    co_await session.close();
  }
  {
    http::client_options bare{.auto_decompress = false, .user_agent = ""};
    http::client session{bare};
    (void)co_await session.get(url);
    http::request_options o{.headers = {{"X-A", "1"}}};
    (void)co_await session.get(url, o);
    co_await session.close();
  }
  const auto seen = srv.seen();
  EXPECT_EQ(seen.at(0).head, "GET /p HTTP/1.1\r\n" + host +
                                 "User-Agent: coreio-http/0.1\r\nAccept: */*\r\n"
                                 "Accept-Encoding: gzip, deflate, br, zstd\r\n\r\n");
  EXPECT_EQ(seen.at(1).head, "GET /p HTTP/1.1\r\n" + host +
                                 "X-A: 1\r\nUser-Agent: coreio-http/0.1\r\nAccept: */*\r\n"
                                 "Accept-Encoding: gzip, deflate, br, zstd\r\n\r\n");
  EXPECT_EQ(seen.at(2).head, "GET /p HTTP/1.1\r\n" + host + "Accept: */*\r\n\r\n");
  EXPECT_EQ(seen.at(3).head, "GET /p HTTP/1.1\r\n" + host + "X-A: 1\r\nAccept: */*\r\n\r\n");
  co_await srv.stop();
}
TEST(ClientBasic, SendsTheSameDefaultHeadWithOrWithoutHeaders) {
  run_test(sends_the_same_default_head_with_or_without_headers);
}

TEST(ClientBasic, RefusesAUserAgentThatWouldInjectAHeader) {
  for (const std::string& bad :
       {std::string("a\r\nX-Evil: 1"), std::string("a\nb"), std::string("a\0b", 3)}) {
    http::client_options o{.user_agent = bad};
    EXPECT_THROW(http::client{o}, http::error) << bad;
  }
}

coreio::task<void> posts_form_json_multipart_and_chunked_bodies() {
  raw_server srv{[](const seen_request& r, std::size_t) {
    return reply{ok_response(r.header("content-type") + "|" + r.body)};
  }};
  http::client session;
  const std::string url = srv.url("/echo");
  {
    http::request_options form{.body = "a=1",
                               .headers = {{"Content-Type", "application/x-www-form-urlencoded"}}};
    http::response p = co_await session.post(url, form);
    EXPECT_EQ(co_await p.text(), "application/x-www-form-urlencoded|a=1");
  }
  {
    http::request_options form{.form = {{"name", "a b&c"}, {"k", "é"}}};
    http::response p = co_await session.post(url, form);
    EXPECT_EQ(co_await p.text(), "application/x-www-form-urlencoded|name=a+b%26c&k=%C3%A9");
  }
  {
    http::request_options json{.json = std::string(R"({"a":1})")};
    http::response p = co_await session.put(url, json);
    EXPECT_EQ(co_await p.text(), R"(application/json|{"a":1})");
  }
  {
    http::request_options mp{
        .multipart = {{"field", "value", "", ""}, {"file", "DATA", "a.txt", "text/plain"}}};
    http::response p = co_await session.post(url, mp);
    const std::string t = co_await p.text();
    EXPECT_EQ(t.rfind("multipart/form-data; boundary=coreio-", 0), 0u) << t;
    EXPECT_NE(t.find("Content-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n"),
              std::string::npos);
    EXPECT_NE(t.find("name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nDATA"),
              std::string::npos);
  }
  {
    http::request_options chunked{.body = "chunked body", .chunked = true};
    http::response p = co_await session.post(url, chunked);
    EXPECT_EQ(co_await p.text(), "application/octet-stream|chunked body");
    EXPECT_EQ(srv.seen().back().header("transfer-encoding"), "chunked");
  }
  {
    auto pieces = std::make_shared<int>(0);
    http::request_options up{.upload = [pieces]() -> coreio::task<std::string> {
      return [](std::shared_ptr<int> n) -> coreio::task<std::string> {
        co_return ++*n <= 3 ? "piece" + std::to_string(*n) + ";" : std::string();
      }(pieces);
    }};
    http::response p = co_await session.post(url, up);
    EXPECT_EQ(co_await p.text(), "application/octet-stream|piece1;piece2;piece3;");
  }
  {
    http::response p = co_await session.post(url);
    EXPECT_EQ(co_await p.text(), "|");
    EXPECT_EQ(srv.seen().back().header("content-length"), "0");
  }
  EXPECT_EQ(srv.connections(), 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, PostsFormJsonMultipartAndChunkedBodies) {
  run_test(posts_form_json_multipart_and_chunked_bodies);
}

coreio::task<void> reads_chunked_until_close_and_empty_bodies() {
  raw_server srv{[](const seen_request& r, std::size_t) -> reply {
    const std::string line = r.line();
    if (line.starts_with("GET /chunked"))
      return {
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"};
    if (line.starts_with("GET /close"))
      return {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", true};
    if (line.starts_with("HEAD")) return {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"};
    if (line.starts_with("GET /204")) return {"HTTP/1.1 204 No Content\r\n\r\n"};
    if (line.starts_with("GET /304"))
      return {"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"};
    return {ok_response("plain")};
  }};
  http::client session;
  const std::string chunked = srv.url("/chunked"), closing = srv.url("/close"),
                    head = srv.url("/h"), no_content = srv.url("/204"),
                    not_modified = srv.url("/304"), plain = srv.url("/plain");
  http::response a = co_await session.get(chunked);
  EXPECT_EQ(co_await a.text(), "hello world");
  http::response h = co_await session.head(head);
  EXPECT_EQ(h.header("content-length"), "1000");
  EXPECT_EQ(co_await h.read(), "");
  http::response n = co_await session.get(no_content);
  EXPECT_EQ(n.status(), 204);
  EXPECT_EQ(co_await n.read(), "");
  http::response m = co_await session.get(not_modified);
  EXPECT_EQ(m.status(), 304);
  EXPECT_EQ(co_await m.read(), "");
  EXPECT_EQ(srv.connections(), 1u);  // all on one keep-alive connection so far
  http::response c = co_await session.get(closing);
  EXPECT_EQ(co_await c.text(), "until the end");
  http::response p = co_await session.get(plain);
  EXPECT_EQ(co_await p.text(), "plain");
  EXPECT_EQ(srv.connections(), 2u);  // the close forced a new one
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, ReadsChunkedUntilCloseAndEmptyBodies) {
  run_test(reads_chunked_until_close_and_empty_bodies);
}

// version(): 10 for HTTP/1.0, 11 for 1.1, and 11 for a later 1.x (RFC 9110 section 2.5: read as
// the highest minor version the recipient implements), which keeps its connection as 1.1 does.
coreio::task<void> a_later_minor_version_reads_as_1_1() {
  raw_server srv{[](const seen_request& r, std::size_t) -> reply {
    if (r.line().starts_with("GET /10"))
      return {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n10"};
    if (r.line().starts_with("GET /12")) return {"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n12"};
    return {ok_response("11")};
  }};
  http::client session;
  for (const std::string path : {"/12", "/11", "/10", "/12"}) {
    const std::string url = srv.url(path);
    http::response r = co_await session.get(url);
    EXPECT_EQ(co_await r.text(), path.substr(1));
    EXPECT_EQ(r.version(), path == "/10" ? 10 : 11) << path;
  }
  EXPECT_EQ(srv.connections(), 1u);  // 1.2 and 1.0 with keep-alive kept the connection
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, ALaterMinorVersionReadsAs11) { run_test(a_later_minor_version_reads_as_1_1); }

coreio::task<void> skips_1xx_and_drops_a_connection_with_stray_bytes() {
  raw_server srv{[](const seen_request& r, std::size_t) -> reply {
    if (r.line().starts_with("GET /continue"))
      return {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n" +
              ok_response("after 1xx")};
    if (r.line().starts_with("GET /stray")) return {ok_response("ok") + "HTTP/1.1 200 OK\r\n"};
    return {ok_response("clean")};
  }};
  http::client session;
  const std::string cont = srv.url("/continue"), stray = srv.url("/stray"),
                    clean = srv.url("/clean");
  http::response a = co_await session.get(cont);
  EXPECT_EQ(a.status(), 200);
  EXPECT_EQ(co_await a.text(), "after 1xx");
  http::response b = co_await session.get(stray);
  EXPECT_EQ(co_await b.text(), "ok");
  // The bytes after the response were not asked for: that connection is not reused.
  http::response c = co_await session.get(clean);
  EXPECT_EQ(co_await c.text(), "clean");
  EXPECT_EQ(srv.connections(), 2u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, Skips1xxAndDropsAConnectionWithStrayBytes) {
  run_test(skips_1xx_and_drops_a_connection_with_stray_bytes);
}

coreio::task<void> streams_a_large_body_in_chunks() {
  raw_server srv{[](const seen_request&, std::size_t) {
    return reply{ok_response(std::string(3'000'000, 'z'))};
  }};
  http::client session;
  const std::string url = srv.url("/big");
  http::response r = co_await session.get(url);
  std::size_t total = 0, pieces = 0;
  for (;;) {
    const std::span<const std::byte> chunk = co_await r.read_chunk();
    if (chunk.empty()) break;
    total += chunk.size();
    ++pieces;
    EXPECT_EQ(static_cast<char>(chunk[0]), 'z');
  }
  EXPECT_EQ(total, 3'000'000u);
  EXPECT_GT(pieces, 1u);
  const std::span<const std::byte> after = co_await r.read_chunk();
  EXPECT_TRUE(after.empty());
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, StreamsALargeBodyInChunks) { run_test(streams_a_large_body_in_chunks); }

// text() and read() twice give the body both times (aiohttp's read() returns its body again), and
// body() keeps it; text() converts Windows-1252's own characters.
coreio::task<void> text_and_read_again_give_the_same_body() {
  raw_server srv{[](const seen_request&, std::size_t) {
    return reply{
        ok_response("\x93hi\x94 \x80", "Content-Type: text/plain; charset=windows-1252\r\n")};
  }};
  http::client session;
  const std::string url = srv.url("/");
  const std::string want = "\xe2\x80\x9chi\xe2\x80\x9d \xe2\x82\xac";
  http::response r = co_await session.get(url);
  EXPECT_EQ(co_await r.text(), want);
  EXPECT_EQ(co_await r.text(), want);
  EXPECT_EQ(co_await r.read(), "\x93hi\x94 \x80");
  EXPECT_EQ(r.body(), "\x93hi\x94 \x80");
  http::response s = co_await session.get(url);
  EXPECT_EQ(co_await s.read(), "\x93hi\x94 \x80");
  EXPECT_EQ(co_await s.read(), "\x93hi\x94 \x80");
  // A body read_chunk() took whole leaves read() nothing: it gives the rest.
  http::response t = co_await session.get(url);
  std::size_t streamed = 0;
  for (;;) {
    const auto piece = co_await t.read_chunk();
    if (piece.empty()) break;
    streamed += piece.size();
  }
  EXPECT_EQ(streamed, 6u);
  EXPECT_EQ(co_await t.read(), "");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, TextAndReadAgainGiveTheSameBody) {
  run_test(text_and_read_again_give_the_same_body);
}

coreio::task<void> headers_keep_order_and_duplicates() {
  raw_server srv{[](const seen_request&, std::size_t) {
    return reply{ok_response("caf\xe9",
                             "Content-Type: text/plain; charset=ISO-8859-1\r\n"
                             "Set-Cookie: a=1\r\nX-Dup: one\r\nX-Dup: two\r\n",
                             404)};
  }};
  http::client session;
  const std::string url = srv.url("/");
  http::response r = co_await session.get(url);
  EXPECT_EQ(r.status(), 404);
  EXPECT_EQ(r.header("x-dup"), "one");
  EXPECT_EQ(r.header("X-DUP"), "one");
  EXPECT_FALSE(r.header("missing").has_value());
  int dups = 0;
  for (const auto& [n, v] : r.headers())
    if (n == "X-Dup") {
      EXPECT_EQ(v, ++dups == 1 ? "one" : "two");
    }
  EXPECT_EQ(dups, 2);
  EXPECT_EQ(r.headers().at(0).first, "Content-Length");
  EXPECT_EQ(co_await r.text(), "caf\xc3\xa9");  // latin1 -> UTF-8
  EXPECT_EQ(r.url(), url);
  bool thrown = false;
  try {
    r.raise_for_status();
  } catch (const http::status_error& e) {
    thrown = true;
    EXPECT_EQ(e.status(), 404);
  }
  EXPECT_TRUE(thrown);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, HeadersKeepOrderAndDuplicates) { run_test(headers_keep_order_and_duplicates); }

/// One keep-alive connection, heads of different fields in turn: each response has exactly its own
/// (the parser reuses the previous head's field strings).
coreio::task<void> each_head_on_a_connection_has_only_its_own_fields() {
  raw_server srv{[](const seen_request&, std::size_t i) {
    if (i % 2 == 0) {
      return reply{ok_response("even", "X-Long: " + std::string(40, 'a') + "\r\nX-Second: 2\r\n")};
    }
    return reply{ok_response("odd", "X-Other: " + std::string(20, 'b') + "\r\n")};
  }};
  http::client session;
  const std::string url = srv.url("/");
  for (int i = 0; i < 4; ++i) {
    http::response r = co_await session.get(url);
    std::vector<std::string> names;
    for (const auto& [n, v] : r.headers()) names.push_back(n);
    if (i % 2 == 0) {
      EXPECT_EQ(r.header("x-long"), std::string(40, 'a'));
      EXPECT_EQ(r.header("x-second"), "2");
      EXPECT_FALSE(r.header("x-other").has_value());
      EXPECT_EQ(names, (std::vector<std::string>{"Content-Length", "X-Long", "X-Second"}));
    } else {
      EXPECT_EQ(r.header("x-other"), std::string(20, 'b'));
      EXPECT_FALSE(r.header("x-long").has_value());
      EXPECT_EQ(names, (std::vector<std::string>{"Content-Length", "X-Other"}));
    }
    EXPECT_EQ(co_await r.text(), i % 2 == 0 ? "even" : "odd");
  }
  EXPECT_EQ(srv.connections(), 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, EachHeadOnAConnectionHasOnlyItsOwnFields) {
  run_test(each_head_on_a_connection_has_only_its_own_fields);
}

/// URLs in turn, with and without params, from one task: each request goes where its own URL says
/// (the client keeps the last URL's parse per thread).
coreio::task<void> alternating_urls_each_go_to_their_own_target() {
  raw_server a{
      [](const seen_request& r, std::size_t) { return reply{ok_response("a " + r.line())}; }};
  raw_server b{
      [](const seen_request& r, std::size_t) { return reply{ok_response("b " + r.line())}; }};
  http::client session;
  const std::string ua = a.url("/x?k=1"), ub = b.url("/y");
  http::request_options params{.params = {{"p", "2"}}};
  for (int i = 0; i < 3; ++i) {
    http::response r1 = co_await session.get(ua);
    EXPECT_EQ(co_await r1.text(), "a GET /x?k=1 HTTP/1.1");
    EXPECT_EQ(r1.url(), ua);
    http::response r2 = co_await session.get(ua, params);
    EXPECT_EQ(co_await r2.text(), "a GET /x?k=1&p=2 HTTP/1.1");
    http::response r3 = co_await session.get(ub);
    EXPECT_EQ(co_await r3.text(), "b GET /y HTTP/1.1");
    EXPECT_EQ(r3.url(), ub);
    http::response r4 = co_await session.get(ua);  // the plain URL again, after the params
    EXPECT_EQ(co_await r4.text(), "a GET /x?k=1 HTTP/1.1");
  }
  EXPECT_EQ(a.seen().at(0).header("host"), "127.0.0.1:" + std::to_string(a.port()));
  EXPECT_EQ(b.seen().at(0).header("host"), "127.0.0.1:" + std::to_string(b.port()));
  // A response keeps its URL after the client has closed and other URLs were fetched.
  http::response kept = co_await session.get(ub);
  (void)co_await session.get(ua, params);
  co_await session.close();
  EXPECT_EQ(kept.url(), ub);
  EXPECT_EQ(co_await kept.text(), "b GET /y HTTP/1.1");
  co_await a.stop();
  co_await b.stop();
}
TEST(ClientBasic, AlternatingUrlsEachGoToTheirOwnTarget) {
  run_test(alternating_urls_each_go_to_their_own_target);
}

coreio::task<void> sends_basic_auth_and_cookies() {
  raw_server srv{[](const seen_request& r, std::size_t i) {
    if (i == 0) return reply{ok_response("", "Set-Cookie: sid=abc; Path=/; HttpOnly\r\n")};
    return reply{ok_response(r.header("authorization") + "|" + r.header("cookie"))};
  }};
  http::client session;
  const std::string first = srv.url("/login");
  http::response a = co_await session.get(first);
  (void)co_await a.read();
  http::request_options auth{.auth = http::basic_auth{"Aladdin", "open sesame"}};
  const std::string second = srv.url("/x");
  http::response b = co_await session.get(second, auth);
  EXPECT_EQ(co_await b.text(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==|sid=abc");
  const std::string with_user = "http://u:p@127.0.0.1:" + std::to_string(srv.port()) + "/userinfo";
  http::response c = co_await session.get(with_user);
  EXPECT_EQ(co_await c.text(), "Basic dTpw|sid=abc");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, SendsBasicAuthAndCookies) { run_test(sends_basic_auth_and_cookies); }

coreio::task<void> traces_each_step_and_counts() {
  raw_server srv{[](const seen_request&, std::size_t) { return reply{ok_response("t")}; }};
  auto events = std::make_shared<std::vector<http::trace_kind>>();
  http::client_options opts{
      .trace = [events](const http::trace_event& e) { events->push_back(e.kind); }};
  http::client session{opts};
  const std::string url = srv.url("/");
  for (int i = 0; i < 2; ++i) {
    http::response r = co_await session.get(url);
    (void)co_await r.read();
  }
  using k = http::trace_kind;
  const std::vector<k> want = {k::request_start,
                               k::connection_create_start,
                               k::connection_create_end,
                               k::request_headers_sent,
                               k::response_headers_received,
                               k::request_end,
                               k::request_start,
                               k::connection_reuse,
                               k::request_headers_sent,
                               k::response_headers_received,
                               k::request_end};
  EXPECT_EQ(*events, want);
  const auto st = session.stats();
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.responses, 2u);
  EXPECT_EQ(st.failures, 0u);
  EXPECT_EQ(st.open_connections, 1u);
  co_await session.close();
  EXPECT_EQ(session.stats().connections_closed, 1u);
  co_await srv.stop();
}
TEST(ClientBasic, TracesEachStepAndCounts) { run_test(traces_each_step_and_counts); }

coreio::task<void> expect_continue_waits_for_100_or_the_timeout() {
  raw_server srv{[](const seen_request& r, std::size_t) {
    return reply{ok_response(r.header("expect") + "|" + r.body)};
  }};
  http::client session;
  const std::string url = srv.url("/upload");
  // Sent on the 100: with an hour's timeout, only the 100 can release the body in the test's time.
  http::request_options patient{.body = "the body", .expect_continue = true};
  patient.expect_continue_timeout = 1h;
  srv.send_continue(true);
  http::response a = co_await session.post(url, patient);
  EXPECT_EQ(co_await a.text(), "100-continue|the body");
  // A server that ignores Expect: the body goes when the timeout runs out, not before.
  http::request_options quick{.body = "the body", .expect_continue = true};
  quick.expect_continue_timeout = 50ms;
  srv.send_continue(false);
  const coreio_test::stopwatch slow;
  http::response b = co_await session.post(url, quick);
  EXPECT_EQ(co_await b.text(), "100-continue|the body");
  EXPECT_GE(slow.elapsed(), 50ms);
  // Zero: the body goes at once, with the Expect field still sent.
  http::request_options eager{.body = "the body", .expect_continue = true};
  eager.expect_continue_timeout = 0ms;
  http::response e = co_await session.post(url, eager);
  EXPECT_EQ(co_await e.text(), "100-continue|the body");
  // The default is curl's second.
  EXPECT_EQ(http::request_options{}.expect_continue_timeout, 1s);
  // Interim responses before the 100 (RFC 9110 section 15.2) are skipped, not taken as the final
  // answer that withholds the body: sent on the 100.
  srv.send_continue(true,
                    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                    "HTTP/1.1 102 Processing\r\n\r\n");
  http::response c = co_await session.post(url, patient);
  EXPECT_EQ(c.status(), 200);
  EXPECT_EQ(co_await c.text(), "100-continue|the body");
  EXPECT_FALSE(c.header("link").has_value());
  EXPECT_EQ(srv.connections(), 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, ExpectContinueWaitsFor100OrTheTimeout) {
  run_test(expect_continue_waits_for_100_or_the_timeout);
}

// An empty chunked body is its last chunk alone, with or without Expect: 100-continue (RFC 9112
// section 7.1): a second one would be read by the server as the next request on the connection.
coreio::task<void> an_empty_chunked_body_is_one_last_chunk() {
  raw_server srv{[](const seen_request& r, std::size_t) {
    return reply{ok_response(r.line() + "|" + r.body)};
  }};
  srv.send_continue(true);
  http::client session;
  const std::string url = srv.url("/up");
  for (bool expect : {true, false}) {
    http::request_options o{.json = "", .chunked = true, .expect_continue = expect};
    http::response a = co_await session.post(url, o);
    EXPECT_EQ(co_await a.text(), "POST /up HTTP/1.1|") << expect;
    http::response b = co_await session.get(url);
    EXPECT_EQ(b.status(), 200) << expect;
    EXPECT_EQ(co_await b.text(), "GET /up HTTP/1.1|") << expect;
  }
  EXPECT_EQ(srv.connections(), 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, AnEmptyChunkedBodyIsOneLastChunk) {
  run_test(an_empty_chunked_body_is_one_last_chunk);
}

// What the caller's own fields ask: Connection: close ends the connection after the response (RFC
// 9112 section 9.6); a method goes out in upper case; a Cookie field is merged with the jar's
// cookies of other names into one field (RFC 6265 section 5.4), the request's own winning.
coreio::task<void> callers_fields_are_honoured() {
  raw_server srv{[](const seen_request& r, std::size_t i) {
    if (i == 0) return reply{ok_response("", "Set-Cookie: jar=1\r\nSet-Cookie: both=jar\r\n")};
    return reply{ok_response(r.line() + "|" + r.header("cookie"))};
  }};
  http::client session;
  const std::string url = srv.url("/f");
  http::response z = co_await session.get(url);
  (void)co_await z.read();
  http::request_options closing{.headers = {{"Connection", "close"}}};
  http::response a = co_await session.get(url, closing);
  EXPECT_EQ(co_await a.text(), "GET /f HTTP/1.1|jar=1; both=jar");
  http::response b = co_await session.request("get", url);
  EXPECT_EQ(co_await b.text(), "GET /f HTTP/1.1|jar=1; both=jar");
  EXPECT_EQ(srv.connections(), 2u);  // the closing request's connection was not used again
  http::request_options own{.headers = {{"Cookie", "mine=2; both=own"}}};
  http::response c = co_await session.get(url, own);
  EXPECT_EQ(co_await c.text(), "GET /f HTTP/1.1|mine=2; both=own; jar=1");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, CallersFieldsAreHonoured) { run_test(callers_fields_are_honoured); }

// aiohttp's request building: the caller's Host names a virtual host (the connection still goes to
// the URL's address); credentials in the URL, with an empty user too, replace an Authorization
// field; a space in the path goes as %20.
coreio::task<void> callers_host_and_url_credentials() {
  raw_server srv{[](const seen_request& r, std::size_t) {
    return reply{ok_response(r.line() + "|" + r.header("host") + "|" + r.header("authorization"))};
  }};
  http::client session;
  const std::string port = std::to_string(srv.port());
  http::request_options vhost{.headers = {{"Host", "example.com:99"}}};
  const std::string plain = srv.url("/v");
  http::response a = co_await session.get(plain, vhost);
  EXPECT_EQ(co_await a.text(), "GET /v HTTP/1.1|example.com:99|");
  const std::string empty_user = "http://:1234@127.0.0.1:" + port + "/u";
  http::response b = co_await session.get(empty_user);
  EXPECT_EQ(co_await b.text(), "GET /u HTTP/1.1|127.0.0.1:" + port + "|Basic OjEyMzQ=");
  const std::string with_user = "http://nkim:1234@127.0.0.1:" + port + "/o";
  http::request_options header_auth{.headers = {{"Authorization", "Bearer token"}}};
  http::response c = co_await session.get(with_user, header_auth);
  EXPECT_EQ(co_await c.text(), "GET /o HTTP/1.1|127.0.0.1:" + port + "|Basic bmtpbToxMjM0");
  http::response d = co_await session.get(plain, header_auth);  // no URL credentials: the field
  EXPECT_EQ(co_await d.text(), "GET /v HTTP/1.1|127.0.0.1:" + port + "|Bearer token");
  const std::string spaced = srv.url("/get/test case");
  http::response e = co_await session.get(spaced);
  EXPECT_EQ(co_await e.text(), "GET /get/test%20case HTTP/1.1|127.0.0.1:" + port + "|");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientBasic, CallersHostAndUrlCredentials) { run_test(callers_host_and_url_credentials); }

coreio::task<void> rejects_bad_urls_and_header_injection() {
  http::client session;
  for (const char* bad :
       {"ftp://x/", "http://", "http://host:99999/", "http://a b/", "http://127.0.0.1/a\r\nX: y"}) {
    bool thrown = false;
    try {
      (void)co_await session.get(bad);
    } catch (const http::error&) {
      thrown = true;
    }
    EXPECT_TRUE(thrown) << bad;
  }
  http::request_options evil{.headers = {{"X-Evil", "a\r\nHost: other"}}};
  bool thrown = false;
  try {
    (void)co_await session.get("http://127.0.0.1:1/", evil);
  } catch (const http::error&) {
    thrown = true;
  }
  EXPECT_TRUE(thrown);
  // A method is a token; CONNECT (a tunnel, its target host:port) is not made by this client.
  const std::string nowhere = "http://127.0.0.1:1/x";
  for (const char* method : {"", "GE T", "GET\r\nX:", "G(T", "CONNECT", "connect"}) {
    std::string what;
    try {
      (void)co_await session.request(method, nowhere);
    } catch (const http::error& e) {
      what = e.what();
    }
    const bool tunnel =
        std::string_view(method) == "CONNECT" || std::string_view(method) == "connect";
    EXPECT_NE(what.find(tunnel ? "CONNECT" : "invalid method"), std::string::npos)
        << method << ": " << what;
  }
  co_await session.close();
}
TEST(ClientBasic, RejectsBadUrlsAndHeaderInjection) {
  run_test(rejects_bad_urls_and_header_injection);
}

}  // namespace
}  // namespace coreio_http_test
