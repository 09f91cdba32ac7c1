// happy_eyeballs_test.cpp — tcp_stream::connect by name races the host's addresses (RFC 8305):
// an address that never answers costs one connection-attempt delay, not a connect timeout; a
// refused one starts the next at once; families are interleaved; losers are closed before connect
// returns; a cancelled connect leaves no socket behind; connect_options::on_worker places the
// socket on that worker's loop, raced or not.
//
// Names resolve through the test binary's getaddrinfo (fake_dns.hpp) to loopback addresses only.
// An address "that does not answer" is a loopback listener whose accept queue is full: listen
// backlog 0, one connection made and never accepted. Linux then drops every further SYN to it
// (tcp_conn_request: accept queue full -> drop; the client retransmits after 1 s, 3 s, ...), so a
// connect there stays pending, deterministically and on this machine only. The tests skip if the
// kernel is set to answer with a reset instead (net.ipv4.tcp_abort_on_overflow = 1).
#include <coreio/net/tcp_stream.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <coreio/coreio.hpp>

#include "fake_dns.hpp"
#include "net/sockets.hpp"
#include "net_support.hpp"
#include "sched/worker.hpp"

namespace {

using namespace std::chrono_literals;
using namespace coreio_net_test;
using coreio_test::sanitized;
using coreio_test::stopwatch;

coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }

/// The connection-attempt delay, and how far past a multiple of it a connect may end and still
/// count as on time. Not a speed bound (a sanitizer build on a loaded machine misses any tight
/// one): it tells one attempt delay from a silent address's own connect timeout (the kernel gives
/// up on a SYN after minutes). Where a test must tell one delay from two, it sets a delay longer
/// than this slack (long_delay) instead of bounding the time tightly.
constexpr auto delay = 250ms;
constexpr auto slack = 5s;
/// A delay for telling one attempt delay from two by the clock: the bound between them, 2 *
/// long_delay, leaves one long_delay of slack.
const auto long_delay = sanitized<std::chrono::milliseconds>(2'000ms, 3'000ms);

bool syn_drop_on_full_queue() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_abort_on_overflow");
  int v = 0;
  return !(f >> v) || v == 0;
}

/// A plain socket address for a numeric IPv4 or IPv6 text.
struct sock_address {
  sockaddr_storage ss{};
  socklen_t len = 0;
  sock_address(const std::string& ip, std::uint16_t port) {
    if (ip.find(':') != std::string::npos) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      ::inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
      len = sizeof(sockaddr_in6);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      ::inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
      len = sizeof(sockaddr_in);
    }
  }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

/// A loopback address:port that never answers a SYN (file comment). Plain sockets, no runtime.
class blackhole {
 public:
  /// False if ip:port cannot be bound (taken); then nothing is open.
  bool open(const std::string& ip, std::uint16_t port) {
    const sock_address a(ip, port);
    listener_ = ::socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) return false;
    if (::bind(listener_, a.get(), a.len) != 0 || ::listen(listener_, 0) != 0) {
      close_all();
      return false;
    }
    // Fills the accept queue (backlog 0 holds one connection); it is never accepted.
    filler_ = ::socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (filler_ < 0 || ::connect(filler_, a.get(), a.len) != 0) {
      close_all();
      throw std::system_error(errno, std::generic_category(), "blackhole filler connect");
    }
    return true;
  }
  ~blackhole() { close_all(); }

 private:
  void close_all() {
    if (filler_ >= 0) ::close(std::exchange(filler_, -1));
    if (listener_ >= 0) ::close(std::exchange(listener_, -1));
  }
  int listener_ = -1;
  int filler_ = -1;
};

