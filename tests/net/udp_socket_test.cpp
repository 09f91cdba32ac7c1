// udp_socket_test.cpp — coreio/net/udp_socket.hpp: send_to / receive_from with the sender's
// endpoint; connect() then send / receive (and the filter on other senders); truncation to the
// buffer; a pending receive cancelled from another task; IPv6 loopback; misuse; a dropped socket's
// port free at once.
#include <coreio/net/udp_socket.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <utility>

#include <coreio/coreio.hpp>

#include "net_support.hpp"
#include "support/suspension_probe.hpp"

namespace {

using namespace std::chrono_literals;
using namespace coreio_net_test;
using coreio::net::udp_socket;
using coreio_test::prompt;
using coreio_test::stopwatch;

coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }

coreio::task<void> datagrams_both_ways(std::string host) {
  auto a = udp_socket::bind(host, 0);
  auto b = udp_socket::bind(host, 0);
  EXPECT_NE(a.port(), 0);
  EXPECT_EQ(a.local_endpoint(), (endpoint{host, a.port()}));
  std::array<std::byte, 64> buf;

  // send_to / receive_from: the receiver learns who sent it.
  EXPECT_EQ(co_await a.send_to(as_bytes("ping"), b.local_endpoint()), 4u);
  auto [n, from] = co_await b.receive_from(std::span(buf));
  EXPECT_EQ(to_string(std::span(buf).first(n)), "ping");
  EXPECT_EQ(from, a.local_endpoint());
  EXPECT_EQ(co_await b.send_to(as_bytes("pong!"), from), 5u);
  auto [m, from2] = co_await a.receive_from(std::span(buf));
  EXPECT_EQ(to_string(std::span(buf).first(m)), "pong!");
  EXPECT_EQ(from2, b.local_endpoint());

  // connect() sets the default peer for send / receive.
  co_await a.connect(host, b.port());
  co_await b.connect(host, a.port());
  EXPECT_EQ(co_await a.send(as_bytes("connected")), 9u);
  auto [k, from3] = co_await b.receive(std::span(buf));
  EXPECT_EQ(to_string(std::span(buf).first(k)), "connected");
  EXPECT_EQ(from3, a.local_endpoint());

  // A connected socket only receives from its peer: c's datagram is filtered, b's arrives.
  auto c = udp_socket::bind(host, 0);
  co_await c.send_to(as_bytes("stranger"), a.local_endpoint());
  co_await coreio::sleep_for(10ms);
  co_await b.send(as_bytes("friend"));
  auto [f, from4] = co_await a.receive(std::span(buf));
  EXPECT_EQ(to_string(std::span(buf).first(f)), "friend");
  EXPECT_EQ(from4, b.local_endpoint());
}

TEST(UdpSocketTest, SendToAndReceiveFromReportTheSenderAndConnectSetsTheDefaultPeer) {
  coreio::runtime rt{two_workers()};
  rt.block_on(datagrams_both_ways("127.0.0.1"));
}

TEST(UdpSocketTest, WorksOverIpv6Loopback) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "IPv6 loopback (::1) is not available here";
  coreio::runtime rt{two_workers()};
  rt.block_on(datagrams_both_ways("::1"));
}

coreio::task<std::size_t> truncated_receive() {
  auto a = udp_socket::bind("127.0.0.1", 0);
  auto b = udp_socket::bind("127.0.0.1", 0);
  const auto big = pattern(100);
  co_await a.send_to(std::span<const std::byte>(big), b.local_endpoint());
  std::array<std::byte, 10> small;
  auto [n, from] = co_await b.receive_from(std::span(small));
  EXPECT_EQ(from, a.local_endpoint());
  EXPECT_TRUE(std::equal(small.begin(),
                         small.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(n, 10)),
                         big.begin()));
  co_return n;
}

