// net/unix.cpp — unix_stream and unix_listener: Unix domain stream sockets on the shared stream
// and listener implementation (stream.cpp, listener.cpp); only addressing is specific: paths, the
// stale socket file a dead server left behind, and removing ours on close.
#include <coreio/net/unix_listener.hpp>
#include <coreio/net/unix_stream.hpp>

#include <asio/local/stream_protocol.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <stdexcept>

#include "net/io.hpp"
#include "net/sockets.hpp"
#include "runtime_impl.hpp"

namespace coreio::detail {
namespace {

/// Longest path sun_path holds with its terminator.
constexpr std::size_t k_max_path = sizeof(sockaddr_un::sun_path) - 1;

const generic_stream& unix_protocol() {
  static const generic_stream p(AF_UNIX, 0);
  return p;
}

/// The address of path; std::invalid_argument (empty) or std::system_error (too long) naming it.
generic_stream::endpoint unix_endpoint(const std::string& path, const char* what) {
  if (path.empty())
    throw std::invalid_argument(std::string("coreio::net: ") + what + ": empty unix socket path");
  if (path.size() > k_max_path) {
    throw std::system_error(std::make_error_code(std::errc::filename_too_long),
                            std::string("coreio::net: ") + what +
                                ": unix socket path longer than " + std::to_string(k_max_path) +
                                " bytes: '" + path + "'");
  }
  return generic_stream::endpoint(asio::local::stream_protocol::endpoint(path));
}

/// The path in a generic endpoint holding a sockaddr_un ("" if unnamed or not AF_UNIX).
std::string path_of(const generic_stream::endpoint& ep) {
  const sockaddr* sa = ep.data();
  const std::size_t off = offsetof(sockaddr_un, sun_path);
  if (sa->sa_family != AF_UNIX || ep.size() <= off) return {};
  const char* p = reinterpret_cast<const sockaddr_un*>(sa)->sun_path;
  std::size_t n = ep.size() - off;
  if (p[0] != '\0') {
    // A filesystem name: up to its terminator (the kernel may report the padding too).
    std::size_t len = 0;
    while (len < n && p[len] != '\0') ++len;
    n = len;
  }
  return std::string(p, n);
}

/// True if a socket file at path has nobody listening on it (connecting is refused).
bool is_stale_socket(const std::string& path, const generic_stream::endpoint& ep) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int r = ::connect(fd, ep.data(), static_cast<socklen_t>(ep.size()));
  const int err = errno;
  ::close(fd);
  return r != 0 && err == ECONNREFUSED;
}

}  // namespace
}  // namespace coreio::detail

namespace coreio::net {

using detail::generic_stream;

// ---- unix_stream ------------------------------------------------------------------------------

unix_stream::unix_stream() noexcept = default;
unix_stream::unix_stream(unix_stream&&) noexcept = default;
unix_stream& unix_stream::operator=(unix_stream&&) noexcept = default;
unix_stream::~unix_stream() = default;
unix_stream::unix_stream(detail::stream_socket_ptr impl) noexcept : stream(std::move(impl)) {}

task<unix_stream> unix_stream::connect(std::string path) {
  detail::worker* w = detail::require_worker("unix_stream::connect outside a runtime");
  const generic_stream::endpoint ep = detail::unix_endpoint(path, "connect");
  const std::string where = "coreio::net: connect to unix socket '" + path + "'";
  detail::stream_socket_ptr s =
      detail::open_stream_socket(w, detail::unix_protocol(), where.c_str());
  std::error_code ec = co_await detail::connect_op(*s, ep);
  if (!ec) {
    // A listener whose backlog is full makes a non-blocking connect fail with EAGAIN, which Asio
    // takes for "in progress": it then reports success on an unconnected socket. Say what happened.
    std::error_code peer;
    (void)s->sock.remote_endpoint(peer);
    if (peer) ec = std::make_error_code(std::errc::resource_unavailable_try_again);
  }
  if (ec) throw std::system_error(ec, where);
  co_return unix_stream(std::move(s));
}

std::string unix_stream::local_path() const {
  return detail::path_of(impl().sock.local_endpoint());
}

std::string unix_stream::remote_path() const {
  return detail::path_of(impl().sock.remote_endpoint());
}

// ---- unix_listener ----------------------------------------------------------------------------

unix_listener::unix_listener() noexcept = default;
unix_listener::unix_listener(unix_listener&&) noexcept = default;
unix_listener& unix_listener::operator=(unix_listener&&) noexcept = default;
// Closing first removes the socket file now when this worker can take the owner's loop token
// (the deletion is posted).
unix_listener::~unix_listener() { close(); }

unix_listener unix_listener::bind(const std::string& path, unix_listen_options o) {
  detail::worker* w = detail::require_worker("unix_listener::bind outside a runtime");
  const generic_stream::endpoint ep = detail::unix_endpoint(path, "bind");
  const std::string where = " on unix socket '" + path + "'";
  const bool in_filesystem = path[0] != '\0';
  unix_listener l;
  l.impl_.reset(new detail::acceptor_impl(w));
  detail::acceptor_impl& a = *l.impl_;
  std::error_code ec;
  a.acc.open(detail::unix_protocol(), ec);
  if (ec)
    throw std::system_error(detail::normalize_error(ec), "coreio::net: open listener" + where);
  if (in_filesystem && o.replace_stale && detail::is_stale_socket(path, ep)) ::unlink(path.c_str());
  a.acc.bind(ep, ec);
  if (ec) throw std::system_error(detail::normalize_error(ec), "coreio::net: bind" + where);
  a.path = path;
  if (in_filesystem && o.unlink_on_close) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) {
      a.unlink_path = path;
      a.unlink_dev = st.st_dev;
      a.unlink_ino = st.st_ino;
    }
  }
  a.listen(detail::unix_protocol(), o.backlog, where);
  return l;
}

unix_listener::accept_awaiter::accept_awaiter(unix_listener& l, int target_worker)
    : detail::accept_op(l.impl_.get(), target_worker,
                        "coreio::net::unix_listener is not bound (default or moved from)") {}

unix_stream unix_listener::accept_awaiter::await_resume() { return unix_stream(take()); }

unix_listener::accept_awaiter unix_listener::accept() { return accept_awaiter(*this, -1); }
unix_listener::accept_awaiter unix_listener::accept_on(int target) {
  return accept_awaiter(*this, target);
}

std::string unix_listener::path() const {
  if (!impl_) detail::throw_usage("coreio::net::unix_listener is not bound");
  return impl_->path;
}

void unix_listener::close() noexcept {
  if (impl_) impl_->close();
}

bool unix_listener::is_open() const noexcept { return impl_ && impl_->is_open(); }

}  // namespace coreio::net