/// True if a connection to ip:port is refused now (nobody listens). Plain socket, blocking.
bool refuses(const std::string& ip, std::uint16_t port) {
  const sock_address a(ip, port);
  const int fd = ::socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool refused = ::connect(fd, a.get(), a.len) != 0 && errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

/// A listener (coreio) on `live_ip` and blackholes on the same port at `dead_ips`; `port` is
/// theirs.
struct setup {
  tcp_listener live;
  std::vector<std::unique_ptr<blackhole>> dead;
  std::uint16_t port = 0;
};

coreio::task<bool> make_setup(setup* s, std::string live_ip, std::vector<std::string> dead_ips) {
  for (int tries = 0; tries < 20; ++tries) {
    s->live = tcp_listener::bind(live_ip, 0);
    s->port = s->live.port();
    s->dead.clear();
    bool ok = true;
    for (const std::string& ip : dead_ips) {
      auto b = std::make_unique<blackhole>();
      if (!b->open(ip, s->port)) {
        ok = false;
        break;
      }
      s->dead.push_back(std::move(b));
    }
    if (ok) co_return true;
  }
  co_return false;
}

struct connect_result {
  endpoint remote;
  double seconds = 0;
  std::string error;
  // Both ends, kept open so that the test can count descriptors: the winner and its accepted peer.
  tcp_stream client, server;
};

coreio::task<connect_result> timed_connect(std::string host, std::uint16_t port,
                                           tcp_listener* accept_from,
                                           coreio::net::connect_options options = {}) {
  connect_result r;
  stopwatch sw;
  try {
    r.client = co_await tcp_stream::connect(host, port, options);
    r.seconds = sw.seconds();
    r.remote = r.client.remote_endpoint();
    if (accept_from != nullptr) r.server = co_await accept_from->accept();
  } catch (const std::system_error& e) {
    r.seconds = sw.seconds();
    r.error = e.what();
  }
  co_return r;
}

double secs(std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count(); }

void race_one_dead_first(const std::string& dead_ip, const std::string& live_ip) {
  if (!syn_drop_on_full_queue()) GTEST_SKIP() << "tcp_abort_on_overflow is set: no silent address";
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  setup s;
  ASSERT_TRUE(rt.block_on(make_setup(&s, live_ip, {dead_ip})));
  fake_dns::set_addresses("race.test", {dead_ip, live_ip});
  const std::size_t fds_before = count_open_fds();
  const connect_result r = rt.block_on(timed_connect("race.test", s.port, &s.live));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.remote, (endpoint{live_ip, s.port}));
  // The silent address had its head start, and cost no more than that.
  EXPECT_GE(r.seconds, secs(delay) - 0.01);
  EXPECT_LT(r.seconds, secs(delay + slack)) << "connect took " << r.seconds << " s";
  // The attempt on the silent address was cancelled and its socket closed (else it would stay open
  // with its SYN unanswered): two new descriptors, the winner's and its accepted peer.
  EXPECT_TRUE(coreio_test::wait_until([&] { return count_open_fds() == fds_before + 2; }))
      << count_open_fds() - fds_before << " new descriptors: a losing attempt's socket stayed open";
  std::printf("[ info ] %s silent, %s answered: connected in %.1f ms\n", dead_ip.c_str(),
              live_ip.c_str(), r.seconds * 1e3);
}

TEST(HappyEyeballsTest, ASilentIpv6AddressCostsOneAttemptDelay) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "IPv6 loopback (::1) is not available here";
  race_one_dead_first("::1", "127.0.0.1");
}

TEST(HappyEyeballsTest, ASilentIpv4AddressCostsOneAttemptDelay) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "IPv6 loopback (::1) is not available here";
  race_one_dead_first("127.0.0.1", "::1");
}

TEST(HappyEyeballsTest, ASilentFirstAddressOfTheSameFamilyCostsOneAttemptDelay) {
  race_one_dead_first("127.0.0.2", "127.0.0.1");
}

