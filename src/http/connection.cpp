// src/http/connection.cpp — a client connection's transport and buffer (connection.hpp).
#include "http/connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "net/sockets.hpp"

namespace coreio::http::detail {

namespace {
// A small response (head and body: nginx's head and a 1 KiB page take 1.3 KiB) fits the first
// buffer, and two buffers share a page of memory: each new connection's buffer is memory touched
// for the first time, a page fault per 4 KiB (9.5 us each on the 2-CPU VM of these figures, timed
// by touching fresh pages one by one). With 4 KiB buffers, opening 100 connections took 98 faults
// for them alone (perf record -e page-faults on coreio_peer http-client 100 100). Larger responses
// grow it once (prepare_read); bulk bodies up to bulk_capacity.
constexpr std::size_t initial_capacity = 2 * 1024;
// A read that fills all the room it was given grows the buffer up to this, so that a large body
// is read in large pieces (fewer reads) without every connection paying for it.
constexpr std::size_t bulk_capacity = 64 * 1024;
}  // namespace

connection::connection(std::string k, net::stream s, parse_limits limits)
    : key(std::move(k)),
      response_parser(parser::mode::response, limits),
      plain_(std::move(s)),
      buf_(new char[initial_capacity]),
      cap_(initial_capacity) {}

connection::~connection() = default;

task<void> connection::start_tls(std::shared_ptr<tls_context> ctx, std::string host) {
  tls_ = std::make_unique<tls_stream>(std::move(ctx), std::move(plain_));
  co_await tls_->handshake(std::move(host));
}

net::stream& connection::raw() noexcept { return tls_ ? tls_->lowest_layer() : plain_; }
const net::stream& connection::raw() const noexcept { return tls_ ? tls_->lowest_layer() : plain_; }

std::span<std::byte> connection::prepare_read() {
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_ || (filled_room_ && cap_ < bulk_capacity)) {
    std::unique_ptr<char[]> bigger(new char[cap_ * 2]);
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    cap_ *= 2;
  }
  return {reinterpret_cast<std::byte*>(buf_.get() + end_), cap_ - end_};
}

task<std::size_t> connection::read_more() {
  const std::span<std::byte> room = prepare_read();
  std::size_t n = 0;
  if (tls_) n = co_await tls_->read_some(room);
  else n = co_await plain_.read_some(room);
  commit_read(n, room.size());
  co_return n;
}

task<void> connection::write_all(std::span<const std::byte> data) {
  if (tls_) co_await tls_->write_all(data);
  else co_await plain_.write_all(data);
}

void connection::close() noexcept {
  if (tls_) tls_->close();
  else plain_.close();
}

bool connection::is_open() const noexcept { return raw().is_open(); }

bool connection::reusable_now(std::chrono::steady_clock::time_point now,
                              bool retryable) const noexcept {
  if (!is_open() || begin_ != end_ || now >= idle_deadline) return false;
  auto* impl = coreio::detail::stream_access::impl(raw());
  if (impl == nullptr) return false;
  // The readiness flag (src/net/stream.cpp, "Read readiness"), read from whichever worker runs
  // this: clear, it says no byte and no end of stream came since the last recv drained the socket,
  // as far as the socket's loop has seen: the peek would find nothing (it cost a failed recv per
  // reuse: 0.99 per request measured with strace against nginx). A close that comes after this
  // look, or that the loop has not taken yet, is the keep-alive race that `retryable` covers. Off
  // the socket's own worker it used to take the peek every time: every reuse on the second worker,
  // since a client's connections live on one loop.
  if (retryable && !impl->readable.load(std::memory_order_relaxed)) return true;
  // The stream's own read-ahead buffer is empty here: the client only ever calls read_some.
  const int fd = impl->fd;
  char byte;
  const ssize_t r = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r == 0) return false;                        // the peer closed
  if (r > 0) return tls_ != nullptr;               // unsolicited bytes: only TLS records are fine
  return errno == EAGAIN || errno == EWOULDBLOCK;  // nothing: alive
}

}  // namespace coreio::http::detail
