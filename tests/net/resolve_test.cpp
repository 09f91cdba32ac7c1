// resolve_test.cpp — coreio/net/resolve.hpp: names through the resolver, numeric addresses
// returned unchanged and without a lookup, errors naming the host; and, with the test binary's own
// getaddrinfo (fake_dns.hpp) holding lookups of *.slow.test until released: a timeout on a slow
// lookup fires while the lookup is still held, a fast lookup is not stuck behind a slow one (even on one worker), lookups run
// in parallel up to the bound, an abandoned queued lookup is skipped, and destroying a runtime does
// not wait for a lookup.
#include <coreio/net/resolve.hpp>

#include <gtest/gtest.h>

#include <netdb.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <coreio/coreio.hpp>

#include "fake_dns.hpp"
#include "net_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio::net::endpoint;
using coreio::net::resolve;
using coreio_test::ends_within;
using coreio_test::stopwatch;
using coreio_test::wait_until;
namespace fake_dns = coreio_net_test::fake_dns;

coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }
coreio::runtime_options one_worker() { return coreio::runtime_options{.workers = 1}; }

/// Bound on a timeout or a shutdown that must not wait for a held lookup: half of fake_dns's 10 s
/// safety net, which is what waiting for the lookup would cost. Not a speed bound (a sanitizer
/// build on a loaded machine misses any tight one); the lookup still in flight afterwards is the
/// exact check, the measured time is printed.
constexpr auto held_lookup_bound = 5s;

coreio::task<std::vector<endpoint>> resolve_task(std::string host, std::uint16_t port) {
  co_return co_await resolve(std::move(host), port);
}

bool is_loopback(const endpoint& e) {
  return e.address.rfind("127.", 0) == 0 || e.address == "::1";
}

TEST(ResolveTest, LocalhostGivesLoopbackAddressesWithThePort) {
  coreio::runtime rt{two_workers()};
  const auto eps = rt.block_on(resolve_task("localhost", 80));
  ASSERT_FALSE(eps.empty());
  for (const auto& e : eps) {
    EXPECT_EQ(e.port, 80) << e.to_string();
    EXPECT_TRUE(is_loopback(e)) << e.to_string();
  }
}

TEST(ResolveTest, NumericAddressesComeBackUnchangedWithoutALookup) {
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  EXPECT_EQ(rt.block_on(resolve_task("127.0.0.1", 8080)),
            (std::vector<endpoint>{{"127.0.0.1", 8080}}));
  EXPECT_EQ(rt.block_on(resolve_task("::1", 5)), (std::vector<endpoint>{{"::1", 5}}));
  EXPECT_EQ(rt.block_on(resolve_task("10.1.2.3", 0)), (std::vector<endpoint>{{"10.1.2.3", 0}}));
  EXPECT_EQ(fake_dns::calls(), 0u) << "a numeric address went through getaddrinfo";
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

TEST(ResolveTest, AGetaddrinfoErrorCarriesItsEaiCodeInResolveCategory) {
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  try {
    (void)rt.block_on(resolve_task("missing.nx.test", 80));
    ADD_FAILURE() << "missing.nx.test resolved";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().category(), coreio::net::resolve_category()) << e.code().category().name();
    EXPECT_EQ(e.code().value(), EAI_NONAME);
    EXPECT_NE(std::string(e.what()).find("missing.nx.test"), std::string::npos) << e.what();
  }
}

/// CPython's socket module refuses a host with a NUL inside ("host name must not contain null
/// character"); getaddrinfo and inet_pton would read only the part before it.
coreio::task<std::string> resolve_error(std::string host) {
  try {
    const auto eps = co_await resolve(std::move(host), 80);
    co_return "resolved to " + (eps.empty() ? std::string("nothing") : eps.front().to_string());
  } catch (const std::system_error& e) {
    if (e.code() != std::errc::invalid_argument) co_return "wrong error: " + std::string(e.what());
    co_return e.what();
  }
}

TEST(ResolveTest, AHostWithANulByteIsRefusedBeforeAnyLookup) {
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  for (const std::string& host : {std::string("localhost\0.attacker.example", 27),
                                  std::string("127.0.0.1\0evil", 14), std::string("\0", 1)}) {
    const std::string got = rt.block_on(resolve_error(host));
    EXPECT_NE(got.find("NUL byte"), std::string::npos) << got;
  }
  EXPECT_EQ(fake_dns::calls(), 0u) << "a name with a NUL went to getaddrinfo";
}

