// net/udp.cpp — udp_socket.
#include <coreio/net/resolve.hpp>
#include <coreio/net/udp_socket.hpp>

#include <asio/post.hpp>

#include "net/io.hpp"
#include "net/sockets.hpp"

namespace coreio::detail {

void destroy_udp_socket(udp_socket_impl* p) noexcept { destroy_on_owner(p); }

namespace {
/// Connects a UDP socket (a plain syscall) on its owner's thread, as an io_op.
class udp_connect_awaiter : public io_awaiter {
 public:
  // Points into itself (arg / target): never moved.
  udp_connect_awaiter(udp_connect_awaiter&&) = delete;
  udp_connect_awaiter(udp_socket_impl& s, const asio::ip::udp::endpoint& ep) : ep_(ep) {
    owner = s.owner;
    target = &s;
    arg = &ep_;
    start = [](io_op* op) {
      auto* s = static_cast<udp_socket_impl*>(op->target);
      std::error_code ec;
      s->sock.connect(*static_cast<const asio::ip::udp::endpoint*>(op->arg), ec);
      io_complete(op, ec, 0);
    };
    abort = [](io_op*) {};  // start completes at once: nothing to abort
  }
  std::error_code await_resume() {
    finish();
    return ec;
  }

 private:
  asio::ip::udp::endpoint ep_;
};
}  // namespace

}  // namespace coreio::detail

namespace coreio::net {

using detail::udp_socket_impl;

udp_socket::udp_socket() noexcept = default;
udp_socket::udp_socket(udp_socket&&) noexcept = default;
udp_socket& udp_socket::operator=(udp_socket&&) noexcept = default;
// Closing first frees the port now when this worker can take the owner's loop token (the deletion
// is posted): a datagram sent to it after the drop gets the ICMP error, a new bind of it succeeds.
udp_socket::~udp_socket() { close(); }

udp_socket udp_socket::bind(const std::string& host, std::uint16_t port) {
  detail::worker* w = detail::require_worker("udp_socket::bind outside a runtime");
  const asio::ip::address addr = detail::parse_bind_address(host);
  udp_socket u;
  u.impl_.reset(new udp_socket_impl(w));
  std::error_code ec;
  asio::ip::udp::endpoint ep(addr, port);
  const std::string where = " on " + host + ":" + std::to_string(port);
  u.impl_->sock.open(ep.protocol(), ec);
  if (ec)
    throw std::system_error(detail::normalize_error(ec), "coreio::net: open udp socket" + where);
  u.impl_->sock.bind(ep, ec);
  if (ec)
    throw std::system_error(detail::normalize_error(ec), "coreio::net: bind udp socket" + where);
  return u;
}

task<void> udp_socket::connect(std::string host, std::uint16_t port) {
  if (!impl_) detail::throw_usage("coreio::net::udp_socket is not bound");
  std::vector<endpoint> eps = co_await resolve(host, port);
  const bool v6 = impl_->sock.local_endpoint().address().is_v6();
  std::error_code last = std::make_error_code(std::errc::address_family_not_supported);
  for (const endpoint& ep : eps) {
    asio::ip::address a = detail::parse_address(ep.address);
    if (a.is_v6() != v6) continue;
    last = co_await detail::udp_connect_awaiter(*impl_, asio::ip::udp::endpoint(a, ep.port));
    if (!last) co_return;
  }
  throw std::system_error(last, "coreio::net: udp connect to " + host + ":" + std::to_string(port));
}

udp_socket::send_awaiter::send_awaiter(udp_socket& s, std::span<const std::byte> data,
                                       const endpoint* to) {
  if (!s.impl_) detail::throw_usage("coreio::net::udp_socket is not bound");
  udp_socket_impl& u = *s.impl_;
  owner = u.owner;
  target = &u;
  abort_ctx = &u.send_sig;
  buf = const_cast<std::byte*>(data.data());
  len = data.size();
  if (to != nullptr) {
    to_ = *to;
    arg = &to_;
  }
  start = [](io_op* op) {
    auto* u = static_cast<udp_socket_impl*>(op->target);
    if (op->arg != nullptr) {
      const auto* to = static_cast<const endpoint*>(op->arg);
      asio::ip::udp::endpoint dest(detail::parse_address(to->address), to->port);
      u->sock.async_send_to(asio::buffer(op->buf, op->len), dest,
                            detail::io_handler(op, u->send_sig));
    } else {
      u->sock.async_send(asio::buffer(op->buf, op->len), detail::io_handler(op, u->send_sig));
    }
  };
  abort = &detail::abort_by_signal;
}

std::size_t udp_socket::send_awaiter::await_resume() {
  finish();
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: udp send");
  return bytes;
}

udp_socket::receive_awaiter::receive_awaiter(udp_socket& s, std::span<std::byte> b,
                                             bool connected) {
  if (!s.impl_) detail::throw_usage("coreio::net::udp_socket is not bound");
  udp_socket_impl& u = *s.impl_;
  owner = u.owner;
  target = &u;
  abort_ctx = &u.recv_sig;
  buf = b.data();
  len = b.size();
  arg = connected ? nullptr : &from_;
  start = [](io_op* op) {
    auto* u = static_cast<udp_socket_impl*>(op->target);
    u->sock.async_receive_from(asio::buffer(op->buf, op->len), u->recv_from,
                               detail::io_handler(op, u->recv_sig));
  };
  abort = &detail::abort_by_signal;
}

std::pair<std::size_t, endpoint> udp_socket::receive_awaiter::await_resume() {
  finish();
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: udp receive");
  auto* u = static_cast<udp_socket_impl*>(target);
  // The handler ran in a loop step and resumed us through a queue hand-off: recv_from is settled.
  from_ = detail::to_endpoint(u->recv_from.address(), u->recv_from.port());
  return {bytes, from_};
}

udp_socket::send_awaiter udp_socket::send_to(std::span<const std::byte> data, const endpoint& to) {
  return send_awaiter(*this, data, &to);
}
udp_socket::send_awaiter udp_socket::send(std::span<const std::byte> data) {
  return send_awaiter(*this, data, nullptr);
}
udp_socket::receive_awaiter udp_socket::receive_from(std::span<std::byte> buf) {
  return receive_awaiter(*this, buf, false);
}
udp_socket::receive_awaiter udp_socket::receive(std::span<std::byte> buf) {
  return receive_awaiter(*this, buf, true);
}

std::uint16_t udp_socket::port() const { return local_endpoint().port; }

endpoint udp_socket::local_endpoint() const {
  if (!impl_) detail::throw_usage("coreio::net::udp_socket is not bound");
  auto ep = impl_->sock.local_endpoint();
  return detail::to_endpoint(ep.address(), ep.port());
}

void udp_socket::close() noexcept {
  if (!impl_) return;
  udp_socket_impl* u = impl_.get();
  // Release pairs with is_open()'s acquire load.
  u->closed.store(true, std::memory_order_release);
  try {
    detail::on_loop(u->owner, [u] {
      std::error_code ec;
      u->sock.close(ec);
    });
  } catch (...) {
  }
}

bool udp_socket::is_open() const noexcept {
  if (!impl_ || impl_->closed.load(std::memory_order_acquire)) return false;
  // Only the owner's loop steps change the descriptor: read it only under the loop token.
  return detail::read_on_loop(impl_->owner, [this] { return impl_->sock.is_open(); }, true);
}

}  // namespace coreio::net
