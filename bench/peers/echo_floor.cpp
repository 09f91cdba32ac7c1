// echo_floor: the least a TCP echo server can spend per round trip, for the shared harness's echo
// workload (installed by tools/peers as the impl `floor`). No runtime and no library: N threads,
// each with its own SO_REUSEPORT listener on 127.0.0.1:PORT and its own level-triggered epoll;
// a readable socket gets one recv and one send of what it read, the two system calls every server
// in the harness makes per round trip, and nothing else (no task, no wake-up of another thread).
// Its rate beside Tokio's in the same rounds is the most any server can gain over Tokio on this
// machine by spending less CPU in user space: the kernel's share (the loopback TCP work of the
// recv and the send, the epoll wake-ups) and the load generator's, which share the CPUs with it,
// are what is left.
//
// Usage: coreio_echo_floor [--threads N] PORT   (N defaults to 2; runs until killed)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "coreio_echo_floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// Sends all of [p, p + n) on a non-blocking socket, waiting for room if the send buffer is full
// (never the case for the harness's 64-byte messages, but the floor must not drop bytes either).
bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k > 0) {
      p += k;
      n -= static_cast<std::size_t>(k);
    } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd w{fd, POLLOUT, 0};
      if (::poll(&w, 1, -1) < 0 && errno != EINTR) return false;
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

void serve(int port) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lfd < 0) die("socket");
  const int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) die("SO_REUSEPORT");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  if (::listen(lfd, 4096) != 0) die("listen");
  const int ep = ::epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) die("epoll_ctl");
  std::vector<epoll_event> ready(256);
  std::vector<char> buf(64 * 1024);
  for (;;) {
    const int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == lfd) {
        int c = 0;
        while ((c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.fd = c;
          if (::epoll_ctl(ep, EPOLL_CTL_ADD, c, &e) != 0) ::close(c);
        }
        continue;
      }
      const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0 || !send_all(fd, buf.data(), static_cast<std::size_t>(r))) ::close(fd);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int arg = 1;
  if (argc > 2 && std::string(argv[1]) == "--threads") {
    threads = std::atoi(argv[2]);
    arg = 3;
  }
  if (arg >= argc || threads < 1) {
    std::fprintf(stderr, "usage: coreio_echo_floor [--threads N] PORT\n");
    return 2;
  }
  const int port = std::atoi(argv[arg]);
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) ts.emplace_back(serve, port);
  for (auto& t : ts) t.join();
}
