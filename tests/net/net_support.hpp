// net/net_support.hpp — what the coreio::net tests share: connected loopback pairs, an echo
// handler, deterministic byte patterns, a blocking raw-socket peer for a plain thread (for what the
// API cannot do on purpose: SO_LINGER 0 resets), descriptor counting, heap accounting, IPv6
// detection, and a listener's accept queue filled so that a connect stays in progress (also used
// by the HTTP client's connect-deadline tests).
//
// Rules (tests/CMakeLists.txt and tests/support/test_support.hpp): loopback only; every server is
// started by the test itself on port 0; every load is bounded and ends by itself; coroutines are free
// functions taking what they touch by pointer or value.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <coreio/coreio.hpp>

#include "support/test_support.hpp"

namespace coreio_net_test {

using namespace std::chrono_literals;
using coreio::net::endpoint;
using coreio::net::tcp_listener;
using coreio::net::tcp_stream;

// ---- bytes --------------------------------------------------------------------------------------

/// Byte i of a stream that never repeats with a short period, so that a lost, duplicated or
/// reordered chunk shows up as a mismatch at its first byte.
inline std::byte pattern_byte(std::uint64_t i, std::uint64_t seed = 0) {
  std::uint64_t x = i + seed * 0x9E3779B97F4A7C15ull;
  x ^= x >> 7;
  x ^= x >> 15;
  x ^= x >> 23;
  return static_cast<std::byte>((x * 0x9D) & 0xff);
}

inline std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed = 0,
                                      std::uint64_t from = 0) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = pattern_byte(from + i, seed);
  return v;
}

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

inline std::string to_string(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// ---- loopback pairs and handlers ------------------------------------------------------------------

/// Both ends of one loopback connection: `client` made by connect, `server` by accept.
struct stream_pair {
  tcp_stream client;
  tcp_stream server;
};

/// Connects to a listener of its own on host (127.0.0.1 or ::1) and accepts. Worker only.
inline coreio::task<stream_pair> connected_pair(std::string host = "127.0.0.1") {
  auto lis = tcp_listener::bind(host, 0);
  stream_pair p;
  // The kernel completes the handshake from its backlog, so connect-then-accept needs no overlap.
  p.client = co_await tcp_stream::connect(host, lis.port());
  p.server = co_await lis.accept();
  co_return p;
}

/// Echoes everything back until the peer shuts down its side, then closes ours.
///
/// The explicit close matters: a coroutine's parameters live as long as its frame, and a spawned
/// task's frame lives until its join_handle is dropped, so without it the socket would stay open
/// (and the peer would wait for end of stream) until whoever holds the handle lets go.
inline coreio::task<void> echo_until_eof(tcp_stream s) {
  std::vector<std::byte> buf(16 * 1024);
  for (;;) {
    const std::size_t n = co_await s.read_some(std::span(buf));
    if (n == 0) break;
    co_await s.write_all(std::span<const std::byte>(buf.data(), n));
  }
  s.close();
}

/// A connection_handler for serve() that echoes until end of stream.
inline coreio::task<void> echo_handler(tcp_stream s) { return echo_until_eof(std::move(s)); }

/// Reads until end of stream; returns everything read. Any stream (TCP, Unix domain).
inline coreio::task<std::string> read_to_eof(coreio::net::stream* s) {
  std::string out;
  std::array<std::byte, 4096> buf;
  for (;;) {
    const std::size_t n = co_await s->read_some(std::span(buf));
    if (n == 0) co_return out;
    out += to_string(std::span<const std::byte>(buf.data(), n));
  }
}

// ---- the process ---------------------------------------------------------------------------------

/// Open file descriptors of this process (entries of /proc/self/fd, less the directory's own).
inline std::size_t count_open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Connections waiting in the backlog of the TCP listener bound to 127.0.0.1:port in this process
/// (TCP_INFO's tcpi_unacked on a listening socket is its accept queue's length); -1 if none found.
inline int accept_queue_length(std::uint16_t port) {
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(e.path().filename().string());
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0)
      continue;
    sockaddr_in a{};
    len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET ||
        ntohs(a.sin_port) != port) {
      continue;
    }
    tcp_info info{};
    len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    return static_cast<int>(info.tcpi_unacked);
  }
  return -1;
}

