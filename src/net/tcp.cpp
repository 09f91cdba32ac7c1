// net/tcp.cpp — tcp_stream and tcp_listener.
#include <coreio/net/tcp_listener.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/net/resolve.hpp>

#include <asio/connect.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/io.hpp"
#include "net/sockets.hpp"
#include "runtime_impl.hpp"

namespace coreio::detail {

worker* require_worker(const char* what) {
  worker* w = this_worker();
  if (w == nullptr) throw_usage(what);
  return w;
}

asio::ip::address parse_address(const std::string& text) {
  std::error_code ec;
  asio::ip::address a = asio::ip::make_address(text, ec);
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: not a numeric address: '" + text + "'");
  return a;
}

void destroy_tcp_socket(tcp_socket_impl* p) noexcept { destroy_on_owner(p); }

void tcp_claim(tcp_socket_impl* s, bool write) {
  std::atomic<bool>& flag = write ? s->writing : s->reading;
  // acq_rel: the previous holder's buffer use happens-before ours.
  if (flag.exchange(true, std::memory_order_acq_rel)) {
    throw_usage(write ? "tcp_stream: a second write while one is in flight (one at a time)"
                      : "tcp_stream: a second read while one is in flight (one at a time)");
  }
}

void tcp_unclaim(tcp_socket_impl* s, bool write) noexcept {
  (write ? s->writing : s->reading).store(false, std::memory_order_release);
}

void destroy_tcp_acceptor(tcp_acceptor_impl* p) noexcept { destroy_on_owner(p); }

namespace {

bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

/// read_some's fast path: a non-blocking recv.
bool try_read(io_op* op) {
  auto* s = static_cast<tcp_socket_impl*>(op->target);
  std::error_code ec;
  const std::size_t n = s->sock.read_some(asio::buffer(op->buf, op->len), ec);
  if (would_block(ec)) return false;
  op->ec = normalize_error(ec);
  op->bytes = n;
  return true;
}

/// write_all's fast path: a non-blocking send; a partial write narrows the op to the rest.
bool try_write(io_op* op) {
  auto* s = static_cast<tcp_socket_impl*>(op->target);
  std::error_code ec;
  const std::size_t n = s->sock.write_some(asio::buffer(op->arg, op->len), ec);
  if (would_block(ec)) return false;
  if (ec || n == op->len) {
    op->ec = normalize_error(ec);
    op->bytes = n;
    return true;
  }
  op->arg = static_cast<const std::byte*>(op->arg) + n;
  op->len -= n;
  return false;
}

}  // namespace

namespace {

/// connect(ep) on a socket owned by the calling worker.
class connect_awaiter : public io_awaiter {
 public:
  // Points into itself (arg / target): never moved.
  connect_awaiter(connect_awaiter&&) = delete;
  connect_awaiter(tcp_socket_impl& s, const asio::ip::tcp::endpoint& ep) : ep_(ep) {
    owner = s.owner;
    target = &s;
    abort_ctx = &s.write_sig;
    arg = &ep_;
    start = [](io_op* op) {
      auto* s = static_cast<tcp_socket_impl*>(op->target);
      auto& ep = *static_cast<const asio::ip::tcp::endpoint*>(op->arg);
      s->sock.async_connect(ep, asio::bind_cancellation_slot(s->write_sig.slot(),
                                                             [op](const std::error_code& ec) {
                                                               io_complete(op, ec, 0);
                                                             }));
    };
    abort = &abort_by_signal;
  }
  std::error_code await_resume() {
    finish();
    return ec;
  }

 private:
  asio::ip::tcp::endpoint ep_;
};

}  // namespace
}  // namespace coreio::detail

