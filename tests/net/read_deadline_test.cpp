// read_deadline_test.cpp — a stream read given a deadline (net/sockets.hpp's
// stream_access::set_read_deadline; protocol: src/net/stream.cpp, "Read deadlines"; the HTTP
// server's header, body and keep-alive waits): it ends with timeout_error when no byte comes by
// the deadline, and only then; the socket's one timer entry follows deadlines that move earlier
// (taken back and re-armed) and later (fires early, re-arms); a deadline that falls due while the
// socket's worker is stuck in a long poll is fired by the runtime's monitor thread, whose due step
// is posted to the owner's loop (worker::post_op, no allocation) and ends the read once the worker
// is free again; the socket works afterwards in every case.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <thread>

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

/// read_some on s with a deadline, as the HTTP server builds it.
coreio::net::stream::read_awaiter read_by(tcp_stream& s, std::span<std::byte> buf,
                                          steady::time_point deadline) {
  auto rd = s.read_some(buf);
  stream_access::set_read_deadline(rd, deadline);
  return rd;
}

/// How a read with a deadline ended: bytes read, or -1 for timeout_error.
coreio::task<long> read_or_timeout(tcp_stream& s, steady::time_point deadline) {
  std::array<std::byte, 64> buf{};
  try {
    const std::size_t n = co_await read_by(s, buf, deadline);
    co_return static_cast<long>(n);
  } catch (const coreio::timeout_error&) {
    co_return -1;
  }
}

/// The socket still carries bytes both ways after its reads timed out.
coreio::task<void> expect_still_works(stream_pair& p) {
  co_await p.client.write_all(std::string_view("ping"));
  std::array<std::byte, 4> buf{};
  co_await p.server.read_exact(buf);
  EXPECT_EQ(static_cast<char>(buf[0]), 'p');
  co_await p.server.write_all(std::string_view("pong"));
  co_await p.client.read_exact(buf);
  EXPECT_EQ(static_cast<char>(buf[3]), 'g');
}

TEST(ReadDeadlineTest, AReadWithNoByteByItsDeadlineThrowsTimeoutErrorAndTheSocketStillWorks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    const steady::time_point start = steady::now();
    EXPECT_EQ(co_await read_or_timeout(p.server, start + 30ms), -1);
    EXPECT_GE(steady::now() - start, 30ms);  // never before its deadline
    co_await expect_still_works(p);
  }());
}

TEST(ReadDeadlineTest, AnEarlierDeadlineReplacesTheArmedLaterOne) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    // The first read suspends with a deadline 10 s away (the entry is armed there), then gets its
    // byte; the second read's deadline, 30 ms away, must take the entry back and re-arm it.
    auto writer = coreio::spawn([](tcp_stream& c) -> coreio::task<void> {
      co_await coreio::sleep_for(20ms);
      co_await c.write_all(std::string_view("x"));
    }(p.client));
    EXPECT_EQ(co_await read_or_timeout(p.server, steady::now() + 10s), 1);
    co_await std::move(writer);
    const steady::time_point start = steady::now();
    EXPECT_EQ(co_await read_or_timeout(p.server, start + 30ms), -1);
    EXPECT_LT(steady::now() - start, 5s);  // not at the old 10 s entry
    co_await expect_still_works(p);
  }());
}

TEST(ReadDeadlineTest, ALaterDeadlineSurvivesTheEntryFiringEarlyForAnEarlierOne) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    stream_pair p = co_await connected_pair();
    // The first read suspends with a deadline `first` away and gets a byte written after 5 ms;
    // the entry stays armed at `first`. The second read waits with a deadline 1 h away: the entry
    // fires at `first`, must find the later deadline and re-arm, and the read gets the byte written
    // 200 ms after `first` instead of a timeout. `first` is long because the 5 ms writer must get
    // its byte through before it, whatever the machine's load (a sanitizer build's skew).
    const std::chrono::milliseconds first = coreio_test::sanitized(2'000ms, 3'000ms);
    const steady::time_point start = steady::now();
    auto writer = coreio::spawn([](tcp_stream& c, steady::time_point b_at) -> coreio::task<void> {
      co_await coreio::sleep_for(5ms);
      co_await c.write_all(std::string_view("a"));
      co_await coreio::sleep_until(b_at);
      co_await c.write_all(std::string_view("b"));
    }(p.client, start + first + 200ms));
    EXPECT_EQ(co_await read_or_timeout(p.server, start + first), 1);
    EXPECT_EQ(co_await read_or_timeout(p.server, steady::now() + 1h), 1);
    EXPECT_GE(steady::now() - start, first + 200ms);
    co_await std::move(writer);
  }());
}

