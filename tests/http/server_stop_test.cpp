// http/server_stop_test.cpp — the server under hostile or heavy connection patterns: slow-loris
// clients (408 while others are served), thousands of connections opened and dropped (no
// descriptor left behind), stop() under keep-alive load (every request answered whole or
// refused, none cut), and the lingering close after a response the server closes on.
#include <coreio/http/server.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <coreio/gather.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/time.hpp>

#include "net/sockets.hpp"
#include "support/server_support.hpp"
#include "support/test_support.hpp"

namespace coreio_http_test {
namespace {

using coreio_test::sanitized;

// A client sending its head one byte every 100 ms; returns what the server answered.
coreio::task<std::string> slow_loris(std::uint16_t port) {
  coreio::task<coreio::net::tcp_stream> c = coreio::net::tcp_stream::connect("127.0.0.1", port);
  coreio::net::tcp_stream s = co_await std::move(c);
  const std::string head = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n\r\n";
  for (char ch : head) {
    try {
      co_await s.write_all(std::string_view(&ch, 1));
    } catch (const std::exception&) {
      break;  // the server closed: read what it said
    }
    std::array<char, 512> probe{};
    // Anything answered within the next 100 ms, the pace of the bytes? (a 408 arrives after
    // 300 ms) The read itself waits, not a sleep before a 1 ms read: an answer that came during a
    // sleep would have to be seen by the reactor within the 1 ms, and a missed one ends the loop
    // at the next write (the server has closed) with nothing read.
    auto rd = s.read_some(std::span<char>(probe));
    try {
      auto w = coreio::wait_for(std::move(rd), 100ms);
      const std::size_t n = co_await std::move(w);
      co_return std::string(probe.data(), n);
    } catch (const coreio::timeout_error&) {
    }
  }
  co_return std::string();
}

coreio::task<void> slow_loris_test() {
  running_server rs{test_options()};  // header_timeout 300 ms
  std::vector<coreio::join_handle<std::string>> slow;
  for (int i = 0; i < 4; ++i) slow.push_back(coreio::spawn(slow_loris(rs.port)));
  // Meanwhile the server keeps answering others, on a keep-alive connection.
  http::client session;
  int served = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string u = rs.url("/hello");
    http::response r = co_await session.get(u);
    std::string body = co_await r.text();
    served += body == "Hello, World!" ? 1 : 0;
  }
  EXPECT_EQ(served, 10);
  co_await session.close();
  for (auto& h : slow) {
    const std::string got = co_await h;
    EXPECT_EQ(status_line(got), "HTTP/1.1 408 Request Timeout") << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos);
  }
  co_await rs.stop();
}
TEST(ServerStop, SlowLorisGets408WhileOthersAreServed) { run_test(slow_loris_test); }

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

// Connects, optionally sends half a request line, and drops the connection. Counts a connect.
coreio::task<void> open_and_drop(std::uint16_t port, bool send_partial, std::atomic<int>& opened) {
  try {
    coreio::task<coreio::net::tcp_stream> c = coreio::net::tcp_stream::connect("127.0.0.1", port);
    coreio::net::tcp_stream s = co_await std::move(c);
    opened.fetch_add(1, std::memory_order_relaxed);
    if (send_partial) co_await s.write_all(std::string_view("GET /hel"));
  } catch (const std::exception&) {
  }
}

// Waits (a probe with a deadline) until the server has accepted `accepted` connections and closed
// them all: its "closed" counter is taken after the socket's descriptor is closed.
coreio::task<bool> all_closed(const http::server& srv, std::uint64_t accepted) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const http::server_stats st = srv.stats();
    if (st.connections_accepted >= accepted && st.connections_closed == st.connections_accepted) {
      co_return true;
    }
    co_await coreio::sleep_for(2ms);
  }
  co_return false;
}