namespace coreio::net {

using detail::tcp_socket_impl;

tcp_stream::tcp_stream() noexcept = default;
tcp_stream::tcp_stream(tcp_stream&&) noexcept = default;
tcp_stream& tcp_stream::operator=(tcp_stream&&) noexcept = default;
tcp_stream::~tcp_stream() = default;
tcp_stream::tcp_stream(detail::tcp_socket_ptr impl) noexcept : impl_(std::move(impl)) {}

detail::tcp_socket_impl& tcp_stream::impl() const {
  if (!impl_) detail::throw_usage("coreio::net::tcp_stream is not connected (default or moved from)");
  return *impl_;
}

task<tcp_stream> tcp_stream::connect(std::string host, std::uint16_t port) {
  detail::worker* w = detail::require_worker("tcp_stream::connect outside a runtime");
  std::vector<endpoint> eps = co_await resolve(host, port);
  std::error_code last = std::make_error_code(std::errc::host_unreachable);
  for (const endpoint& ep : eps) {
    asio::ip::address addr = detail::parse_address(ep.address);
    detail::tcp_socket_ptr s(new tcp_socket_impl(w, asio::ip::tcp::socket(w->io())));
    std::error_code ec;
    s->sock.open(addr.is_v6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), ec);
    if (!ec) s->sock.non_blocking(true, ec);  // the fast path must never block the worker
    ec = detail::normalize_error(ec);
    if (!ec) ec = co_await detail::connect_awaiter(*s, asio::ip::tcp::endpoint(addr, ep.port));
    if (!ec) co_return tcp_stream(std::move(s));
    last = ec;
  }
  throw std::system_error(last, "coreio::net: connect to " + host + ":" + std::to_string(port));
}

task<tcp_stream> tcp_stream::connect(endpoint ep) {
  return connect(std::move(ep.address), ep.port);
}

// ---- read_some -------------------------------------------------------------------------------

tcp_stream::read_awaiter::read_awaiter(tcp_stream& s, std::span<std::byte> buf, bool raw)
    : s_(s), out_(buf), raw_(raw) {
  tcp_socket_impl& impl = s.impl();
  owner = impl.owner;
  target = &impl;
  abort_ctx = &impl.read_sig;
  this->buf = buf.data();
  len = buf.size();
  start = [](io_op* op) {
    auto* s = static_cast<tcp_socket_impl*>(op->target);
    s->sock.async_read_some(asio::buffer(op->buf, op->len), detail::io_handler(op, s->read_sig));
  };
  abort = &detail::abort_by_signal;
  try_now = &detail::try_read;
}

bool tcp_stream::read_awaiter::await_ready() {
  if (out_.empty()) {
    from_buffer_ = true;
    return true;
  }
  if (raw_) return false;
  ready_ = s_.take_buffered(out_);
  from_buffer_ = ready_ > 0;
  return from_buffer_;
}

std::size_t tcp_stream::read_awaiter::await_resume() {
  if (from_buffer_) return ready_;
  if (claimed_) detail::tcp_unclaim(static_cast<tcp_socket_impl*>(target), false);
  finish();
  if (ec == asio::error::eof) return 0;
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: read");
  return bytes;
}

tcp_stream::read_awaiter tcp_stream::read_some(std::span<std::byte> buf) {
  return read_awaiter(*this, buf);
}

std::size_t tcp_stream::take_buffered(std::span<std::byte> out) noexcept {
  const std::size_t have = rbuf_.size() - rpos_;
  const std::size_t n = std::min(have, out.size());
  if (n == 0) return 0;
  std::memcpy(out.data(), rbuf_.data() + rpos_, n);
  rpos_ += n;
  if (rpos_ == rbuf_.size()) {
    rbuf_.clear();
    rpos_ = 0;
  }
  return n;
}

task<bool> tcp_stream::fill() {
  constexpr std::size_t chunk = 4096;
  if (rpos_ > 0 && rpos_ == rbuf_.size()) {
    rbuf_.clear();
    rpos_ = 0;
  }
  const std::size_t old = rbuf_.size();
  rbuf_.resize(old + chunk);
  std::size_t n = 0;
  try {
    // Straight from the socket: read_some would serve (and here overlap) the buffer.
    n = co_await read_awaiter(*this, std::span<std::byte>(rbuf_.data() + old, chunk), true);
  } catch (...) {
    rbuf_.resize(old);
    throw;
  }
  rbuf_.resize(old + n);
  co_return n > 0;
}