/// The largest size the kernel lets one TCP socket's send plus receive buffer grow to (autotuning
/// maxima from /proc), an upper bound on what can be in flight with nobody reading.
inline std::size_t kernel_tcp_buffer_bound() {
  auto third = [](const char* path, std::size_t fallback) {
    std::ifstream f(path);
    std::size_t a = 0, b = 0, c = 0;
    if (f >> a >> b >> c) return c;
    return fallback;
  };
  return third("/proc/sys/net/ipv4/tcp_rmem", 32u << 20) +
         third("/proc/sys/net/ipv4/tcp_wmem", 8u << 20);
}

/// True if a socket can be bound to ::1 (IPv6 loopback configured).
inline bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// A fresh directory under $TMPDIR (or /tmp, if $TMPDIR is unset or too long for socket paths of
/// 107 bytes), removed with everything in it on destruction: where the Unix domain socket tests put
/// their socket files.
class temp_dir {
 public:
  temp_dir() {
    const char* env = std::getenv("TMPDIR");
    const std::string base = env != nullptr && *env != '\0' && std::strlen(env) < 48 ? env : "/tmp";
    std::string tmpl = base + "/coreio-net-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }
  /// path()/name.
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---- heap accounting (heap_tracker.cpp replaces the global operator new) -------------------------

/// Bytes currently allocated through the global operator new.
std::int64_t live_heap_bytes() noexcept;
/// The highest live_heap_bytes() since the last reset_peak_heap_bytes().
std::int64_t peak_heap_bytes() noexcept;
void reset_peak_heap_bytes() noexcept;

// ---- a blocking raw-socket peer for a plain thread -------------------------------------------------

/// A blocking IPv4 TCP client on plain POSIX sockets, driven from a plain thread: what the
/// tests need that coreio deliberately does not offer (an abortive close with SO_LINGER 0).
class raw_peer {
 public:
  raw_peer() = default;
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;
  ~raw_peer() { close(); }

  /// Connects to 127.0.0.1:port; throws std::system_error.
  void connect(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "raw socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      throw std::system_error(errno, std::generic_category(), "raw connect");
    }
  }
  void send_all(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n < 0) throw std::system_error(errno, std::generic_category(), "raw send");
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  /// Reads until n bytes or end of stream.
  std::string recv_exact(std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }
  /// Closes with SO_LINGER {on, 0}: the kernel sends RST instead of FIN.
  void reset() {
    if (fd_ < 0) return;
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(std::exchange(fd_, -1));
  }
  void close() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_ = -1;
};

/// Sockets of this machine in TCP's SYN-SENT state towards 127.0.0.1:port (/proc/net/tcp: state
/// 02, addresses in hex, the IPv4 one in network byte order).
inline int syn_sent_to(std::uint16_t port) {
  std::ifstream f("/proc/net/tcp");
  std::string line;
  std::getline(f, line);  // the column names
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  int n = 0;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state;
    if (in >> slot >> local >> remote >> state && remote == want && state == "02") ++n;
  }
  return n;
}

/// Fills the accept queue of a listener bound to 127.0.0.1:port with backlog 1 that nobody
/// accepts: connects until one stays in progress (its SYN dropped), which is then cancelled;
/// returns the connected ones once the cancelled one's socket is closed (none left in SYN-SENT),
/// so that a caller's counts of sockets and descriptors start from there. Loopback only.
inline coreio::task<std::vector<tcp_stream>> fill_accept_queue(std::uint16_t port) {
  std::vector<tcp_stream> fillers;
  bool full = false;
  for (int i = 0; i < 16 && !full; ++i) {
    try {
      auto c = tcp_stream::connect("127.0.0.1", port);
      fillers.push_back(co_await coreio::wait_for(std::move(c), 200ms));
    } catch (const coreio::timeout_error&) {
      full = true;  // this one stayed in progress: the queue is full
    }
  }
  EXPECT_TRUE(full) << "16 connects to a listener with backlog 1 all completed";
  // The one that stayed in progress is closed on its loop, after its cancel: returned once it is
  // (no socket left in SYN-SENT), so that the caller's counts of sockets and descriptors start
  // from here.
  for (int k = 0; k < 5000 && syn_sent_to(port) != 0; ++k) co_await coreio::sleep_for(1ms);
  EXPECT_EQ(syn_sent_to(port), 0);
  co_return fillers;
}

}  // namespace coreio_net_test