/// One try at a deadline falling due while the socket's worker is stuck: the stuck worker is the
/// one this task runs on, which owns p.server (worker `here` of *rt, whose monitor had fired
/// `fired_before` timers). Returns whether the try happened as planned (this task stayed on the
/// owner until it blocked it); the read's result goes to `timed_out`.
coreio::task<bool> block_owner_through_deadline(stream_pair& p, bool& timed_out,
                                                coreio::runtime* rt, int here,
                                                std::uint64_t fired_before) {
  coreio::detail::worker* const owner = stream_access::owner(p.server);
  const steady::time_point deadline = steady::now() + 200ms;
  auto reader = coreio::spawn(read_or_timeout(p.server, deadline));
  // Wait, on the owner, until the read waits with its deadline armed in the owner's timer queue
  // (the socket's state is its loop's: read it under the loop token). A steal that moved this task
  // elsewhere spoils the try, and so does a read started by the other worker (it arms the deadline
  // in its own queue, and fires it itself), and the deadline passing first (the owner, between this
  // task's polls, may then have fired the entry itself).
  bool planned = true;
  for (;;) {
    if (coreio::detail::this_worker() != owner || steady::now() >= deadline) {
      planned = false;
      break;
    }
    const coreio::detail::stream_socket_impl* s = stream_access::impl(p.server);
    bool armed = false;
    bool elsewhere = false;
    if (coreio::detail::loop_hold h{owner}) {
      armed = s->read_waiter != nullptr && s->deadline_armed;
      elsewhere = armed && s->deadline_timer.queue != &owner->remote().timers();
    }
    if (elsewhere) {
      planned = false;
      break;
    }
    if (armed) break;
    co_await coreio::yield_now();
  }
  // Block the owner past the deadline until the monitor has fired the entry (only it can,
  // meanwhile), or for 10 s if it never does: no wall-clock window for the monitor to catch.
  if (planned) {
    const auto give_up = steady::now() + 10s;
    while (rt->metrics().workers[static_cast<std::size_t>(here)].timers_fired_by_monitor ==
               fired_before &&
           steady::now() < give_up) {
      std::this_thread::sleep_for(1ms);
    }
  }
  timed_out = co_await std::move(reader) == -1;
  co_return planned;
}

TEST(ReadDeadlineTest, ADeadlineDueWhileItsWorkerIsStuckIsFiredByTheMonitorAndEndsTheRead) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  // A try is spoiled when the other worker steals this task first; try until one went as planned
  // and the monitor fired the deadline (it always does when the owner is stuck past it).
  int planned_tries = 0;
  for (int attempt = 0; attempt < 40 && planned_tries == 0; ++attempt) {
    rt.block_on([&]() -> coreio::task<void> {
      auto lis = coreio::net::tcp_listener::bind("127.0.0.1", 0);
      stream_pair p;
      p.client = co_await tcp_stream::connect("127.0.0.1", lis.port());
      const int here = static_cast<int>(coreio::detail::this_worker()->index());
      p.server = co_await lis.accept_on(here);
      const std::uint64_t fired_before = rt.metrics().workers[here].timers_fired_by_monitor;
      bool timed_out = false;
      const bool planned =
          co_await block_owner_through_deadline(p, timed_out, &rt, here, fired_before);
      EXPECT_TRUE(timed_out);
      if (planned) {
        ++planned_tries;
        EXPECT_GT(rt.metrics().workers[here].timers_fired_by_monitor, fired_before);
      }
      co_await expect_still_works(p);
    }());
  }
  EXPECT_EQ(planned_tries, 1);
}

}  // namespace
