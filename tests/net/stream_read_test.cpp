// stream_read_test.cpp — coreio/net/stream.hpp, the reads every stream protocol shares, run over
// TCP and over Unix domain sockets: a timed-out read_exact keeps what it had read for the next
// read; read_some, read_exact and read_until (and a random mix of them) interrupted by timeouts at
// random points, and read_some losing a when_any to a sleep, while a peer on a plain thread writes
// in random pieces with random pauses lose no byte and duplicate none; one read at a time, also while a read_exact or read_until is suspended.
#include <coreio/net/stream.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <coreio/coreio.hpp>

#include "net/sockets.hpp"
#include "net_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace coreio_net_test;
using coreio::net::stream;
using coreio::net::tcp_listener;
using coreio::net::unix_listener;
using coreio::net::unix_stream;
using coreio_test::sanitized;

enum class protocol { tcp, unix_domain };

std::string name_of(const testing::TestParamInfo<protocol>& p) {
  return p.param == protocol::tcp ? "Tcp" : "Unix";
}

/// Both ends of one connection of either protocol, as plain streams.
struct any_pair {
  stream client;
  stream server;
};

coreio::task<any_pair> connect_pair(protocol p, std::string socket_path) {
  any_pair out;
  if (p == protocol::tcp) {
    stream_pair tp = co_await connected_pair();
    out.client = std::move(tp.client);
    out.server = std::move(tp.server);
  } else {
    auto lis = unix_listener::bind(socket_path);
    out.client = co_await unix_stream::connect(socket_path);
    out.server = co_await lis.accept();
  }
  co_return out;
}

class StreamReadTest : public testing::TestWithParam<protocol> {
 public:
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  temp_dir dir;
  int sockets = 0;
  /// A new connection (each Unix one at a path of its own) on `on` (default: rt).
  any_pair pair(coreio::runtime* on = nullptr) {
    const std::string path = dir.file("s" + std::to_string(sockets++) + ".sock");
    return (on != nullptr ? on : &rt)->block_on(connect_pair(GetParam(), path));
  }
};

INSTANTIATE_TEST_SUITE_P(Protocols, StreamReadTest,
                         testing::Values(protocol::tcp, protocol::unix_domain), name_of);

// ---- the brief's case ---------------------------------------------------------------------------

coreio::task<std::string> read_exact_times_out_then_completes(any_pair* p) {
  co_await p->server.write_all(std::string_view("abc"));
  std::array<std::byte, 6> six{};
  bool timed_out = false;
  try {
    co_await coreio::wait_for(p->client.read_exact(std::span(six)), 100ms);
  } catch (const coreio::timeout_error&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out) << "read_exact of 6 bytes with 3 sent did not time out";
  co_await p->server.write_all(std::string_view("def"));
  std::array<std::byte, 6> again{};
  try {
    // Bounded: if "abc" were lost, this would wait for 3 bytes that never come.
    co_await coreio::wait_for(p->client.read_exact(std::span(again)), 10s);
  } catch (const coreio::timeout_error&) {
    co_return "only " + to_string(std::span<const std::byte>(again.data(), 3)) +
        " came: bytes were lost";
  }
  co_return to_string(again);
}

TEST_P(StreamReadTest, ATimedOutReadExactKeepsWhatItReadForTheNextRead) {
  any_pair p = pair();
  EXPECT_EQ(rt.block_on(read_exact_times_out_then_completes(&p)), "abcdef");
}

