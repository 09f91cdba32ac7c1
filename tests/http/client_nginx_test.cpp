// http/client_nginx_test.cpp — the client against a real nginx started by the test (support/
// nginx_fixture.hpp): static pages, keep-alive, gzip (chunked), HEAD, redirects, statuses, many
// requests in flight, and TLS with the test CA (and without it: a verification error).
#include <coreio/http/client.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/client_support.hpp"
#include "support/nginx_fixture.hpp"
#include "support/test_certs.hpp"

namespace coreio_http_test {
namespace {

// The nginx of the running test (with_nginx).
const nginx_fixture* g_nginx = nullptr;

std::string big_text() {
  std::string t;
  for (int i = 0; i < 20000; ++i) t += "line " + std::to_string(i) + " of a compressible page\n";
  return t;
}

/// Starts nginx (a failure to start fails the test), runs body against it, stops it.
void with_nginx(coreio::task<void> (*body)()) {
  nginx_fixture nginx{nginx_options{.tls = true}};
  nginx.write_file("big.txt", big_text());
  g_nginx = &nginx;
  run_test(body);
  g_nginx = nullptr;
}

coreio::task<void> static_pages_keep_alive_gzip_and_head() {
  const nginx_fixture& nginx = *g_nginx;
  http::client session;
  const std::string index = nginx.url("/index.html");
  for (int i = 0; i < 20; ++i) {
    http::response r = co_await session.get(index);
    EXPECT_EQ(r.status(), 200);
    EXPECT_EQ(r.header("content-type"), "text/html");
    EXPECT_EQ(co_await r.text(), "<html><body>coreio test page</body></html>\n");
  }
  EXPECT_EQ(session.stats().connections_opened, 1u);
  EXPECT_EQ(session.stats().connections_reused, 19u);

  const std::string big = nginx.url("/big.txt");
  http::response g = co_await session.get(big);
  EXPECT_EQ(g.header("content-encoding"), "gzip");
  EXPECT_EQ(g.header("transfer-encoding"), "chunked");
  EXPECT_EQ(co_await g.text(), big_text());

  http::request_options identity{.headers = {{"Accept-Encoding", "identity"}}};
  http::response plain = co_await session.get(big, identity);
  EXPECT_FALSE(plain.header("content-encoding").has_value());
  EXPECT_EQ(co_await plain.text(), big_text());

  http::response h = co_await session.head(big, identity);
  EXPECT_EQ(h.header("content-length"), std::to_string(big_text().size()));
  EXPECT_EQ(co_await h.read(), "");

  const std::string redirect = nginx.url("/redirect");
  http::response r = co_await session.get(redirect);
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.history().size(), 1u);
  EXPECT_EQ(r.url(), index);
  (void)co_await r.read();  // gives the connection back

  const std::string missing = nginx.url("/status/404");
  http::response m = co_await session.get(missing);
  EXPECT_EQ(m.status(), 404);
  bool thrown = false;
  try {
    m.raise_for_status();
  } catch (const http::status_error& e) {
    thrown = e.status() == 404;
  }
  EXPECT_TRUE(thrown);
  EXPECT_EQ(session.stats().connections_opened, 1u);  // everything on one connection
  co_await session.close();
}
TEST(ClientNginx, StaticPagesKeepAliveGzipAndHead) {
  with_nginx(static_pages_keep_alive_gzip_and_head);
}

coreio::task<std::size_t> fetch_size(http::client* session, std::string url) {
  http::response r = co_await session->get(url);
  r.raise_for_status();
  const std::string body = co_await r.read();
  co_return body.size();
}

coreio::task<void> many_requests_in_flight() {
  const nginx_fixture& nginx = *g_nginx;
  http::client_options opts{.limit = 8};
  http::client session{opts};
  std::vector<coreio::task<std::size_t>> all;
  const int n = coreio_test::sanitized(400, 60);
  for (int i = 0; i < n; ++i) all.push_back(fetch_size(&session, nginx.url("/big.txt")));
  const auto sizes = co_await coreio::gather(std::move(all));
  for (std::size_t s : sizes) EXPECT_EQ(s, big_text().size());
  EXPECT_LE(session.stats().connections_opened, 8u);
  co_await session.close();
}
TEST(ClientNginx, ManyRequestsInFlight) { with_nginx(many_requests_in_flight); }

coreio::task<void> tls_with_the_test_ca() {
  const nginx_fixture& nginx = *g_nginx;
  http::client_options opts{.ca_file = test_certs::get().ca_file};
  http::client session{opts};
  const std::string index = nginx.tls_url("/index.html"), big = nginx.tls_url("/big.txt");
  for (int i = 0; i < 3; ++i) {
    http::response r = co_await session.get(index);
    EXPECT_EQ(co_await r.text(), "<html><body>coreio test page</body></html>\n");
  }
  http::response g = co_await session.get(big);
  EXPECT_EQ(co_await g.text(), big_text());
  EXPECT_EQ(session.stats().connections_opened, 1u);  // keep-alive over TLS
  co_await session.close();

  http::client untrusting;  // system store only: the test CA is unknown
  std::string what;
  try {
    (void)co_await untrusting.get(index);
  } catch (const http::error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("tls"), std::string::npos) << what;
  co_await untrusting.close();
}
TEST(ClientNginx, TlsWithTheTestCa) { with_nginx(tls_with_the_test_ca); }

}  // namespace
}  // namespace coreio_http_test