// A raw client with a small receive buffer (so that the server's last responses still wait in its
// send queue) writes `head` (the requests that are answered) and `tail` (more pipelined requests
// that are not: the connection closes before them) at once, waits until the server has closed
// the connection, and then reads all it sent. Returns what it read, and whether it read to a
// clean end of stream (false: a reset).
struct raw_result {
  std::string got;
  bool clean_end = false;
};
coreio::task<raw_result> pipeline_past_close(const running_server& rs, const std::string& head,
                                             const std::string& tail, std::uint64_t accepted) {
  raw_result r;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);  // before connect: the window
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(rs.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  const std::string bytes = head + tail;
  EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
  // Nothing read until the server has closed its end: a close that resets the connection throws
  // away what still waited in the server's send queue.
  EXPECT_TRUE(co_await all_closed(rs.srv, accepted));
  const timeval limit{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::array<char, 4096> buf{};
  while (true) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      r.clean_end = n == 0;
      break;
    }
    r.got.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  co_return r;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Every response the server closes on (Connection: close, keepalive_requests) is followed by a
// lingering close, as its error responses are (RFC 9112 section 9.6): the requests pipelined
// behind the last one answered are read and dropped, so the close does not reset the connection,
// and every response sent before it reaches the client, the last one and those before it.
coreio::task<void> closes_after_responses_linger() {
  const std::string get = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string tail = repeat(get, 600);  // about 20 KB the server never answers
  {
    running_server rs{test_options()};
    const std::string head =
        repeat(get, 99) + "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    const raw_result r = co_await pipeline_past_close(rs, head, tail, 1);
    EXPECT_EQ(count(r.got, "HTTP/1.1 200"), 100u);
    EXPECT_EQ(count(r.got, "Connection: close"), 1u);
    EXPECT_TRUE(r.clean_end) << "reset after " << count(r.got, "HTTP/1.1 200") << " responses";
    co_await rs.stop();
  }
  {
    http::server_options o = test_options();
    o.keepalive_requests = 100;
    running_server rs{o};
    const raw_result r = co_await pipeline_past_close(rs, repeat(get, 100), tail, 1);
    EXPECT_EQ(count(r.got, "HTTP/1.1 200"), 100u);
    EXPECT_TRUE(r.clean_end) << "reset after " << count(r.got, "HTTP/1.1 200") << " responses";
    co_await rs.stop();
  }
}
TEST(ServerStop, ClosesAfterResponsesLinger) { run_test(closes_after_responses_linger); }

coreio::task<void> many_connections() {
  running_server rs{test_options()};
  // A first request so that every lazily made thing (the client's pool aside) exists.
  (void)co_await send_and_read(rs.port,
                               "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(co_await all_closed(rs.srv, 1));
  const std::size_t before = open_fds();
  const int total = sanitized(10'000, 1'000);
  const int batch = 200;
  std::atomic<int> opened{0};
  for (int done = 0; done < total; done += batch) {
    std::vector<coreio::task<void>> tasks;
    for (int i = 0; i < batch; ++i) tasks.push_back(open_and_drop(rs.port, i % 2 == 1, opened));
    co_await coreio::gather(std::move(tasks));
  }
  EXPECT_EQ(opened.load(), total);
  // The server closes its ends as it sees each end of stream.
  EXPECT_TRUE(co_await all_closed(rs.srv, 1 + static_cast<std::uint64_t>(opened.load())));
  EXPECT_LE(open_fds(), before);  // no descriptor left (fewer: something else closed)
  // Still serving.
  const std::string after = co_await send_and_read(
      rs.port, "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(after.find("Hello, World!"), std::string::npos);
  co_await rs.stop();
}
TEST(ServerStop, ThousandsOfDroppedConnectionsLeaveNoDescriptor) { run_test(many_connections); }

// Sends a part of a request (half a head, or a head and part of its body) and resets the
// connection at once (SO_LINGER 0): the bytes and the reset reach the server together.
coreio::task<void> send_part_and_reset(std::uint16_t port, bool in_body, std::atomic<int>& sent) {
  try {
    coreio::task<coreio::net::tcp_stream> c = coreio::net::tcp_stream::connect("127.0.0.1", port);
    coreio::net::tcp_stream s = co_await std::move(c);
    co_await s.write_all(std::string_view(
        in_body ? "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabcdefghij"
                : "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Le"));
    const linger abort_on_close{1, 0};
    ::setsockopt(coreio::detail::stream_access::impl(s)->fd, SOL_SOCKET, SO_LINGER, &abort_on_close,
                 sizeof abort_on_close);
    sent.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::exception&) {
  }
}

// A client that resets inside a head or a body frees its connection at once, not at the header
// or body deadline (30 s here): the reset ends the server's read (net/stream.cpp, "Read
// readiness", step 6).
coreio::task<void> resets_free_their_connections() {
  http::server_options o = test_options();
  o.header_timeout = 30s;
  o.body_timeout = 30s;
  running_server rs{o};
  (void)co_await send_and_read(rs.port,
                               "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(co_await all_closed(rs.srv, 1));
  const std::size_t before = open_fds();
  std::atomic<int> sent{0};
  for (int round = 0; round < 5; ++round) {
    std::vector<coreio::task<void>> tasks;
    for (int i = 0; i < 40; ++i) tasks.push_back(send_part_and_reset(rs.port, i % 2 == 1, sent));
    co_await coreio::gather(std::move(tasks));
  }
  EXPECT_EQ(sent.load(), 200);
  EXPECT_TRUE(co_await all_closed(rs.srv, 1 + static_cast<std::uint64_t>(sent.load())))
      << rs.srv.stats().connections_closed << " of " << rs.srv.stats().connections_accepted
      << " closed";
  EXPECT_LE(open_fds(), before);
  co_await rs.stop();
}
TEST(ServerStop, ResetsInsideAHeadOrABodyFreeTheirConnectionsAtOnce) {
  run_test(resets_free_their_connections);
}

struct load_counts {
  std::atomic<int> complete{0};   // whole responses received
  std::atomic<int> refused{0};    // closed (or refused) before any byte of a response
  std::atomic<int> truncated{0};  // a response cut short: must stay 0
  std::atomic<int> closes_announced{0};
};

// Reads one response (Content-Length framed) from s into buf. Returns 1 whole, 0 end of stream
// before any byte of it, -1 cut short.
coreio::task<int> read_one(coreio::net::tcp_stream& s, std::string& buf, bool& close) {
  std::array<char, 4096> tmp{};
  while (true) {
    const std::size_t head_end = buf.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const std::size_t cl = buf.find("Content-Length: ");
      if (cl == std::string::npos || cl > head_end) co_return -1;
      const std::size_t len = std::stoul(buf.substr(cl + 16));
      if (buf.size() >= head_end + 4 + len) {
        close = buf.find("Connection: close") < head_end;
        const bool body_ok = buf.compare(head_end + 4, len, "Hello, World!") == 0;
        buf.erase(0, head_end + 4 + len);
        co_return body_ok ? 1 : -1;
      }
    }
    std::size_t n = 0;
    try {
      auto rd = s.read_some(std::span<char>(tmp));
      auto w = coreio::wait_for(std::move(rd), 5s);
      n = co_await std::move(w);
    } catch (const coreio::timeout_error&) {
      throw;
    } catch (const std::exception&) {
      n = 0;  // a reset counts as the end
    }
    if (n == 0) co_return buf.empty() ? 0 : -1;
    buf.append(tmp.data(), n);
  }
}

coreio::task<void> hammer(std::uint16_t port, std::shared_ptr<load_counts> counts) {
  while (true) {
    coreio::net::tcp_stream s;
    try {
      coreio::task<coreio::net::tcp_stream> c = coreio::net::tcp_stream::connect("127.0.0.1", port);
      s = co_await std::move(c);
    } catch (const std::exception&) {
      counts->refused.fetch_add(1, std::memory_order_relaxed);
      co_return;  // the listener is closed: done
    }
    std::string buf;
    while (true) {
      try {
        co_await s.write_all(std::string_view("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"));
      } catch (const std::exception&) {
        counts->refused.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      bool close = false;
      const int r = co_await read_one(s, buf, close);
      if (r == 1) counts->complete.fetch_add(1, std::memory_order_relaxed);
      if (r == 0) counts->refused.fetch_add(1, std::memory_order_relaxed);
      if (r == -1) counts->truncated.fetch_add(1, std::memory_order_relaxed);
      if (close) counts->closes_announced.fetch_add(1, std::memory_order_relaxed);
      if (r != 1 || close) break;
    }
  }
}

coreio::task<void> stop_under_load() {
  running_server rs{test_options()};
  auto counts = std::make_shared<load_counts>();
  std::vector<coreio::join_handle<void>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(coreio::spawn(hammer(rs.port, counts)));
  // Mid-way: once the load is established (a probe on the count, with a deadline).
  const int target = sanitized(400, 100);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (counts->complete.load(std::memory_order_relaxed) < target &&
         std::chrono::steady_clock::now() < deadline) {
    co_await coreio::sleep_for(1ms);
  }
  EXPECT_GE(counts->complete.load(std::memory_order_relaxed), target) << "the load never built up";
  co_await rs.stop();
  for (auto& c : clients) co_await c;
  EXPECT_EQ(counts->truncated.load(), 0);
  EXPECT_GE(counts->complete.load(), target);
  // Every client ended by a refusal or close before a response began, or after an announced close.
  EXPECT_GE(counts->refused.load() + counts->closes_announced.load(), 8);
}
TEST(ServerStop, StopUnderLoadAnswersWholeOrRefuses) { run_test(stop_under_load); }

}  // namespace
}  // namespace coreio_http_test