task<void> tcp_stream::read_exact(std::span<std::byte> buf) {
  std::size_t got = take_buffered(buf);
  while (got < buf.size()) {
    std::size_t n = co_await read_some(buf.subspan(got));
    if (n == 0) throw incomplete_read_error(got, buf.size());
    got += n;
  }
}

task<std::string> tcp_stream::read_until(std::string delimiter, std::size_t max) {
  if (delimiter.empty()) detail::throw_usage("tcp_stream::read_until with an empty delimiter");
  std::size_t searched = 0;  // bytes of the buffer already known not to start a match
  for (;;) {
    const auto* begin = reinterpret_cast<const char*>(rbuf_.data()) + rpos_;
    const std::size_t have = rbuf_.size() - rpos_;
    std::string_view view(begin, have);
    std::size_t at = view.find(delimiter, searched);
    if (at != std::string_view::npos && at + delimiter.size() <= max) {
      std::string line(begin, at + delimiter.size());
      rpos_ += line.size();
      co_return line;
    }
    if (at != std::string_view::npos || have >= max) throw limit_overrun_error(max);
    searched = have >= delimiter.size() ? have - delimiter.size() + 1 : 0;
    if (!co_await fill()) throw incomplete_read_error(have, have + delimiter.size());
  }
}

// ---- write_all --------------------------------------------------------------------------------

tcp_stream::write_awaiter::write_awaiter(tcp_stream& s, std::span<const std::byte> data) : s_(s) {
  tcp_socket_impl& impl = s.impl();
  owner = impl.owner;
  target = &impl;
  abort_ctx = &impl.write_sig;
  arg = data.data();
  len = data.size();
  start = [](io_op* op) {
    auto* s = static_cast<tcp_socket_impl*>(op->target);
    asio::async_write(s->sock, asio::buffer(op->arg, op->len), detail::io_handler(op, s->write_sig));
  };
  abort = &detail::abort_by_signal;
  try_now = &detail::try_write;
}

void tcp_stream::write_awaiter::await_resume() {
  if (claimed_) detail::tcp_unclaim(static_cast<tcp_socket_impl*>(target), true);
  finish();
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: write");
}

tcp_stream::write_awaiter tcp_stream::write_all(std::span<const std::byte> data) {
  return write_awaiter(*this, data);
}

