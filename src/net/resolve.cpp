// net/resolve.cpp — resolve(): numeric addresses directly, names through Asio's resolver (which
// runs getaddrinfo on its own thread and completes on the calling worker's loop).
#include <coreio/net/resolve.hpp>

#include <asio/ip/tcp.hpp>

#include "net/io.hpp"
#include "net/sockets.hpp"

namespace coreio::net {

namespace {

class resolve_awaiter : public detail::io_awaiter {
 public:
  // Points into itself (arg / target): never moved.
  resolve_awaiter(resolve_awaiter&&) = delete;
  resolve_awaiter(detail::worker* w, const std::string& host, std::uint16_t port)
      : resolver_(w->io()), host_(host), service_(std::to_string(port)) {
    owner = w;
    target = this;
    start = [](detail::io_op* op) {
      auto* self = static_cast<resolve_awaiter*>(op->target);
      self->resolver_.async_resolve(
          self->host_, self->service_,
          [op, self](const std::error_code& ec, asio::ip::tcp::resolver::results_type r) {
            if (!ec) {
              for (const auto& e : r) {
                self->out_.push_back(detail::to_endpoint(e.endpoint().address(), e.endpoint().port()));
              }
            }
            detail::io_complete(op, ec, 0);
          });
    };
    abort = [](detail::io_op* op) { static_cast<resolve_awaiter*>(op->target)->resolver_.cancel(); };
  }
  std::vector<endpoint> await_resume() {
    finish();
    if (ec) throw std::system_error(ec, "coreio::net: resolve '" + host_ + "'");
    if (out_.empty()) {
      throw std::system_error(std::make_error_code(std::errc::address_not_available),
                              "coreio::net: resolve '" + host_ + "': no addresses");
    }
    return std::move(out_);
  }

 private:
  asio::ip::tcp::resolver resolver_;
  std::string host_, service_;
  std::vector<endpoint> out_;
};

}  // namespace

task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port) {
  detail::worker* w = detail::require_worker("coreio::net::resolve outside a runtime");
  std::error_code ec;
  asio::ip::address a = asio::ip::make_address(host, ec);
  if (!ec) co_return std::vector<endpoint>{detail::to_endpoint(a, port)};
  co_return co_await resolve_awaiter(w, host, port);
}

}  // namespace coreio::net