TEST(HappyEyeballsTest, FamiliesAreInterleavedSoTheOtherFamilyIsTriedSecond) {
  // Resolver order: two silent IPv4 addresses, then the live IPv6 one. Interleaved, ::1 is the
  // second attempt (one delay); in resolver order it would be the third (two delays).
  if (!ipv6_loopback_available()) GTEST_SKIP() << "IPv6 loopback (::1) is not available here";
  if (!syn_drop_on_full_queue()) GTEST_SKIP() << "tcp_abort_on_overflow is set: no silent address";
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  setup s;
  ASSERT_TRUE(rt.block_on(make_setup(&s, "::1", {"127.0.0.2", "127.0.0.3"})));
  fake_dns::set_addresses("interleave.test", {"127.0.0.2", "127.0.0.3", "::1"});
  const connect_result r = rt.block_on(
      timed_connect("interleave.test", s.port, &s.live, {.happy_eyeballs_delay = long_delay}));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.remote, (endpoint{"::1", s.port}));
  EXPECT_GE(r.seconds, secs(long_delay) - 0.01);
  EXPECT_LT(r.seconds, secs(2 * long_delay)) << "::1 was not the second attempt";
}

TEST(HappyEyeballsTest, ARefusedAddressStartsTheNextAttemptAtOnce) {
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  setup s;
  ASSERT_TRUE(rt.block_on(make_setup(&s, "127.0.0.1", {})));
  // Nobody listens on 127.0.0.4:port: refused at once. The attempt delay is far longer than the
  // bound: only the refusal can start the second attempt in time.
  fake_dns::set_addresses("refused-first.test", {"127.0.0.4", "127.0.0.1"});
  const connect_result r = rt.block_on(
      timed_connect("refused-first.test", s.port, &s.live, {.happy_eyeballs_delay = 30s}));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.remote, (endpoint{"127.0.0.1", s.port}));
  EXPECT_LT(r.seconds, secs(slack)) << "the refusal did not start the next attempt at once";
}

TEST(HappyEyeballsTest, WhenEveryAddressFailsTheLastErrorIsThrownNamingHostAndPort) {
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  setup s;
  ASSERT_TRUE(rt.block_on(make_setup(&s, "127.0.0.1", {})));
  s.live.close();  // now every address refuses (once the owner's loop has run the close)
  ASSERT_TRUE(coreio_test::wait_until([&] { return refuses("127.0.0.1", s.port); }));
  fake_dns::set_addresses("all-refuse.test", {"127.0.0.4", "127.0.0.1", "127.0.0.5"});
  const connect_result r = rt.block_on(timed_connect("all-refuse.test", s.port, nullptr));
  ASSERT_FALSE(r.error.empty()) << "connected with every address refusing";
  EXPECT_NE(r.error.find("all-refuse.test:" + std::to_string(s.port)), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("refused"), std::string::npos) << r.error;
}

TEST(HappyEyeballsTest, TheDelayOptionSetsTheTimeBeforeTheNextAttempt) {
  // A delay far from the default's 250 ms, on the side a lower bound can tell apart: with the
  // default the second attempt would have connected long before (a shorter option could only be
  // told from the default by a tight upper bound, which a loaded machine misses).
  if (!syn_drop_on_full_queue()) GTEST_SKIP() << "tcp_abort_on_overflow is set: no silent address";
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  setup s;
  ASSERT_TRUE(rt.block_on(make_setup(&s, "127.0.0.1", {"127.0.0.2"})));
  fake_dns::set_addresses("short.test", {"127.0.0.2", "127.0.0.1"});
  const connect_result r = rt.block_on(
      timed_connect("short.test", s.port, &s.live, {.happy_eyeballs_delay = long_delay}));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.remote, (endpoint{"127.0.0.1", s.port}));
  EXPECT_GE(r.seconds, secs(long_delay) - 0.01);
  EXPECT_LT(r.seconds, secs(long_delay + slack));
}

coreio::task<std::string> connect_with_delay(std::chrono::milliseconds d) {
  try {
    (void)co_await tcp_stream::connect("127.0.0.1", 1, {.happy_eyeballs_delay = d});
  } catch (const std::invalid_argument& e) {
    co_return e.what();
  } catch (const std::exception& e) {
    co_return std::string("wrong exception: ") + e.what();
  }
  co_return "no exception";
}

TEST(HappyEyeballsTest, ANonPositiveDelayThrowsInvalidArgument) {
  coreio::runtime rt{two_workers()};
  EXPECT_NE(rt.block_on(connect_with_delay(0ms)).find("happy_eyeballs_delay"), std::string::npos);
  EXPECT_NE(rt.block_on(connect_with_delay(-5ms)).find("happy_eyeballs_delay"), std::string::npos);
}

