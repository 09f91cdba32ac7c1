// tcp_stream_cancel_test.cpp — cancelling tcp_stream operations (protocol: detail/io_op.hpp): a
// pending read_some / read_until / write_all cancelled from another task or from a plain thread
// throws cancelled_error promptly and leaves the stream usable with no byte lost; cancel racing data
// never loses or duplicates a byte; close() ends a pending read with an error; the documented limit
// of one outstanding read per stream.
#include <coreio/net/tcp_stream.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include <coreio/coreio.hpp>

#include "net_support.hpp"
#include "support/suspension_probe.hpp"

namespace {

using namespace std::chrono_literals;
using namespace coreio_net_test;
using coreio_test::ends_within;
using coreio_test::prompt;
using coreio_test::sanitized;
using coreio_test::stopwatch;

coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }

/// Sets *pending once suspended in read_some().
coreio::task<std::size_t> read_some_into(tcp_stream* s, std::span<std::byte> out,
                                         std::atomic<bool>* pending) {
  co_return co_await coreio_test::count_suspension(s->read_some(out), pending);
}

// ---- from another task --------------------------------------------------------------------------

struct cancel_report {
  bool cancelled = false;
  double seconds = 0;
  std::string after;  // what a new read got once the peer sent data
};

coreio::task<cancel_report> cancel_read_from_a_task() {
  auto [c, s] = co_await connected_pair();
  std::array<std::byte, 64> buf;
  std::atomic<bool> pending{false};
  auto h = coreio::spawn(read_some_into(&c, std::span(buf), &pending));
  co_await coreio_test::yield_until(&pending);  // no data will come: the read is pending
  EXPECT_FALSE(h.done());
  cancel_report r;
  stopwatch sw;
  h.cancel();
  try {
    (void)co_await h;
  } catch (const coreio::cancelled_error&) {
    r.cancelled = true;
  }
  r.seconds = sw.seconds();
  // The stream still works, and nothing the peer sends from now on is lost.
  co_await s.write_all(std::string_view("after the cancel"));
  s.shutdown_write();
  r.after = co_await read_to_eof(&c);
  co_return r;
}

TEST(TcpStreamCancelTest, CancellingAPendingReadFromAnotherTaskThrowsCancelledPromptly) {
  coreio::runtime rt{two_workers()};
  const cancel_report r = rt.block_on(cancel_read_from_a_task());
  EXPECT_TRUE(r.cancelled);
  EXPECT_LT(r.seconds, std::chrono::duration<double>(prompt).count());
  EXPECT_EQ(r.after, "after the cancel");
}

// ---- from a plain thread ------------------------------------------------------------------------

coreio::task<std::string> send_and_read_back(tcp_stream* from, tcp_stream* to, std::string text) {
  co_await from->write_all(std::string_view(text));
  std::string got(text.size(), '\0');
  co_await to->read_exact(std::as_writable_bytes(std::span<char>(got.data(), got.size())));
  co_return got;
}

TEST(TcpStreamCancelTest, CancellingAPendingReadFromAPlainThreadThrowsCancelledPromptly) {
  coreio::runtime rt{two_workers()};
  stream_pair p = rt.block_on(connected_pair());
  std::array<std::byte, 64> buf;
  std::atomic<bool> pending{false};
  auto h = rt.spawn(read_some_into(&p.client, std::span(buf), &pending));
  ASSERT_TRUE(coreio_test::wait_until([&] { return pending.load(); }));  // the read is pending
  EXPECT_FALSE(h.done());
  stopwatch sw;
  h.cancel();
  ASSERT_TRUE(ends_within(h, prompt)) << "the cancelled read did not end";
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(rt.block_on(send_and_read_back(&p.server, &p.client, "still usable")), "still usable");
}

// ---- cancel racing data -------------------------------------------------------------------------

coreio::task<int> read_one_byte(tcp_stream* s) {
  std::array<std::byte, 1> b;
  const std::size_t n = co_await s->read_some(std::span(b));
  co_return n == 0 ? -1 : static_cast<int>(b[0]);
}

coreio::task<void> write_one_byte(tcp_stream* s, int v) {
  const std::array<std::byte, 1> b{static_cast<std::byte>(v)};
  co_await s->write_all(std::span<const std::byte>(b));
}