TEST(ResolveTest, DuplicateAddressesAreDroppedAndTheOrderKept) {
  fake_dns::scope dns;
  fake_dns::set_addresses("dup.test", {"::1", "127.0.0.1", "::1", "127.0.0.2"});
  coreio::runtime rt{two_workers()};
  EXPECT_EQ(rt.block_on(resolve_task("dup.test", 7)),
            (std::vector<endpoint>{{"::1", 7}, {"127.0.0.1", 7}, {"127.0.0.2", 7}}));
}

// ---- slow lookups -------------------------------------------------------------------------------

struct timed_outcome {
  bool timed_out = false;
  double seconds = 0;
};

coreio::task<timed_outcome> resolve_with_timeout(std::string host,
                                                 std::chrono::milliseconds limit) {
  timed_outcome r;
  stopwatch sw;
  try {
    (void)co_await coreio::wait_for(resolve(std::move(host), 80), limit);
  } catch (const coreio::timeout_error&) {
    r.timed_out = true;
  }
  r.seconds = sw.seconds();
  co_return r;
}

TEST(ResolveTest, ATimeoutOnASlowLookupIsOnTime) {
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  const timed_outcome r = rt.block_on(resolve_with_timeout("a.slow.test", 100ms));
  EXPECT_TRUE(r.timed_out);
  EXPECT_GE(r.seconds, 0.099);
  EXPECT_LT(r.seconds, std::chrono::duration<double>(held_lookup_bound).count())
      << "wait_for(resolve(slow), 100ms) ended after " << r.seconds << " s";
  EXPECT_EQ(fake_dns::slow_in_flight(), 1u) << "the abandoned lookup should still be running";
  std::printf("[ info ] wait_for(resolve(slow), 100ms) timed out after %.1f ms\n", r.seconds * 1e3);
}

coreio::task<timed_outcome> connect_with_timeout(std::string host,
                                                 std::chrono::milliseconds limit) {
  timed_outcome r;
  stopwatch sw;
  try {
    (void)co_await coreio::wait_for(coreio::net::tcp_stream::connect(std::move(host), 80), limit);
  } catch (const coreio::timeout_error&) {
    r.timed_out = true;
  }
  r.seconds = sw.seconds();
  co_return r;
}

TEST(ResolveTest, ATimeoutOnConnectByNameDuringASlowLookupIsOnTime) {
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  const timed_outcome r = rt.block_on(connect_with_timeout("b.slow.test", 100ms));
  EXPECT_TRUE(r.timed_out);
  EXPECT_GE(r.seconds, 0.099);
  EXPECT_LT(r.seconds, std::chrono::duration<double>(held_lookup_bound).count())
      << "wait_for(connect(slow name), 100ms) ended after " << r.seconds << " s";
  EXPECT_EQ(fake_dns::slow_in_flight(), 1u) << "the abandoned lookup should still be running";
  std::printf("[ info ] wait_for(connect(slow name), 100ms) timed out after %.1f ms\n",
              r.seconds * 1e3);
}

TEST(ResolveTest, AFastLookupOnOneWorkerCompletesWhileASlowOneIsPending) {
  // Asio's resolver ran one lookup at a time per worker: "localhost" waited for the slow one.
  fake_dns::scope dns;
  coreio::runtime rt{one_worker()};
  auto slow = rt.spawn(resolve_task("c.slow.test", 80));
  ASSERT_TRUE(wait_until([] { return fake_dns::slow_in_flight() == 1; }))
      << "the slow lookup never started";
  auto fast = rt.spawn(resolve_task("localhost", 80));
  ASSERT_TRUE(ends_within(fast, 5s)) << "resolve(localhost) waited behind the slow lookup";
  EXPECT_FALSE(fast.get().empty());
  EXPECT_FALSE(slow.done()) << "the slow lookup was not held";
  fake_dns::release_slow();
  ASSERT_TRUE(ends_within(slow, 5s));
  EXPECT_EQ(slow.get(), (std::vector<endpoint>{{"127.0.0.1", 80}}));
}

