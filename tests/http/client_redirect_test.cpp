// http/client_redirect_test.cpp — redirects: chains with history(), 301/302/303 to GET, 307/308
// keeping method and body, relative Locations, max_redirects and loops, allow_redirects = false,
// Authorization and a Cookie header dropped across origins, a Location's own credentials used.
#include <coreio/http/client.hpp>

#include <gtest/gtest.h>

#include <string>

#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

reply redirector(const seen_request& r, std::size_t) {
  const std::string line = r.line();
  auto to = [](int status, const std::string& where) {
    return reply{"HTTP/1.1 " + std::to_string(status) + " R\r\nLocation: " + where +
                 "\r\nContent-Length: 5\r\n\r\nmoved"};
  };
  if (line.find(" /a ") != std::string::npos) return to(302, "/b");
  if (line.find(" /b ") != std::string::npos) return to(301, "dir/../c?x=1");
  if (line.find(" /loop ") != std::string::npos) return to(302, "/loop");
  if (line.find(" /303 ") != std::string::npos) return to(303, "/echo");
  if (line.find(" /307 ") != std::string::npos) return to(307, "/echo");
  if (line.find(" /308 ") != std::string::npos) return to(308, "/echo");
  if (line.find(" /301 ") != std::string::npos) return to(301, "/echo");
  if (line.find(" /away") != std::string::npos) return to(302, r.header("x-target"));
  if (line.find(" /same") != std::string::npos) return to(302, "/echo");
  if (line.find(" /nowhere") != std::string::npos) {
    return reply{"HTTP/1.1 302 R\r\nLocation: \r\nContent-Length: 5\r\n\r\nstays"};
  }
  if (line.find(" /stalls") != std::string::npos) {  // 3 of 100 body bytes, then nothing
    return reply{"HTTP/1.1 302 R\r\nLocation: /echo\r\nContent-Length: 100\r\n\r\nabc", false,
                 true};
  }
  if (line.find(" /corrupt") != std::string::npos) {
    return reply{
        "HTTP/1.1 302 R\r\nLocation: /echo\r\nContent-Encoding: gzip\r\n"
        "Content-Length: 7\r\n\r\nnotgzip"};
  }
  return reply{ok_response(line + "|" + r.body + "|" + r.header("authorization") + "|" +
                           r.header("cookie"))};
}