TEST(UdpSocketTest, ADatagramLargerThanTheBufferIsTruncatedToIt) {
  coreio::runtime rt{two_workers()};
  EXPECT_EQ(rt.block_on(truncated_receive()), 10u);
}

/// Sets *pending once suspended in receive_from().
coreio::task<std::pair<std::size_t, endpoint>> receive_one(udp_socket* s, std::span<std::byte> buf,
                                                           std::atomic<bool>* pending) {
  co_return co_await coreio_test::count_suspension(s->receive_from(buf), pending);
}

struct udp_cancel_report {
  bool cancelled = false;
  double seconds = 0;
  std::string after;
};

coreio::task<udp_cancel_report> cancel_a_pending_receive() {
  auto a = udp_socket::bind("127.0.0.1", 0);
  auto b = udp_socket::bind("127.0.0.1", 0);
  std::array<std::byte, 64> buf;
  std::atomic<bool> pending{false};
  auto h = coreio::spawn(receive_one(&b, std::span(buf), &pending));
  co_await coreio_test::yield_until(&pending);  // nothing is sent: the receive is pending
  EXPECT_FALSE(h.done());
  udp_cancel_report r;
  stopwatch sw;
  h.cancel();
  try {
    (void)co_await h;
  } catch (const coreio::cancelled_error&) {
    r.cancelled = true;
  }
  r.seconds = sw.seconds();
  // The socket still receives.
  co_await a.send_to(as_bytes("later"), b.local_endpoint());
  auto [n, from] = co_await b.receive_from(std::span(buf));
  r.after = to_string(std::span(buf).first(n));
  co_return r;
}

TEST(UdpSocketTest, CancellingAPendingReceiveFromThrowsCancelledPromptly) {
  coreio::runtime rt{two_workers()};
  const udp_cancel_report r = rt.block_on(cancel_a_pending_receive());
  EXPECT_TRUE(r.cancelled);
  EXPECT_LT(r.seconds, std::chrono::duration<double>(prompt).count());
  EXPECT_EQ(r.after, "later");
}

coreio::task<void> udp_misuse() {
  udp_socket s;
  EXPECT_FALSE(s.is_open());
  std::array<std::byte, 4> b;
  EXPECT_THROW((void)s.receive_from(std::span(b)), coreio::usage_error);
  EXPECT_THROW((void)s.send_to(std::span<const std::byte>(b), endpoint{"127.0.0.1", 9}),
               coreio::usage_error);
  EXPECT_THROW((void)s.port(), coreio::usage_error);
  EXPECT_THROW(co_await s.connect("127.0.0.1", 9), coreio::usage_error);
  EXPECT_THROW((void)udp_socket::bind("not an address", 0), std::system_error);
  EXPECT_THROW((void)udp_socket::bind(std::string("127.0.0.1\0x", 11), 0), std::system_error);
  s.close();  // no-op
}

TEST(UdpSocketTest, MisuseThrowsUsageErrorAndBindOutsideARuntimeToo) {
  coreio::runtime rt{two_workers()};
  rt.block_on(udp_misuse());
  EXPECT_THROW((void)udp_socket::bind("127.0.0.1", 0), coreio::usage_error);
}

/// A dropped socket's port can be bound again at once (it stayed open until the owner's loop ran
/// a posted delete, and kept taking datagrams meant for a later socket of that port).
coreio::task<void> dropped_socket_frees_its_port() {
  std::uint16_t port = 0;
  {
    auto s = udp_socket::bind("127.0.0.1", 0);
    port = s.port();
  }
  auto again = udp_socket::bind("127.0.0.1", port);  // throws EADDRINUSE if still open
  EXPECT_EQ(again.port(), port);
  co_return;
}

TEST(UdpSocketTest, ADroppedSocketFreesItsPortAtOnce) {
  coreio::runtime rt{two_workers()};
  for (int i = 0; i < 20; ++i) rt.block_on(dropped_socket_frees_its_port());
}

}  // namespace
