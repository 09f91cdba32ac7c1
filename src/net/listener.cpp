// net/listener.cpp — what every listener shares: the acceptor's clean-up (closing, removing a Unix
// domain socket file) and the accept operation (detail/net_io.hpp, accept_op).
//
// accept_op: accepts into a new socket bound to the target worker's io_context (accept(): the
// listener's own; accept_on(i): worker i), so that the connection's IO runs there, wrapped in a
// stream_socket_impl owned by that worker and stored in the op's `arg` until take() adopts it.
//   - Fast path (try_accept, io_op::try_now, a loop step of the listener's loop): one accept4 on
//     the non-blocking listening descriptor. A connection already queued is taken at once, without
//     a trip through the loop and the run queue; so an accept loop drains a burst of connections in
//     one poll, up to the poll's budget (coop.hpp; Tokio's accept loop does the same), instead of
//     one connection per pass through every ready task. Anything but a connection (would block,
//     an aborted connection, out of descriptors) leaves the op to the slow path, which reports it.
//   - Slow path: Asio's async_accept on the listener's loop; its handler wraps the socket.
// If the awaiter is cancelled after the handler ran, take() still adopts the socket before
// throwing, so it is closed rather than leaked.
#include <coreio/detail/net_io.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/io.hpp"
#include "net/sockets.hpp"
#include "runtime_impl.hpp"

namespace coreio::detail {

acceptor_impl::~acceptor_impl() { close_now(); }

void acceptor_impl::listen(const generic_stream& proto, int backlog, const std::string& where) {
  std::error_code ec;
  acc.listen(backlog, ec);
  if (!ec) acc.non_blocking(true, ec);  // Asio's async accept manages the mode itself either way
  if (ec) throw std::system_error(normalize_error(ec), "coreio::net: listen" + where);
  fd = acc.native_handle();
  family = proto.family();
  protocol = proto.protocol();
}

void acceptor_impl::close_now() noexcept {
  std::error_code ec;
  acc.close(ec);
  if (unlink_path.empty()) return;
  // Only the file this listener bound: another listener may have replaced it meanwhile.
  struct stat st{};
  if (::lstat(unlink_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == unlink_dev &&
      st.st_ino == unlink_ino) {
    ::unlink(unlink_path.c_str());
  }
  unlink_path.clear();
}

void acceptor_impl::close() noexcept {
  // Release pairs with is_open()'s acquire load.
  closed.store(true, std::memory_order_release);
  try {
    on_loop(owner, [this] { close_now(); });
  } catch (...) {
  }
}

bool acceptor_impl::is_open() const noexcept {
  if (closed.load(std::memory_order_acquire)) return false;
  // Only the owner's loop steps change the descriptor: read it only under the loop token.
  return read_on_loop(owner, [this] { return acc.is_open(); }, true);
}

void destroy_acceptor(acceptor_impl* p) noexcept { destroy_on_owner(p); }

namespace {

// The fast path (the file comment). A loop step of the listener's loop, before the op is armed.
bool try_accept(io_op* op) {
  auto* a = static_cast<acceptor_impl*>(op->target);
  auto* peer = static_cast<worker*>(op->buf);
  // Acquire: pairs with close()'s release store. Closed, or its close step not run yet: nothing
  // is taken from a listener whose close() has returned; the slow path reports the closed one.
  if (a->closed.load(std::memory_order_acquire) || !a->acc.is_open()) return false;
  const int fd = ::accept4(a->acc.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return false;
  try {
    generic_stream::socket s(peer->io());
    std::error_code ec;
    s.assign(generic_stream(a->family, a->protocol), fd, ec);  // registers fd with peer's reactor
    if (ec) {
      ::close(fd);
      op->ec = ec;
    } else {
      op->arg = new stream_socket_impl(peer, std::move(s));  // on a throw, ~socket closes fd
      op->ec = {};
    }
  } catch (...) {
    op->ec = std::make_error_code(std::errc::not_enough_memory);
  }
  op->bytes = 0;
  return true;
}

}  // namespace

accept_op::accept_op(acceptor_impl* a, int target_worker, const char* what) {
  if (a == nullptr) throw_usage(what);
  owner = a->owner;
  target = a;
  abort_ctx = &a->sig;
  site = &wait_sites::socket_accept;
  wait_arg = a->fd;
  buf = worker_for(target_worker, a->owner);
  try_now = &try_accept;
  start = [](io_op* op) {
    auto* a = static_cast<acceptor_impl*>(op->target);
    auto* peer = static_cast<worker*>(op->buf);
    a->acc.async_accept(
        peer->io(),
        asio::bind_cancellation_slot(
            a->sig.slot(), [op, peer](const std::error_code& ec, generic_stream::socket s) {
              if (!ec) {
                try {
                  op->arg = new stream_socket_impl(peer, std::move(s));
                } catch (...) {
                  io_complete(op, std::make_error_code(std::errc::not_enough_memory), 0);
                  return;
                }
              }
              io_complete(op, ec, 0);
            }));
  };
  abort = &abort_by_signal;
}

stream_socket_ptr accept_op::take() {
  stream_socket_ptr s(static_cast<stream_socket_impl*>(const_cast<void*>(arg)));
  finish();
  if (ec) throw std::system_error(normalize_error(ec), "coreio::net: accept");
  return s;
}

}  // namespace coreio::detail