coreio::task<std::string> read_exact_over_buffer_and_socket(any_pair* p) {
  // "x\nab" arrive together: read_until takes "x\n" and leaves "ab" buffered; read_exact(5) takes
  // "ab" from the buffer, "c" from the socket, then times out; all three must come back first.
  co_await p->server.write_all(std::string_view("x\nab"));
  EXPECT_EQ(co_await p->client.read_until("\n", 64), "x\n");
  co_await p->server.write_all(std::string_view("c"));
  std::array<std::byte, 5> five{};
  bool timed_out = false;
  try {
    co_await coreio::wait_for(p->client.read_exact(std::span(five)), 100ms);
  } catch (const coreio::timeout_error&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  co_await p->server.write_all(std::string_view("de"));
  p->server.shutdown_write();
  co_return co_await read_to_eof(&p->client);
}

TEST_P(StreamReadTest, ATimedOutReadExactPutsBackBufferedAndNewBytesInOrder) {
  any_pair p = pair();
  EXPECT_EQ(rt.block_on(read_exact_over_buffer_and_socket(&p)), "abcde");
}

// ---- random interruptions -----------------------------------------------------------------------

/// The bytes the writer sends: lines of random length (0-300 payload bytes, then "\r\n"), each
/// starting with its number, so that a lost or duplicated piece is visible.
std::string make_lines(std::size_t total, std::uint64_t seed) {
  coreio_test::rng r(seed);
  std::string out;
  std::size_t line = 0;
  while (out.size() < total) {
    out += std::to_string(line++) + ":";
    const std::size_t n = r.below(300);
    for (std::size_t i = 0; i < n; ++i) out += static_cast<char>('a' + r.below(26));
    out += "\r\n";
  }
  return out;
}

/// Writes data to a plain blocking socket in random pieces (1-3000 bytes), pausing 0-400 us after
/// one piece in three so that reads find partial data and wait, then ends the stream. A plain thread
/// paces the peer (the reader's timeouts are what interrupts; the pauses only vary what is there).
/// After one piece in 32 it also holds back until the reader has timed out once more (*timeouts
/// grows; a probe, bounded by 10 s): whatever the machine's speed, some reads are interrupted with
/// part of their data in, at a random point of the stream.
void write_in_pieces(int fd, const std::string& data, std::uint64_t seed,
                     const std::atomic<int>* timeouts) {
  coreio_test::rng r(seed);
  std::size_t off = 0;
  while (off < data.size()) {
    const std::size_t n = std::min<std::size_t>(1 + r.below(3000), data.size() - off);
    for (std::size_t done = 0; done < n;) {
      const ssize_t k = ::send(fd, data.data() + off + done, n - done, MSG_NOSIGNAL);
      if (k < 0) return;  // the reader gave up: its log says why
      done += static_cast<std::size_t>(k);
    }
    off += n;
    if (r.below(32) == 0 && off < data.size()) {
      const int seen = timeouts->load();
      coreio_test::wait_until([&] { return timeouts->load() > seen; });
    } else if (r.below(3) == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(r.below(400)));
    }
  }
  ::shutdown(fd, SHUT_WR);
}

/// A plain blocking socket connected to a coreio listener of protocol p, and the accepted stream.
struct raw_pair {
  int fd = -1;
  stream accepted;
  raw_pair() = default;
  raw_pair(const raw_pair&) = delete;
  raw_pair& operator=(const raw_pair&) = delete;
  ~raw_pair() {
    if (fd >= 0) ::close(fd);
  }
};

coreio::task<tcp_listener> bind_tcp() { co_return tcp_listener::bind("127.0.0.1", 0); }
coreio::task<unix_listener> bind_unix(std::string path) { co_return unix_listener::bind(path); }
coreio::task<stream> accept_tcp(tcp_listener* l) { co_return co_await l->accept(); }
coreio::task<stream> accept_unix(unix_listener* l) { co_return co_await l->accept(); }

// any_some: read_some raced against a sleep in when_any, which gives a losing read's bytes back.
enum class form { some, exact, until, mixed, any_some };

struct read_log {
  std::string got;
  int completed = 0;
  // Read by the writer's thread while the reader runs (write_in_pieces).
  std::atomic<int> timed_out{0};
  std::string problem;
};

