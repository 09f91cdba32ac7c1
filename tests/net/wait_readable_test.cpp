// wait_readable_test.cpp — a stream's readiness wait and the read made after it (net/sockets.hpp's
// stream_access::wait_readable and try_read_now; the HTTP server's keep-alive wait, which takes
// its read buffer only once the next request's bytes are there): the wait consumes nothing and
// ends when bytes arrive, at end of stream, at once when bytes are already buffered, with
// timeout_error at its deadline and cancelled_error when cancelled, and holds the read claim while
// it waits; try_read_now reads what is there without an awaiter, says nullopt when nothing is (the
// socket then still wakes a read), and 0 at end of stream.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <coreio/coreio.hpp>

#include "net/sockets.hpp"
#include "net_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio::detail::stream_access;
using coreio::net::tcp_stream;
using coreio_net_test::connected_pair;
using coreio_net_test::stream_pair;
using steady = std::chrono::steady_clock;

/// The wait with a deadline, as the HTTP server builds it.
coreio::net::stream::read_awaiter wait_by(tcp_stream& s, steady::time_point deadline) {
  auto w = stream_access::wait_readable(s);
  stream_access::set_read_deadline(w, deadline);
  return w;
}

/// try_read_now into a 64-byte buffer: the bytes as a string, or nullopt.
std::optional<std::string> try_read(tcp_stream& s) {
  std::array<char, 64> buf{};
  const std::optional<std::size_t> n =
      stream_access::try_read_now(s, std::as_writable_bytes(std::span<char>(buf)));
  if (!n) return std::nullopt;
  return std::string(buf.data(), *n);
}

/// Waits and reads until try_read_now gives something (bytes or end of stream: ""): a wait may end
/// before the bytes can be read (the socket *may* be readable), and loopback may split a write.
coreio::task<std::string> wait_then_read(tcp_stream& s) {
  while (true) {
    co_await wait_by(s, steady::now() + 10s);
    std::optional<std::string> got = try_read(s);
    if (got) co_return *got;
  }
}

TEST(WaitReadableTest, EndsWhenBytesArriveAndLeavesThemForTheRead) {
  // One worker: the waiter runs (and suspends, nothing being there) when the test task yields,
  // before the client writes.
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    EXPECT_EQ(try_read(p.server), std::nullopt);  // nothing yet: the socket waits for an edge
    auto waiter = coreio::spawn([](tcp_stream& s) -> coreio::task<std::size_t> {
      co_return co_await wait_by(s, steady::now() + 10s);
    }(p.server));
    co_await coreio::yield_now();
    co_await p.client.write_all(std::string_view("hello"));
    EXPECT_EQ(co_await waiter, 0u);  // a wait returns no bytes
    std::string got;
    while (got.size() < 5) got += co_await wait_then_read(p.server);
    EXPECT_EQ(got, "hello");
    EXPECT_EQ(try_read(p.server), std::nullopt);  // drained
    // The next bytes wake a plain read, as after any read that found the socket empty.
    co_await p.client.write_all(std::string_view("again"));
    std::array<std::byte, 5> buf{};
    co_await p.server.read_exact(buf);
    EXPECT_EQ(static_cast<char>(buf[0]), 'a');
  }());
}

TEST(WaitReadableTest, EndsAtOnceWhenBytesAreAlreadyThere) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    EXPECT_EQ(try_read(p.server), std::nullopt);
    co_await p.client.write_all(std::string_view("ab"));
    std::string got;
    while (got.size() < 2) got += co_await wait_then_read(p.server);
    EXPECT_EQ(got, "ab");
    // Bytes that are there when the wait starts end it without suspending.
    co_await p.client.write_all(std::string_view("c"));
    EXPECT_EQ(co_await wait_then_read(p.server), "c");
  }());
}

TEST(WaitReadableTest, BytesBufferedInTheStreamEndItAndAreLeftToReadSome) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    co_await p.client.write_all(std::string_view("line\nrest"));
    std::string line = co_await p.server.read_until("\n", 64);
    EXPECT_EQ(line, "line\n");
    // "rest" may be in the stream's buffer (read with the line) or still in the socket.
    co_await wait_by(p.server, steady::now() + 10s);
    std::array<char, 16> buf{};
    std::string got;
    while (got.size() < 4) {
      const std::size_t n = co_await p.server.read_some(std::span<char>(buf));
      got.append(buf.data(), n);
    }
    EXPECT_EQ(got, "rest");
  }());
}

TEST(WaitReadableTest, EndOfStreamEndsItAndTheReadAfterReturnsZero) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    EXPECT_EQ(try_read(p.server), std::nullopt);
    p.client.shutdown_write();
    EXPECT_EQ(co_await wait_then_read(p.server), "");
  }());
}

TEST(WaitReadableTest, ThrowsTimeoutErrorAtItsDeadlineAndTheSocketStillWorks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    EXPECT_EQ(try_read(p.server), std::nullopt);  // a new socket may be readable: a wait ends
    const steady::time_point start = steady::now();
    bool timed_out = false;
    try {
      co_await wait_by(p.server, start + 30ms);
    } catch (const coreio::timeout_error&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_GE(steady::now() - start, 30ms);  // never before its deadline
    co_await p.client.write_all(std::string_view("late"));
    std::array<std::byte, 4> buf{};
    co_await p.server.read_exact(buf);
    EXPECT_EQ(static_cast<char>(buf[3]), 'e');
  }());
}

TEST(WaitReadableTest, ACancelledWaitThrowsCancelledErrorAndReleasesTheReadClaim) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    EXPECT_EQ(try_read(p.server), std::nullopt);
    auto waiter = coreio::spawn([](tcp_stream& s) -> coreio::task<void> {
      co_await wait_by(s, steady::now() + 10s);
    }(p.server));
    co_await coreio::yield_now();  // the waiter holds the claim and waits
    // A second read while the wait holds the claim is a usage error, as for two reads.
    std::array<std::byte, 1> one{};
    bool refused = false;
    try {
      (void)co_await p.server.read_some(std::span(one));
    } catch (const coreio::usage_error&) {
      refused = true;
    }
    EXPECT_TRUE(refused);
    waiter.cancel();
    bool cancelled = false;
    try {
      co_await waiter;
    } catch (const coreio::cancelled_error&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    co_await p.client.write_all(std::string_view("x"));
    EXPECT_EQ(co_await p.server.read_some(std::span(one)), 1u);
  }());
}

}  // namespace