coreio::task<bool> connect_timing_out(std::string host, std::uint16_t port,
                                      std::chrono::milliseconds limit) {
  try {
    (void)co_await coreio::wait_for(tcp_stream::connect(std::move(host), port), limit);
  } catch (const coreio::timeout_error&) {
    co_return true;
  }
  co_return false;
}

TEST(HappyEyeballsTest, ACancelledConnectClosesEveryAttempt) {
  // Both addresses silent: after 400 ms two attempts are pending; the timeout cancels connect, and
  // by the time it has thrown, both attempts' sockets are gone (their tasks are cancelled as
  // connect unwinds and release their sockets as they end, which the runtime lets happen promptly).
  if (!syn_drop_on_full_queue()) GTEST_SKIP() << "tcp_abort_on_overflow is set: no silent address";
  fake_dns::scope dns;
  coreio::runtime rt{two_workers()};
  setup s;
  ASSERT_TRUE(rt.block_on(make_setup(&s, "127.0.0.1", {"127.0.0.2", "127.0.0.3"})));
  fake_dns::set_addresses("silent.test", {"127.0.0.2", "127.0.0.3"});
  const std::size_t fds_before = count_open_fds();
  stopwatch sw;
  EXPECT_TRUE(rt.block_on(connect_timing_out("silent.test", s.port, 400ms)));
  EXPECT_LT(sw.seconds(), secs(400ms + slack));
  EXPECT_TRUE(coreio_test::wait_until([&] { return count_open_fds() == fds_before; }))
      << count_open_fds() - fds_before << " attempt socket(s) left open";
}

// ---- connect_options::on_worker ------------------------------------------------------------------

struct placed_result {
  std::vector<std::uint32_t> owners;  // the loop each connected stream lives on, in order
  std::string echoed;                 // what came back through the streams, in order
  std::string error;
};

/// Connects once per target to host:port with connect_options::on_worker = target, records the
/// stream's worker, then sends one byte through it from this task (wherever it runs now) and reads
/// it back from the accepted side.
coreio::task<placed_result> connect_placed(std::string host, tcp_listener* lis,
                                           std::vector<int> targets) {
  placed_result r;
  try {
    for (int t : targets) {
      coreio::net::connect_options o;
      o.on_worker = t;
      auto ct = tcp_stream::connect(host, lis->port(), o);
      tcp_stream c = co_await std::move(ct);
      r.owners.push_back(coreio::detail::stream_access::owner(c)->index());
      tcp_stream peer = co_await lis->accept();
      co_await c.write_all(std::string_view("x"));
      std::array<std::byte, 1> b{};
      co_await peer.read_exact(std::span(b));
      r.echoed += static_cast<char>(b[0]);
    }
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  co_return r;
}

// One address (no race) and two (the race's path, the first refused): either way the socket lives
// on the loop of the worker named, modulo the worker count, whichever worker runs the connect.
TEST(HappyEyeballsTest, OnWorkerPlacesTheSocketOnThatWorkersLoop) {
  fake_dns::scope dns;
  coreio::runtime rt{coreio::runtime_options{.workers = 3}};
  setup s;
  ASSERT_TRUE(rt.block_on(make_setup(&s, "127.0.0.1", {})));
  // Nobody listens on 127.0.0.4:port: refused at once, then 127.0.0.1 answers.
  fake_dns::set_addresses("placed.test", {"127.0.0.4", "127.0.0.1"});
  const std::vector<int> targets{2, 0, 1, 4};
  const std::vector<std::uint32_t> want{2, 0, 1, 1};
  for (const char* host : {"127.0.0.1", "placed.test"}) {
    const placed_result r = rt.block_on(connect_placed(host, &s.live, targets));
    ASSERT_TRUE(r.error.empty()) << host << ": " << r.error;
    EXPECT_EQ(r.owners, want) << host;
    EXPECT_EQ(r.echoed, "xxxx") << host;
  }
}

}  // namespace
