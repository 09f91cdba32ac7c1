// net/resolve.cpp — resolve(): numeric addresses on the calling worker, names on the resolver pool
// (resolver_pool.hpp), awaited through a future so that a cancel stops the wait at once.
#include <coreio/net/resolve.hpp>

#include <asio/ip/address.hpp>

#include <memory>

#include "net/io.hpp"
#include "net/resolver_pool.hpp"
#include "net/sockets.hpp"

namespace coreio::detail {
namespace {

/// Marks the lookup abandoned when the awaiting task leaves resolve without its result, so that a
/// lookup still queued is skipped (resolver_pool.hpp).
class abandon_on_exit {
 public:
  explicit abandon_on_exit(lookup* l) noexcept : l_(l) {}
  ~abandon_on_exit() {
    // Relaxed: see lookup::abandoned.
    if (l_ != nullptr) l_->abandoned.store(true, std::memory_order_relaxed);
  }
  void release() noexcept { l_ = nullptr; }
  abandon_on_exit(const abandon_on_exit&) = delete;
  abandon_on_exit& operator=(const abandon_on_exit&) = delete;

 private:
  lookup* l_;
};

}  // namespace
}  // namespace coreio::detail

namespace coreio::net {

task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port) {
  detail::require_worker("coreio::net::resolve outside a runtime");
  detail::check_host_text(host);
  std::error_code ec;
  const asio::ip::address a = asio::ip::make_address(host, ec);
  if (!ec) co_return std::vector<endpoint>{detail::to_endpoint(a, port)};  // numeric: no thread
  auto l = std::make_shared<detail::lookup>(std::move(host), port);
  future<std::vector<endpoint>> result = l->result.get_future();
  detail::abandon_on_exit guard(l.get());
  detail::resolver_pool::instance().submit(l);
  std::vector<endpoint> eps = co_await result;
  guard.release();
  co_return eps;
}

}  // namespace coreio::net