coreio::task<void> follows_a_chain_and_keeps_history() {
  raw_server srv{redirector};
  http::client session;
  const std::string url = srv.url("/a");
  http::response r = co_await session.get(url);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(co_await r.text(), "GET /c?x=1 HTTP/1.1|||");
  EXPECT_EQ(r.url(), srv.url("/c?x=1"));
  EXPECT_EQ(r.history().size(), 2u);
  EXPECT_EQ(r.history().at(0).status(), 302);
  EXPECT_EQ(r.history().at(0).url(), srv.url("/a"));
  EXPECT_EQ(r.history().at(1).status(), 301);
  EXPECT_EQ(srv.connections(), 1u);  // the redirect bodies were drained: one connection
  EXPECT_EQ(session.stats().redirects, 2u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientRedirect, FollowsAChainAndKeepsHistory) { run_test(follows_a_chain_and_keeps_history); }

coreio::task<void> methods_change_as_rfc_9110_says() {
  raw_server srv{redirector};
  http::client session;
  http::request_options body{.body = "payload"};
  struct expectation {
    const char* path;
    const char* result;
  };
  for (const expectation& e :
       {expectation{"/303", "GET /echo HTTP/1.1|||"}, expectation{"/301", "GET /echo HTTP/1.1|||"},
        expectation{"/307", "POST /echo HTTP/1.1|payload||"},
        expectation{"/308", "POST /echo HTTP/1.1|payload||"}}) {
    const std::string url = srv.url(e.path);
    http::response r = co_await session.post(url, body);
    EXPECT_EQ(co_await r.text(), e.result) << e.path;
  }
  const std::string put_url = srv.url("/303");
  http::response p = co_await session.put(put_url, body);
  EXPECT_EQ(co_await p.text(), "GET /echo HTTP/1.1|||");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientRedirect, MethodsChangeAsRfc9110Says) { run_test(methods_change_as_rfc_9110_says); }

coreio::task<void> loops_and_limits_are_errors() {
  raw_server srv{redirector};
  http::client session;
  const std::string loop = srv.url("/loop");
  std::string what;
  try {
    (void)co_await session.get(loop);
  } catch (const http::error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("too many redirects (10)"), std::string::npos) << what;
  http::request_options two{.max_redirects = 1};
  const std::string chain = srv.url("/a");
  what.clear();
  try {
    (void)co_await session.get(chain, two);
  } catch (const http::error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("too many redirects (1)"), std::string::npos) << what;
  http::request_options no{.allow_redirects = false};
  http::response r = co_await session.get(chain, no);
  EXPECT_EQ(r.status(), 302);
  EXPECT_EQ(r.header("location"), "/b");
  EXPECT_EQ(co_await r.text(), "moved");
  // The pool is healthy.
  const std::string echo = srv.url("/echo");
  http::response ok = co_await session.get(echo);
  EXPECT_EQ(ok.status(), 200);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientRedirect, LoopsAndLimitsAreErrors) { run_test(loops_and_limits_are_errors); }

coreio::task<void> credentials_do_not_cross_origins() {
  raw_server a{redirector};
  raw_server b{redirector};
  http::client session;
  http::request_options o{.headers = {{"X-Target", b.url("/echo")},
                                      {"Cookie", "c=1"},
                                      {"Proxy-Authorization", "Basic cHJveHk6cHc="}},
                          .auth = http::basic_auth{"user", "pw"}};
  const std::string away = a.url("/away");
  http::response r = co_await session.get(away, o);
  EXPECT_EQ(co_await r.text(), "GET /echo HTTP/1.1|||");  // no Authorization, no Cookie at b
  EXPECT_EQ(b.seen().back().header("proxy-authorization"), "");
  const std::string same = a.url("/same");
  http::response s = co_await session.get(same, o);
  EXPECT_EQ(co_await s.text(), "GET /echo HTTP/1.1||Basic dXNlcjpwdw==|c=1");  // same origin
  // Credentials in the Location are the new target's (as in a request URL, percent-decoded),
  // and the URL goes on without them.
  const std::string with_userinfo = "http://u2:p%202@" + b.url("/echo").substr(7);
  http::request_options o2{.headers = {{"X-Target", with_userinfo}}};
  http::response t = co_await session.get(away, o2);
  EXPECT_EQ(co_await t.text(), "GET /echo HTTP/1.1||Basic dTI6cCAy|");
  EXPECT_EQ(t.url(), b.url("/echo"));
  // The caller's own Host names a host at the first origin only; another origin gets its own.
  http::request_options vhost{.headers = {{"X-Target", b.url("/echo")}, {"Host", "vhost.test"}}};
  http::response v = co_await session.get(away, vhost);
  (void)co_await v.text();
  EXPECT_EQ(a.seen().back().header("host"), "vhost.test");
  EXPECT_EQ(b.seen().back().header("host"), "127.0.0.1:" + std::to_string(b.port()));
  co_await session.close();
  co_await a.stop();
  co_await b.stop();
}
TEST(ClientRedirect, CredentialsDoNotCrossOrigins) { run_test(credentials_do_not_cross_origins); }

// A redirect's body is not the answer: one that cannot be decoded is dropped with its connection,
// and the redirect followed.
coreio::task<void> a_corrupt_redirect_body_is_dropped() {
  raw_server srv{redirector};
  http::client session;
  const std::string url = srv.url("/corrupt");
  http::response r = co_await session.get(url);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(co_await r.text(), "GET /echo HTTP/1.1|||");
  EXPECT_EQ(r.history().size(), 1u);
  EXPECT_EQ(srv.connections(), 2u);  // the first one was not reused
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientRedirect, ACorruptRedirectBodyIsDropped) {
  run_test(a_corrupt_redirect_body_is_dropped);
}

// A redirect whose body stalls is followed after a bounded drain (no deadline set), and an empty
// Location is nowhere to go: the 3xx is the answer.
coreio::task<void> stalled_or_empty_redirects() {
  raw_server srv{redirector};
  http::client session;
  const std::string stalls = srv.url("/stalls");
  http::response r = co_await session.get(stalls);
  EXPECT_EQ(co_await r.text(), "GET /echo HTTP/1.1|||");
  const std::string nowhere = srv.url("/nowhere");
  http::response n = co_await session.get(nowhere);
  EXPECT_EQ(n.status(), 302);
  EXPECT_EQ(co_await n.text(), "stays");
  EXPECT_TRUE(n.history().empty());
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientRedirect, StalledOrEmptyRedirects) { run_test(stalled_or_empty_redirects); }

}  // namespace
}  // namespace coreio_http_test
