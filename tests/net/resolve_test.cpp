// resolve_test.cpp — coreio/net/resolve.hpp: names through the resolver, numeric addresses
// returned unchanged, an unresolvable name throws std::system_error naming it.
#include <coreio/net/resolve.hpp>

#include <gtest/gtest.h>

#include <string>
#include <system_error>
#include <vector>

#include <coreio/coreio.hpp>

#include "net_support.hpp"

namespace {

using coreio::net::endpoint;
using coreio::net::resolve;

coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }

coreio::task<std::vector<endpoint>> resolve_task(std::string host, std::uint16_t port) {
  co_return co_await resolve(std::move(host), port);
}

bool is_loopback(const endpoint& e) { return e.address.rfind("127.", 0) == 0 || e.address == "::1"; }

TEST(ResolveTest, LocalhostGivesLoopbackAddressesWithThePort) {
  coreio::runtime rt{two_workers()};
  const auto eps = rt.block_on(resolve_task("localhost", 80));
  ASSERT_FALSE(eps.empty());
  for (const auto& e : eps) {
    EXPECT_EQ(e.port, 80) << e.to_string();
    EXPECT_TRUE(is_loopback(e)) << e.to_string();
  }
}

TEST(ResolveTest, NumericAddressesComeBackUnchanged) {
  coreio::runtime rt{two_workers()};
  EXPECT_EQ(rt.block_on(resolve_task("127.0.0.1", 8080)), (std::vector<endpoint>{{"127.0.0.1", 8080}}));
  EXPECT_EQ(rt.block_on(resolve_task("::1", 5)), (std::vector<endpoint>{{"::1", 5}}));
  EXPECT_EQ(rt.block_on(resolve_task("10.1.2.3", 0)), (std::vector<endpoint>{{"10.1.2.3", 0}}));
}

TEST(ResolveTest, AnUnresolvableNameThrowsSystemErrorNamingIt) {
  coreio::runtime rt{two_workers()};
  try {
    (void)rt.block_on(resolve_task("no-such-host.invalid", 80));
    ADD_FAILURE() << "no-such-host.invalid resolved";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-host.invalid"), std::string::npos) << e.what();
  }
}

}  // namespace