TEST(ResolveTest, DestroyingTheRuntimeDoesNotWaitForAPendingLookup) {
  fake_dns::scope dns;
  auto rt = std::make_unique<coreio::runtime>(two_workers());
  auto h = rt->spawn(resolve_task("d.slow.test", 80));
  ASSERT_TRUE(wait_until([] { return fake_dns::slow_in_flight() == 1; }))
      << "the lookup never started";
  h.detach();
  stopwatch sw;
  rt.reset();
  const double took = sw.seconds();
  EXPECT_EQ(fake_dns::slow_in_flight(), 1u)
      << "the lookup ended before the runtime: nothing was shown";
  EXPECT_LT(took, std::chrono::duration<double>(held_lookup_bound).count())
      << "~runtime took " << took << " s with a lookup pending";
  std::printf("[ info ] ~runtime with a pending lookup took %.1f ms\n", took * 1e3);
  // The abandoned lookup ends later, on its own thread, touching no runtime (ASan would see it).
  fake_dns::release_slow();
  EXPECT_TRUE(wait_until([] { return fake_dns::slow_in_flight() == 0; }));
}

coreio::task<std::size_t> resolve_many(int n) {
  std::vector<coreio::task<std::vector<endpoint>>> lookups;
  for (int i = 0; i < n; ++i)
    lookups.push_back(resolve_task("p" + std::to_string(i) + ".slow.test", 80));
  const auto results = co_await coreio::gather(std::move(lookups));
  std::size_t ok = 0;
  for (const auto& r : results) ok += r == std::vector<endpoint>{{"127.0.0.1", 80}} ? 1 : 0;
  co_return ok;
}

TEST(ResolveTest, LookupsRunInParallelUpToTheBound) {
  fake_dns::scope dns;
  const std::size_t bound = coreio::net::resolver_max_lookups;
  const int n = static_cast<int>(bound) + 4;
  coreio::runtime rt{two_workers()};
  auto h = rt.spawn(resolve_many(n));
  // All of the bound's lookups are inside getaddrinfo at once: they run in parallel...
  ASSERT_TRUE(wait_until([&] { return fake_dns::slow_in_flight() == bound; }))
      << "only " << fake_dns::slow_in_flight() << " lookups ran at once";
  EXPECT_FALSE(h.done());
  // ...and the rest run once threads free up; never more than the bound at once.
  while (!h.done()) {
    fake_dns::release_slow();
    ASSERT_TRUE(wait_until([&] { return h.done() || fake_dns::slow_in_flight() > 0; }));
  }
  EXPECT_EQ(h.get(), static_cast<std::size_t>(n));
  EXPECT_EQ(fake_dns::slow_in_flight_peak(), bound);
}

coreio::task<void> hold_pool(std::vector<coreio::join_handle<std::vector<endpoint>>>* held,
                             std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    held->push_back(coreio::spawn(resolve_task("h" + std::to_string(i) + ".slow.test", 80)));
  }
  co_return;
}

TEST(ResolveTest, AnAbandonedLookupThatHadNotStartedIsSkipped) {
  fake_dns::scope dns;
  const std::size_t bound = coreio::net::resolver_max_lookups;
  coreio::runtime rt{two_workers()};
  std::vector<coreio::join_handle<std::vector<endpoint>>> held;
  rt.block_on(hold_pool(&held, bound));
  ASSERT_TRUE(wait_until([&] { return fake_dns::slow_in_flight() == bound; }));
  // Every resolver thread is busy: this lookup queues. Its awaiter gives up.
  auto queued = rt.spawn(resolve_task("skipped.nx.test", 80));
  queued.cancel();
  ASSERT_TRUE(ends_within(queued, 5s)) << "a cancelled queued lookup was not abandoned at once";
  EXPECT_THROW((void)queued.get(), coreio::cancelled_error);
  fake_dns::release_slow();
  for (auto& h : held) {
    ASSERT_TRUE(ends_within(h, 5s));
    (void)h.get();
  }
  // The queue has drained (every held lookup has returned; a thread that took the skipped one
  // looked at it before taking the next); it was never looked up.
  EXPECT_TRUE(wait_until([] { return fake_dns::slow_in_flight() == 0; }));
  auto probe = rt.spawn(resolve_task("after.slow.test", 80));  // goes behind it in the FIFO
  ASSERT_TRUE(wait_until([] { return fake_dns::slow_in_flight() == 1; }));
  fake_dns::release_slow();
  ASSERT_TRUE(ends_within(probe, 5s));
  (void)probe.get();
  EXPECT_EQ(fake_dns::calls_for("skipped.nx.test"), 0u);
}

}  // namespace
