// net/tcp.cpp — tcp_stream (connecting by name or address, endpoints, TCP_NODELAY) and
// tcp_listener. Reading and writing are net::stream's (stream.cpp); the race between addresses is
// happy_eyeballs.cpp.
#include <coreio/net/resolve.hpp>
#include <coreio/net/tcp_listener.hpp>
#include <coreio/net/tcp_stream.hpp>

#include <asio/ip/tcp.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>

#include "net/happy_eyeballs.hpp"
#include "net/io.hpp"
#include "net/sockets.hpp"
#include "runtime_impl.hpp"

namespace coreio::net {

using detail::generic_stream;

tcp_stream::tcp_stream() noexcept = default;
tcp_stream::tcp_stream(tcp_stream&&) noexcept = default;
tcp_stream& tcp_stream::operator=(tcp_stream&&) noexcept = default;
tcp_stream::~tcp_stream() = default;
tcp_stream::tcp_stream(detail::stream_socket_ptr impl) noexcept : stream(std::move(impl)) {}

task<tcp_stream> tcp_stream::connect(std::string host, std::uint16_t port,
                                     connect_options options) {
  detail::require_worker("tcp_stream::connect outside a runtime");
  if (options.happy_eyeballs_delay.count() <= 0) {
    throw std::invalid_argument("coreio::net: connect_options.happy_eyeballs_delay must be > 0");
  }
  const std::vector<endpoint> found = co_await resolve(host, port);
  std::vector<generic_stream::endpoint> eps;
  eps.reserve(found.size());
  for (const endpoint& e : found) {
    const asio::ip::tcp::endpoint ip(detail::parse_address(e.address), e.port);
    eps.emplace_back(ip);
  }
  const std::string where = "coreio::net: connect to " + host + ":" + std::to_string(port);
  detail::stream_socket_ptr s;
  std::error_code failed;
  if (eps.size() == 1) {
    // One address: no race, no task. With on_worker -1 the socket belongs to the worker running
    // us now (after the lookup, perhaps not the one connect started on).
    s = detail::open_stream_socket(detail::worker_for(options.on_worker, detail::this_worker()),
                                   eps[0].protocol(), where.c_str());
    failed = co_await detail::connect_op(*s, eps[0]);
  } else {
    try {
      s = co_await detail::happy_eyeballs_connect(detail::interleave_families(std::move(eps)),
                                                  options.happy_eyeballs_delay, options.on_worker);
    } catch (const std::system_error& e) {
      failed = e.code();
    }
  }
  if (failed) throw std::system_error(failed, where);
  co_return tcp_stream(std::move(s));
}

task<tcp_stream> tcp_stream::connect(endpoint ep) {
  // A numeric address resolves without a thread or a race.
  return connect(std::move(ep.address), ep.port);
}

endpoint tcp_stream::local_endpoint() const {
  return detail::to_endpoint(impl().sock.local_endpoint());
}

endpoint tcp_stream::remote_endpoint() const {
  return detail::to_endpoint(impl().sock.remote_endpoint());
}

void tcp_stream::set_nodelay(bool on) {
  detail::stream_socket_impl* s = &impl();
  detail::on_loop(s->owner, [s, on] {
    std::error_code ec;
    s->sock.set_option(asio::ip::tcp::no_delay(on), ec);
  });
}

// ---- tcp_listener -----------------------------------------------------------------------------

tcp_listener::tcp_listener() noexcept = default;
tcp_listener::tcp_listener(tcp_listener&&) noexcept = default;
tcp_listener& tcp_listener::operator=(tcp_listener&&) noexcept = default;
// Closing first frees the port now when this worker can take the owner's loop token (the deletion
// is posted), as asyncio's Server.close() and a dropped asio acceptor do: a bind of the same port
// right after, or a connect to it (refused), sees it closed.
tcp_listener::~tcp_listener() { close(); }

tcp_listener tcp_listener::bind(const std::string& host, std::uint16_t port, listen_options o) {
  detail::worker* w = detail::require_worker("tcp_listener::bind outside a runtime");
  const asio::ip::address addr = detail::parse_bind_address(host);
  std::error_code ec;
  tcp_listener l;
  l.impl_.reset(new detail::acceptor_impl(w));
  auto& acc = l.impl_->acc;
  const generic_stream::endpoint ep{asio::ip::tcp::endpoint(addr, port)};
  const std::string where = " on " + host + ":" + std::to_string(port);
  acc.open(ep.protocol(), ec);
  if (ec)
    throw std::system_error(detail::normalize_error(ec), "coreio::net: open listener" + where);
  if (o.reuse_address) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (o.reuse_port) {
    int one = 1;
    if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      throw std::system_error(errno, std::generic_category(), "coreio::net: SO_REUSEPORT" + where);
    }
  }
  acc.bind(ep, ec);
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: bind" + where);
  l.impl_->listen(ep.protocol(), o.backlog, where);
  return l;
}

tcp_listener::accept_awaiter::accept_awaiter(tcp_listener& l, int target_worker)
    : detail::accept_op(l.impl_.get(), target_worker,
                        "coreio::net::tcp_listener is not bound (default or moved from)") {}

tcp_stream tcp_listener::accept_awaiter::await_resume() { return tcp_stream(take()); }

tcp_listener::accept_awaiter tcp_listener::accept() { return accept_awaiter(*this, -1); }
tcp_listener::accept_awaiter tcp_listener::accept_on(int target) {
  return accept_awaiter(*this, target);
}

std::uint16_t tcp_listener::port() const { return local_endpoint().port; }

endpoint tcp_listener::local_endpoint() const {
  if (!impl_) detail::throw_usage("coreio::net::tcp_listener is not bound");
  return detail::to_endpoint(impl_->acc.local_endpoint());
}

void tcp_listener::close() noexcept {
  if (impl_) impl_->close();
}

bool tcp_listener::is_open() const noexcept { return impl_ && impl_->is_open(); }

}  // namespace coreio::net