TEST(TcpStreamCancelTest, CancelRacingDataNeverLosesOrDuplicatesAByte) {
  // Each round: a task reads one byte while the peer writes byte i and this thread cancels the
  // reader, with random jitter between the three. The read either returns byte i, or throws
  // cancelled_error and then the next read returns byte i. A lost byte makes that next read wait (a
  // timeout here); a duplicated one shows up as the previous round's value.
  const int rounds = sanitized(500, 200);
  auto rt = std::make_unique<coreio::runtime>(two_workers());
  auto p = std::make_unique<stream_pair>(rt->block_on(connected_pair()));
  coreio_test::rng rng(42);
  int returned = 0, cancelled = 0;
  for (int i = 0; i < rounds; ++i) {
    const int want = i & 0xff;
    auto reader = rt->spawn(read_one_byte(&p->client));
    coreio_test::spin_for(std::chrono::microseconds(rng.below(60)));
    auto writer = rt->spawn(write_one_byte(&p->server, want));
    coreio_test::spin_for(std::chrono::microseconds(rng.below(60)));
    reader.cancel();
    if (!ends_within(reader, 10s) || !ends_within(writer, 10s)) {
      (void)p.release();  // tasks still point into them: leak rather than hang in the destructor
      (void)rt.release();
      FAIL() << "round " << i << ": the cancelled read or the write never ended";
    }
    writer.get();
    int got = -2;
    try {
      got = reader.get();
      ++returned;
    } catch (const coreio::cancelled_error&) {
      ++cancelled;
      auto again = rt->spawn(read_one_byte(&p->client));
      if (!ends_within(again, 10s)) {
        (void)p.release();
        (void)rt.release();
        FAIL() << "round " << i << ": the byte written while the read was cancelled was lost";
      }
      got = again.get();
    }
    ASSERT_EQ(got, want) << "round " << i << ": a byte was lost, duplicated or reordered";
  }
  // Nothing extra is left behind.
  p->server.shutdown_write();
  EXPECT_EQ(rt->block_on(read_to_eof(&p->client)), "");
  std::printf("[ info ] %d reads returned the byte, %d were cancelled first\n", returned,
              cancelled);
}

// ---- read_until and write_all --------------------------------------------------------------------

coreio::task<std::string> read_line(tcp_stream* s) { co_return co_await s->read_until("\n", 1024); }

coreio::task<void> cancel_read_until_mid_line(bool* cancelled, std::string* line) {
  auto [c, s] = co_await connected_pair();
  co_await s.write_all(std::string_view("par"));
  auto h = coreio::spawn(read_line(&c));
  co_await coreio::sleep_for(30ms);  // "par" is in the stream's buffer; the rest has not come
  EXPECT_FALSE(h.done());
  h.cancel();
  try {
    (void)co_await h;
  } catch (const coreio::cancelled_error&) {
    *cancelled = true;
  }
  co_await s.write_all(std::string_view("tial\n"));
  *line = co_await c.read_until("\n", 1024);
}

TEST(TcpStreamCancelTest, CancellingAPendingReadUntilKeepsThePartialLine) {
  coreio::runtime rt{two_workers()};
  bool cancelled = false;
  std::string line;
  rt.block_on(cancel_read_until_mid_line(&cancelled, &line));
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(line, "partial\n");
}

coreio::task<void> write_forever(tcp_stream* s, std::atomic<std::size_t>* written) {
  const auto chunk = pattern(256 * 1024);
  for (;;) {
    co_await s->write_all(std::span<const std::byte>(chunk));
    written->fetch_add(chunk.size());
  }
}

TEST(TcpStreamCancelTest, CancellingAWriteBlockedOnAFullPeerThrowsCancelledPromptly) {
  coreio::runtime rt{two_workers()};
  stream_pair p = rt.block_on(connected_pair());
  std::atomic<std::size_t> written{0};
  auto h = rt.spawn(write_forever(&p.client, &written));
  // Nobody reads: the socket buffers fill and a write_all stays pending.
  std::size_t last = 0;
  ASSERT_TRUE(coreio_test::wait_until([&] {
    const std::size_t now = written.load();
    const bool stalled = now == last && now > 0;
    last = now;
    if (!stalled) std::this_thread::sleep_for(50ms);
    return stalled;
  })) << "the writer never blocked";
  EXPECT_FALSE(h.done());
  stopwatch sw;
  h.cancel();
  ASSERT_TRUE(ends_within(h, prompt)) << "the cancelled write did not end";
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
}

// ---- close while pending ---------------------------------------------------------------------------

coreio::task<std::error_code> close_under_a_pending_read() {
  auto [c, s] = co_await connected_pair();
  std::array<std::byte, 16> buf;
  std::atomic<bool> pending{false};
  auto h = coreio::spawn(read_some_into(&c, std::span(buf), &pending));
  co_await coreio_test::yield_until(&pending);  // the read is pending
  c.close();
  try {
    const std::size_t n = co_await h;
    EXPECT_EQ(n, 0u) << "a read on a closed socket returned data";
  } catch (const std::system_error& e) {
    co_return e.code();
  }
  co_return std::error_code{};
}

