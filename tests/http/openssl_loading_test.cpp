// openssl_loading_test.cpp — src/http/openssl_api.hpp: coreio::http does not link OpenSSL; a
// plain-HTTP client and server never load it, and the first TLS context does.
//
// CTest runs each test in a process of its own. Run together with the TLS tests in one process,
// OpenSSL may be loaded already: the test then says so and skips.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "http/tls.hpp"
#include "support/server_support.hpp"

namespace coreio_http_test {
namespace {

bool libssl_mapped() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/libssl.so") != std::string::npos) return true;
  }
  return false;
}

coreio::task<void> plain_round_trip() {
  running_server rs{test_options()};
  http::client session;
  http::response r = co_await session.get(rs.url("/hello"));
  EXPECT_EQ(co_await r.text(), "Hello, World!");
  co_await session.close();
  co_await rs.stop();
}

TEST(OpenSslLoading, PlainHttpNeverLoadsItAndTheFirstTlsContextDoes) {
  if (libssl_mapped()) GTEST_SKIP() << "OpenSSL was loaded by an earlier test in this process";
  run_test(plain_round_trip);
  EXPECT_FALSE(libssl_mapped());
  const auto ctx = coreio::http::detail::tls_context::client();
  EXPECT_TRUE(libssl_mapped());
}

}  // namespace
}  // namespace coreio_http_test