/// Reads everything with reads of `f` (mixed: each read a random one of the three), each under a
/// random time limit of 0-1500 us; what every completed read returned is appended to got.
coreio::task<void> read_interrupted(stream* s, std::size_t total, form f, std::uint64_t seed,
                                    read_log* log) {
  coreio_test::rng r(seed);
  std::vector<std::byte> buf;
  while (log->got.size() < total) {
    const form now = f == form::mixed ? static_cast<form>(r.below(3)) : f;
    const auto limit = std::chrono::microseconds(r.below(1500));
    try {
      switch (now) {
        case form::some: {
          buf.assign(1 + r.below(4000), std::byte{0});
          const std::size_t n = co_await coreio::wait_for(s->read_some(std::span(buf)), limit);
          if (n == 0) {
            log->problem = "end of stream after " + std::to_string(log->got.size()) + " bytes";
            co_return;
          }
          log->got += to_string(std::span<const std::byte>(buf.data(), n));
          break;
        }
        case form::exact: {
          buf.assign(std::min<std::size_t>(1 + r.below(4000), total - log->got.size()),
                     std::byte{0});
          co_await coreio::wait_for(s->read_exact(std::span(buf)), limit);
          log->got += to_string(buf);
          break;
        }
        case form::any_some: {
          buf.assign(1 + r.below(4000), std::byte{0});
          auto race = coreio::when_any(s->read_some(std::span(buf)), coreio::sleep_for(limit));
          auto [index, got] = co_await std::move(race);
          if (index == 1) {
            log->timed_out.fetch_add(1);
            continue;
          }
          const std::size_t n = std::get<0>(got);
          if (n == 0) {
            log->problem = "end of stream after " + std::to_string(log->got.size()) + " bytes";
            co_return;
          }
          log->got += to_string(std::span<const std::byte>(buf.data(), n));
          break;
        }
        case form::until:
        case form::mixed: {
          log->got += co_await coreio::wait_for(s->read_until("\r\n", 4096), limit);
          break;
        }
      }
      ++log->completed;
    } catch (const coreio::timeout_error&) {
      log->timed_out.fetch_add(1);
    } catch (const coreio::incomplete_read_error&) {
      // The stream ended before every byte came back: some were lost.
      log->problem = "end of stream after " + std::to_string(log->got.size()) + " bytes";
    }
    if (!log->problem.empty()) co_return;
  }
  std::array<std::byte, 1> one;
  if (co_await s->read_some(std::span(one)) != 0) log->problem = "bytes after the end";
}