TEST(TcpStreamCancelTest, CloseEndsAPendingReadWithSystemError) {
  coreio::runtime rt{two_workers()};
  const std::error_code ec = rt.block_on(close_under_a_pending_read());
  EXPECT_TRUE(static_cast<bool>(ec)) << "the pending read did not end with an error";
}

// ---- one read at a time ---------------------------------------------------------------------------

struct two_reads {
  std::string first_outcome, second_outcome;
};

/// Sets *pending once suspended in read_some().
coreio::task<std::string> read_outcome(tcp_stream* s, std::atomic<bool>* pending) {
  std::array<std::byte, 1> b;
  try {
    const std::size_t n =
        co_await coreio_test::count_suspension(s->read_some(std::span(b)), pending);
    co_return n == 1 ? "byte " + to_string(b) : "eof";
  } catch (const coreio::usage_error&) {
    co_return "usage_error";
  } catch (const coreio::cancelled_error&) {
    co_return "cancelled";
  } catch (const std::system_error& e) {
    co_return std::string("system_error ") + e.what();
  }
}

coreio::task<two_reads> start_two_reads() {
  auto [c, s] = co_await connected_pair();
  std::atomic<bool> first_pending{false}, second_pending{false};
  auto first = coreio::spawn(read_outcome(&c, &first_pending));
  co_await coreio_test::yield_until(&first_pending);  // the first read is pending
  auto second = coreio::spawn(read_outcome(&c, &second_pending));
  co_await coreio::sleep_for(50ms);
  // Whatever happened, end both: one byte each, then end of stream.
  co_await s.write_all(std::string_view("ab"));
  s.shutdown_write();
  co_await coreio::sleep_for(20ms);
  c.close();  // a read the data did not reach ends with an error
  two_reads r;
  r.first_outcome = co_await first;
  r.second_outcome = co_await second;
  co_return r;
}

TEST(TcpStreamCancelTest, ASecondConcurrentReadThrowsUsageError) {
  // tcp_stream.hpp: "at most one read and one write may be outstanding at a time (from two tasks),
  // else usage_error".
  coreio::runtime rt{two_workers()};
  const two_reads r = rt.block_on(start_two_reads());
  EXPECT_EQ(r.second_outcome, "usage_error") << "first read: " << r.first_outcome;
  EXPECT_EQ(r.first_outcome, "byte a");
}

// ---- close() from another worker, then destruction on the owner ---------------------------------

struct stream_close_then_destroy {
  stream_pair p;
  coreio_test::gate hold;
  std::atomic<bool> ready{false};
  std::atomic<int> owner{-1};
  std::atomic<bool> open_before{false};
  std::atomic<bool> closed_at_once{false};
};

coreio::task<void> connect_hold_then_destroy(stream_close_then_destroy* c) {
  c->p = co_await connected_pair();  // both ends owned by this worker
  c->owner.store(coreio::current_worker());
  c->ready.store(true);
  c->hold.wait();        // this worker is held (tests/support: gate) until the calls below are made
  c->p = stream_pair{};  // both ends destroyed on their own worker: freed at once
}

coreio::task<int> close_and_shut_here(stream_close_then_destroy* c) {
  // Not on the owner: each is handed to the owner's loop.
  c->open_before.store(c->p.client.is_open() && c->p.server.is_open());
  c->p.client.set_nodelay(true);
  c->p.client.shutdown_write();
  c->p.client.close();
  c->p.server.close();
  // The owner is held, so the queued closes have not run yet: is_open() must say closed already.
  c->closed_at_once.store(!c->p.client.is_open() && !c->p.server.is_open());
  co_return coreio::current_worker();
}

TEST(TcpStreamCancelTest, CloseFromAnotherWorkerThenDestructionOnTheOwnerIsSafe) {
  // close / shutdown_write / set_nodelay from a foreign worker are queued on the owner's loop; if
  // the stream is destroyed on the owner before that loop runs them, they must not touch the freed
  // socket. ASan reports the use after free; other builds may not notice.
  coreio::runtime rt{two_workers()};
  for (int round = 0; round < 5; ++round) {
    stream_close_then_destroy c;
    auto owner = rt.spawn(connect_hold_then_destroy(&c));
    ASSERT_TRUE(coreio_test::wait_until([&] { return c.ready.load(); }));
    auto other = rt.spawn(close_and_shut_here(&c));  // the owner is held: runs on the other worker
    ASSERT_TRUE(ends_within(other, prompt));
    EXPECT_NE(other.get(), c.owner.load());
    EXPECT_TRUE(c.open_before.load());
    EXPECT_TRUE(c.closed_at_once.load()) << "is_open() after close() from another worker";
    c.hold.open();
    ASSERT_TRUE(ends_within(owner, prompt));
    owner.get();
    std::this_thread::sleep_for(5ms);  // the owner's loop runs the queued operations now
  }
}

}  // namespace