tcp_stream::write_awaiter tcp_stream::write_all(std::string_view text) {
  return write_awaiter(*this, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

// ---- the rest -------------------------------------------------------------------------------

void tcp_stream::shutdown_write() {
  tcp_socket_impl* s = &impl();
  detail::on_owner(s->owner, [s] {
    std::error_code ec;
    s->sock.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  });
}

void tcp_stream::close() noexcept {
  if (!impl_) return;
  tcp_socket_impl* s = impl_.get();
  // Release pairs with is_open()'s acquire load.
  s->closed.store(true, std::memory_order_release);
  try {
    detail::on_owner(s->owner, [s] {
      std::error_code ec;
      s->sock.close(ec);
    });
  } catch (...) {
  }
}

bool tcp_stream::is_open() const noexcept {
  if (!impl_ || impl_->closed.load(std::memory_order_acquire)) return false;
  // Only the owner's loop changes the descriptor, so only the owner may read it.
  return detail::this_worker() != impl_->owner || impl_->sock.is_open();
}

endpoint tcp_stream::local_endpoint() const {
  auto ep = impl().sock.local_endpoint();
  return detail::to_endpoint(ep.address(), ep.port());
}

endpoint tcp_stream::remote_endpoint() const {
  auto ep = impl().sock.remote_endpoint();
  return detail::to_endpoint(ep.address(), ep.port());
}

void tcp_stream::set_nodelay(bool on) {
  tcp_socket_impl* s = &impl();
  detail::on_owner(s->owner, [s, on] {
    std::error_code ec;
    s->sock.set_option(asio::ip::tcp::no_delay(on), ec);
  });
}

// ---- tcp_listener -----------------------------------------------------------------------------

tcp_listener::tcp_listener() noexcept = default;
tcp_listener::tcp_listener(tcp_listener&&) noexcept = default;
tcp_listener& tcp_listener::operator=(tcp_listener&&) noexcept = default;
tcp_listener::~tcp_listener() = default;

tcp_listener tcp_listener::bind(const std::string& host, std::uint16_t port, listen_options o) {
  detail::worker* w = detail::require_worker("tcp_listener::bind outside a runtime");
  std::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: listen address must be numeric or localhost: '" + host + "'");
  tcp_listener l;
  l.impl_.reset(new detail::tcp_acceptor_impl(w));
  auto& acc = l.impl_->acc;
  asio::ip::tcp::endpoint ep(addr, port);
  const std::string where = " on " + host + ":" + std::to_string(port);
  acc.open(ep.protocol(), ec);
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: open listener" + where);
  if (o.reuse_address) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (o.reuse_port) {
    int one = 1;
    if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      throw std::system_error(errno, std::generic_category(), "coreio::net: SO_REUSEPORT" + where);
    }
  }
  acc.bind(ep, ec);
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: bind" + where);
  acc.listen(o.backlog, ec);
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: listen" + where);
  return l;
}

tcp_listener::accept_awaiter::accept_awaiter(tcp_listener& l, int target_worker) {
  if (!l.impl_) detail::throw_usage("coreio::net::tcp_listener is not bound (default or moved from)");
  detail::tcp_acceptor_impl& a = *l.impl_;
  owner = a.owner;
  target = &a;
  abort_ctx = &a.sig;
  detail::runtime_impl& rt = a.owner->rt();
  detail::worker* peer = a.owner;
  if (target_worker >= 0) peer = &rt.worker_at(static_cast<std::uint32_t>(target_worker) % rt.worker_count());
  buf = peer;
  start = [](io_op* op) {
    auto* a = static_cast<detail::tcp_acceptor_impl*>(op->target);
    auto* peer = static_cast<detail::worker*>(op->buf);
    a->acc.async_accept(
        peer->io(), asio::bind_cancellation_slot(
                        a->sig.slot(), [op, peer](const std::error_code& ec, asio::ip::tcp::socket s) {
                          if (!ec) {
                            try {
                              op->arg = new tcp_socket_impl(peer, std::move(s));
                            } catch (...) {
                              detail::io_complete(op, std::make_error_code(std::errc::not_enough_memory), 0);
                              return;
                            }
                          }
                          detail::io_complete(op, ec, 0);
                        }));
  };
  abort = &detail::abort_by_signal;
}

tcp_stream tcp_listener::accept_awaiter::await_resume() {
  detail::tcp_socket_ptr s(static_cast<tcp_socket_impl*>(const_cast<void*>(arg)));
  finish();
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: accept");
  return tcp_stream(std::move(s));
}

tcp_listener::accept_awaiter tcp_listener::accept() { return accept_awaiter(*this, -1); }
tcp_listener::accept_awaiter tcp_listener::accept_on(int target) { return accept_awaiter(*this, target); }

std::uint16_t tcp_listener::port() const { return local_endpoint().port; }

endpoint tcp_listener::local_endpoint() const {
  if (!impl_) detail::throw_usage("coreio::net::tcp_listener is not bound");
  auto ep = impl_->acc.local_endpoint();
  return detail::to_endpoint(ep.address(), ep.port());
}

void tcp_listener::close() noexcept {
  if (!impl_) return;
  detail::tcp_acceptor_impl* a = impl_.get();
  // Release pairs with is_open()'s acquire load.
  a->closed.store(true, std::memory_order_release);
  try {
    detail::on_owner(a->owner, [a] {
      std::error_code ec;
      a->acc.close(ec);
    });
  } catch (...) {
  }
}

bool tcp_listener::is_open() const noexcept {
  if (!impl_ || impl_->closed.load(std::memory_order_acquire)) return false;
  // Only the owner's loop changes the descriptor, so only the owner may read it.
  return detail::this_worker() != impl_->owner || impl_->acc.is_open();
}

}  // namespace coreio::net