void expect_lossless(StreamReadTest* t, form f, const char* what) {
  const std::size_t total = sanitized<std::size_t>(1 << 20, 256 << 10);
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    raw_pair p;
    if (t->GetParam() == protocol::tcp) {
      tcp_listener lis = t->rt.block_on(bind_tcp());
      p.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(lis.port());
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(::connect(p.fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      p.accepted = t->rt.block_on(accept_tcp(&lis));
    } else {
      const std::string path = t->dir.file("raw" + std::to_string(seed) + ".sock");
      unix_listener lis = t->rt.block_on(bind_unix(path));
      p.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
      ASSERT_EQ(::connect(p.fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      p.accepted = t->rt.block_on(accept_unix(&lis));
    }
    const std::string data = make_lines(total, seed * 1000);
    read_log log;
    auto reader = t->rt.spawn(read_interrupted(&p.accepted, data.size(), f, seed * 1000 + 2, &log));
    std::thread writer(write_in_pieces, p.fd, std::cref(data), seed * 1000 + 1, &log.timed_out);
    writer.join();
    if (!coreio_test::ends_within(reader, 60s)) {
      p.accepted.close();  // ends the stuck read with an error, so that nothing outlives the test
      ASSERT_TRUE(coreio_test::ends_within(reader, 10s));
      FAIL() << what << ", seed " << seed << ": the reader never finished";
    }
    reader.get();
    if (log.problem.empty() && log.got != data) {
      const auto diff = std::mismatch(log.got.begin(), log.got.end(), data.begin(), data.end());
      log.problem = "differs at byte " + std::to_string(diff.first - log.got.begin()) + " of " +
                    std::to_string(data.size()) + " (got " + std::to_string(log.got.size()) + ")";
    }
    EXPECT_EQ(log.problem, "") << what << ", seed " << seed;
    EXPECT_GT(log.timed_out.load(), 0) << what << ", seed " << seed << ": no read was interrupted";
    std::printf("[ info ] %s, seed %llu: %d reads completed, %d timed out\n", what,
                static_cast<unsigned long long>(seed), log.completed, log.timed_out.load());
  }
}

TEST_P(StreamReadTest, ReadSomeInterruptedAtRandomPointsLosesAndDuplicatesNothing) {
  expect_lossless(this, form::some, "read_some");
}

// The probe that found when_any dropping a losing read's bytes: when_any(read_some, sleep_for) in
// a loop lost 4-10 of 3,000 bytes in every run.
TEST_P(StreamReadTest, ReadSomeLosingAWhenAnyAtRandomPointsLosesAndDuplicatesNothing) {
  expect_lossless(this, form::any_some, "read_some in when_any");
}

TEST_P(StreamReadTest, ReadExactInterruptedAtRandomPointsLosesAndDuplicatesNothing) {
  expect_lossless(this, form::exact, "read_exact");
}

TEST_P(StreamReadTest, ReadUntilInterruptedAtRandomPointsLosesAndDuplicatesNothing) {
  expect_lossless(this, form::until, "read_until");
}

TEST_P(StreamReadTest, MixedReadsInterruptedAtRandomPointsLoseAndDuplicateNothing) {
  expect_lossless(this, form::mixed, "mixed reads");
}

// ---- one read at a time -------------------------------------------------------------------------

coreio::task<std::string> read_exact_outcome(stream* s, std::size_t n) {
  std::vector<std::byte> b(n);
  try {
    co_await s->read_exact(std::span(b));
    co_return "read " + to_string(b);
  } catch (const coreio::usage_error&) {
    co_return "usage_error";
  } catch (const coreio::cancelled_error&) {
    co_return "cancelled";
  }
}

coreio::task<std::string> read_some_outcome(stream* s) {
  std::array<std::byte, 8> b;
  try {
    const std::size_t n = co_await s->read_some(std::span(b));
    co_return "read " + to_string(std::span<const std::byte>(b.data(), n));
  } catch (const coreio::usage_error&) {
    co_return "usage_error";
  }
}

coreio::task<std::string> read_until_outcome(stream* s) {
  try {
    co_return "read " + co_await s->read_until("\n", 64);
  } catch (const coreio::usage_error&) {
    co_return "usage_error";
  }
}

struct overlap {
  std::string first, during_exact, during_until;
};

coreio::task<overlap> read_while_a_read_is_pending(any_pair* p) {
  overlap o;
  // read_exact has "ab" of 4 and waits for the socket; a read_some now must not take bytes from
  // under it (nor share the buffer with it).
  // One worker: the spawned read runs (to its suspension on the socket) before yield_now returns.
  co_await p->server.write_all(std::string_view("ab"));
  auto first = coreio::spawn(read_exact_outcome(&p->client, 4));
  co_await coreio::yield_now();
  o.during_exact = co_await read_some_outcome(&p->client);
  co_await p->server.write_all(std::string_view("cd"));
  o.first = co_await first;
  auto until = coreio::spawn(read_until_outcome(&p->client));
  co_await coreio::yield_now();
  o.during_until = co_await read_exact_outcome(&p->client, 1);
  co_await p->server.write_all(std::string_view("line\n"));
  EXPECT_EQ(co_await until, "read line\n");
  co_return o;
}

TEST_P(StreamReadTest, ASecondReadWhileReadExactOrReadUntilWaitsThrowsUsageError) {
  coreio::runtime one{coreio::runtime_options{.workers = 1}};
  any_pair p = pair(&one);
  const overlap o = one.block_on(read_while_a_read_is_pending(&p));
  EXPECT_EQ(o.during_exact, "usage_error");
  EXPECT_EQ(o.first, "read abcd");
  EXPECT_EQ(o.during_until, "usage_error");
}

// ---- a short read drains the socket: the next read waits through Asio ---------------------------

/// Bytes queued in the socket's receive buffer, read with FIONREAD (a probe of the kernel's state).
int queued_bytes(const stream& s) {
  int n = 0;
  ::ioctl(coreio::detail::stream_access::impl(s)->sock.native_handle(), FIONREAD, &n);
  return n;
}

/// Waits until the peer's bytes are in s's receive buffer, then gives the event loop a turn: the
/// worker parks in epoll, which takes the socket's edge while no read is pending. That is the case
/// a read after a short read must still see (it skips its own attempt and relies on Asio's
/// readiness): the bytes are there and no further edge will come.
coreio::task<void> until_queued(const stream* s, int n) {
  while (queued_bytes(*s) < n) co_await coreio::yield_now();
  co_await coreio::sleep_for(2ms);  // an event-loop turn, not a wait for the state
}

struct short_reads {
  std::vector<std::string> got;
};

coreio::task<short_reads> read_after_short_reads(any_pair* p) {
  short_reads r;
  std::array<std::byte, 64> buf;
  for (int round = 0; round < 20; ++round) {
    const std::string msg = "m" + std::to_string(round);
    co_await p->server.write_all(std::string_view(msg));
    if (round % 2 == 1) co_await until_queued(&p->client, static_cast<int>(msg.size()));
    // Short: fewer bytes than the buffer holds, so the next read goes straight to Asio.
    const std::size_t n = co_await p->client.read_some(std::span(buf));
    r.got.push_back(to_string(std::span<const std::byte>(buf.data(), n)));
  }
  // A short read_until, then a read_exact of bytes that arrived while nothing read.
  co_await p->server.write_all(std::string_view("line\n"));
  r.got.push_back(co_await p->client.read_until("\n", 64));
  co_await p->server.write_all(std::string_view("tail"));
  co_await until_queued(&p->client, 4);
  std::array<std::byte, 4> four;
  co_await p->client.read_exact(std::span(four));
  r.got.push_back(to_string(four));
  co_return r;
}

TEST_P(StreamReadTest, AReadAfterAShortReadSeesBytesThatArrivedMeanwhile) {
  for (int workers : {1, 2}) {
    coreio::runtime on{coreio::runtime_options{.workers = static_cast<std::size_t>(workers)}};
    any_pair p = pair(&on);
    const short_reads r = on.block_on(read_after_short_reads(&p));
    ASSERT_EQ(r.got.size(), 22u);
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(r.got[static_cast<std::size_t>(i)], "m" + std::to_string(i));
    EXPECT_EQ(r.got[20], "line\n");
    EXPECT_EQ(r.got[21], "tail");
  }
}

/// Bytes followed by the end of the stream, both queued before the loop looks: one edge for both.
/// The read after the short read that took the bytes must still see the end. A read that took
/// "short read = drained" at its word and waited for the next edge would hang here: no edge comes,
/// and Asio's reactor registers no EPOLLRDHUP (stream.cpp, "Read readiness", step 2: TCP_INQ
/// reports the pending end; a Unix stream tries the recv).
coreio::task<std::vector<std::size_t>> bytes_and_end_together(any_pair* p) {
  std::vector<std::size_t> got;
  std::array<std::byte, 64> buf;
  co_await p->server.write_all(std::string_view("first"));
  got.push_back(co_await p->client.read_some(std::span(buf)));  // short
  co_await p->server.write_all(std::string_view("tail"));
  p->server.shutdown_write();
  co_await until_queued(&p->client, 4);  // and an event-loop turn that takes the one edge
  got.push_back(co_await p->client.read_some(std::span(buf)));
  got.push_back(co_await p->client.read_some(std::span(buf)));
  co_return got;
}

TEST_P(StreamReadTest, TheEndOfStreamQueuedBehindBytesEndsTheReadAfterTheShortRead) {
  for (int workers : {1, 2}) {
    coreio::runtime on{coreio::runtime_options{.workers = static_cast<std::size_t>(workers)}};
    any_pair p = pair(&on);
    const std::vector<std::size_t> got = on.block_on(bytes_and_end_together(&p));
    EXPECT_EQ(got, (std::vector<std::size_t>{5, 4, 0})) << workers << " workers";
  }
}

// ---- read readiness: recvs per message, a stream dropped while its wait is queued ---------------

/// recv calls the client side makes to read `rounds` short messages, each written just before the
/// read (so each read finds the readiness cleared by the previous read and waits for the edge). A
/// probe of the syscalls, not a timing.
coreio::task<std::uint64_t> recvs_for_ping_pong(any_pair* p, int rounds) {
  std::array<std::byte, 64> buf;
  const coreio::detail::stream_socket_impl* impl = coreio::detail::stream_access::impl(p->client);
  const std::uint64_t before = impl->recv_calls;
  for (int round = 0; round < rounds; ++round) {
    const std::string msg = "ping" + std::to_string(round);
    co_await p->server.write_all(std::string_view(msg));
    const std::size_t n = co_await p->client.read_some(std::span(buf));
    EXPECT_EQ(to_string(std::span<const std::byte>(buf.data(), n)), msg);
  }
  co_return impl->recv_calls - before;
}

TEST_P(StreamReadTest, AShortMessageCostsOneRecvOnTcpAndAtMostTwoOnUnix) {
  for (int workers : {1, 2}) {
    coreio::runtime on{coreio::runtime_options{.workers = static_cast<std::size_t>(workers)}};
    any_pair p = pair(&on);
    constexpr std::uint64_t rounds = 200;
    const std::uint64_t recvs = on.block_on(recvs_for_ping_pong(&p, static_cast<int>(rounds)));
    // TCP: TCP_INQ says the short read drained the queue, so the next read waits for the edge.
    // Unix: only a recv that would block says so (stream.cpp, "Read readiness", step 2).
    const std::uint64_t most = GetParam() == protocol::tcp ? rounds + 1 : 2 * rounds + 1;
    EXPECT_LE(recvs, most) << workers << " workers";
  }
}

/// Reads a short message (which queues the read wait), then drops the stream with the wait still
/// queued: the wait's aborted completion frees the socket (the sanitizer builds see a use after
/// free or a leak otherwise).
coreio::task<std::string> drop_with_the_wait_queued(any_pair* p) {
  std::array<std::byte, 64> buf;
  co_await p->server.write_all(std::string_view("one"));
  const std::size_t n = co_await p->client.read_some(std::span(buf));
  std::string got = to_string(std::span<const std::byte>(buf.data(), n));
  {
    stream dropped = std::move(p->client);
  }
  co_await coreio::sleep_for(2ms);  // an event-loop turn: the aborted wait completes
  co_return got;
}

coreio::task<void> read_one_short_message(any_pair* p) {
  std::array<std::byte, 8> buf;
  co_await p->server.write_all(std::string_view("x"));
  (void)co_await p->client.read_some(std::span(buf));
}

TEST_P(StreamReadTest, AStreamDroppedWhileItsReadWaitIsQueuedIsFreedByTheWait) {
  coreio::runtime on{coreio::runtime_options{.workers = 1}};
  any_pair p = pair(&on);
  EXPECT_EQ(on.block_on(drop_with_the_wait_queued(&p)), "one");
  // The same with the stream dropped from outside the runtime: its delete is posted to the owner.
  any_pair q = pair(&on);
  on.block_on(read_one_short_message(&q));
}

/// A read cancelled while it waits for the edge leaves the wait queued; the next read gets the bytes.
coreio::task<std::string> read_after_a_cancelled_wait(any_pair* p) {
  std::array<std::byte, 64> buf;
  co_await p->server.write_all(std::string_view("first"));
  (void)co_await p->client.read_some(std::span(buf));
  bool timed_out = false;
  try {
    (void)co_await coreio::wait_for(p->client.read_some(std::span(buf)), 5ms);
  } catch (const coreio::timeout_error&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  co_await p->server.write_all(std::string_view("second"));
  const std::size_t n = co_await p->client.read_some(std::span(buf));
  co_return to_string(std::span<const std::byte>(buf.data(), n));
}

TEST_P(StreamReadTest, AReadCancelledWhileWaitingForTheEdgeLeavesTheNextReadItsBytes) {
  coreio::runtime on{coreio::runtime_options{.workers = 2}};
  any_pair p = pair(&on);
  EXPECT_EQ(on.block_on(read_after_a_cancelled_wait(&p)), "second");
}

// ---- a peer that resets right after its last bytes ----------------------------------------------

/// Reads `s` to its end: the bytes, then "|end", "|error" (a reset) or "|hung" (nothing for 5 s).
coreio::task<std::string> read_to_the_end(stream* s) {
  std::array<std::byte, 64> buf;
  std::string got;
  for (;;) {
    std::size_t n = 0;
    try {
      auto rd = s->read_some(std::span(buf));
      n = co_await coreio::wait_for(std::move(rd), 5s);
    } catch (const coreio::timeout_error&) {
      co_return got + "|hung";
    } catch (const std::system_error&) {
      co_return got + "|error";
    }
    if (n == 0) co_return got + "|end";
    got += to_string(std::span<const std::byte>(buf.data(), n));
  }
}

/// Writes "hello" and resets the connection (SO_LINGER 0) in one go, with no loop turn between.
coreio::task<void> hello_then_reset(stream* client) {
  const int fd = coreio::detail::stream_access::impl(*client)->fd;
  co_await client->write_all(std::string_view("hello"));
  const linger abort_on_close{1, 0};
  EXPECT_EQ(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close), 0);
  stream gone = std::move(*client);
}

/// The peer writes a few bytes and resets the connection at once, so that one report of the
/// socket by epoll brings the bytes, the error and the hang-up together. The read that gets the
/// bytes finds the receive queue drained (TCP_INQ counts a FIN, not a reset); the next read must
/// still see the reset instead of waiting for an edge that will never come (stream.cpp, "Read
/// readiness", step 6). `rounds` messages go first. reader_waits false: the loop takes the report
/// before the reader reads (the case that hung, with or without messages first); true: the
/// reader already waits on the socket, and the reset may come as an edge of its own (the
/// ordinary path, which must end the read too).
coreio::task<std::string> bytes_then_reset(any_pair* p, int rounds, bool reader_waits) {
  std::array<std::byte, 64> buf;
  std::string got;
  for (int i = 0; i < rounds; ++i) {
    co_await p->client.write_all(std::string_view("ping"));
    const std::size_t n = co_await p->server.read_some(std::span(buf));
    got += to_string(std::span<const std::byte>(buf.data(), n)) + ",";
  }
  if (!reader_waits) {
    co_await hello_then_reset(&p->client);
    co_await coreio::sleep_for(20ms);  // the loop polls and takes the edge
    co_return got + co_await read_to_the_end(&p->server);
  }
  auto reader = coreio::spawn(read_to_the_end(&p->server));
  co_await coreio::sleep_for(20ms);  // the reader waits for the socket's edge
  co_await hello_then_reset(&p->client);
  co_return got + co_await std::move(reader);
}

/// After "hello" and a reset: reads in when_any(read_some, sleep_for(tick)) until the read wins
/// or fails: "reset", "end", "bytes" or "other". The kernel reports a reset once (then an end of
/// stream), so a read that took it and lost to the sleep must give it back (as_task.hpp,
/// give_back_failure), or the next read would see a clean end.
coreio::task<std::string> reset_through_when_any(any_pair* p, std::chrono::microseconds tick) {
  co_await hello_then_reset(&p->client);
  std::array<std::byte, 5> hello;
  co_await p->server.read_exact(std::span(hello));
  std::array<std::byte, 64> buf;
  for (;;) {
    try {
      auto rd = p->server.read_some(std::span(buf));
      auto sl = coreio::sleep_for(tick);
      auto w = coreio::when_any(std::move(rd), std::move(sl));
      auto res = co_await std::move(w);
      if (res.index != 0) continue;
      co_return std::get<0>(res.value) == 0 ? "end" : "bytes";
    } catch (const std::system_error& e) {
      co_return e.code() == std::errc::connection_reset ? "reset" : "other";
    }
  }
}

TEST_P(StreamReadTest, AResetThatALosingReadTookIsThrownByTheNextRead) {
  // A probe lost the reset in 491-675 of 1,000 rounds (tick 0) and 10 of 1,000 (200 us).
  const std::string want = GetParam() == protocol::tcp ? "reset" : "end";  // Unix: no reset
  for (int workers : {1, 2}) {
    coreio::runtime on{coreio::runtime_options{.workers = static_cast<std::size_t>(workers)}};
    for (const auto tick : {0us, 20us}) {
      int lost = 0;
      for (int round = 0; round < 100; ++round) {
        any_pair p = pair(&on);
        const std::string got = on.block_on(reset_through_when_any(&p, tick));
        if (got != want) {
          ++lost;
          ADD_FAILURE() << got << ", round " << round << ", " << workers << " workers, tick "
                        << tick.count() << " us";
        }
      }
      if (lost != 0) return;
    }
  }
}

TEST_P(StreamReadTest, AResetRightAfterTheLastBytesEndsTheNextRead) {
  for (int workers : {1, 2}) {
    coreio::runtime on{coreio::runtime_options{.workers = static_cast<std::size_t>(workers)}};
    for (const bool reader_waits : {false, true}) {
      for (int rounds : {0, 1, 3}) {
        any_pair p = pair(&on);
        const std::string got = on.block_on(bytes_then_reset(&p, rounds, reader_waits));
        std::string want;
        for (int i = 0; i < rounds; ++i) want += "ping,";
        want += "hello";
        // A reset reads as an error on TCP; a Unix stream has no reset, its close is the end.
        EXPECT_TRUE(got == want + "|error" || got == want + "|end")
            << got << ", " << workers << " workers, " << rounds << " rounds first"
            << (reader_waits ? ", the reader waiting" : "");
      }
    }
  }
}

}  // namespace
