// net/sockets.hpp — the implementation objects behind tcp_stream, tcp_listener and udp_socket.
//
// Each holds an asio socket bound to its owner worker's io_context and one cancellation signal
// per direction (a stream has at most one read and one write outstanding). Owner thread only,
// except `owner`, which is immutable.
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/post.hpp>

#include <coreio/net/endpoint.hpp>
#include <coreio/net/tcp_stream.hpp>

#include "runtime_impl.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

struct tcp_socket_impl {
  tcp_socket_impl(worker* w, asio::ip::tcp::socket s) : owner(w), sock(std::move(s)) {
    // Non-blocking for the synchronous fast path (io_op::try_now); Asio's async operations manage
    // the descriptor's mode themselves either way.
    std::error_code ec;
    if (sock.is_open()) sock.non_blocking(true, ec);
  }
  worker* const owner;
  asio::ip::tcp::socket sock;
  asio::cancellation_signal read_sig, write_sig;
  // Set by close() on any thread before the close is handed to the owner's loop, so that is_open()
  // is false at once and never reads sock from a thread that is not the owner.
  std::atomic<bool> closed{false};
  // A read / a write is in flight (tcp_claim). Any thread, RMW; acq_rel hands the direction over.
  std::atomic<bool> reading{false}, writing{false};
};

struct tcp_acceptor_impl {
  explicit tcp_acceptor_impl(worker* w) : owner(w), acc(w->io()) {}
  worker* const owner;
  asio::ip::tcp::acceptor acc;
  asio::cancellation_signal sig;
  // As tcp_socket_impl::closed.
  std::atomic<bool> closed{false};
};

struct udp_socket_impl {
  explicit udp_socket_impl(worker* w) : owner(w), sock(w->io()) {}
  worker* const owner;
  asio::ip::udp::socket sock;
  asio::cancellation_signal send_sig, recv_sig;
  // As tcp_socket_impl::closed.
  std::atomic<bool> closed{false};
  // Sender of the datagram being received (one receive outstanding at a time).
  asio::ip::udp::endpoint recv_from;
};

/// What src/ may see of a tcp_stream beyond its public API.
struct stream_access {
  static worker* owner(const net::tcp_stream& s) noexcept { return s.impl_->owner; }
};

/// The calling worker, or usage_error naming `what` on a thread that is not a worker.
worker* require_worker(const char* what);

/// Runs f on w's thread: inline if called there, else posted (fire and forget).
template <class F>
void on_owner(worker* w, F&& f) {
  if (this_worker() == w) f();
  else w->post(std::forward<F>(f));
}

/// Deletes an IO object on its owner's thread (Asio objects are not thread-safe): inline when called
/// there, else posted. If the post itself fails (out of memory), deletes here: with no operation
/// pending, closing from another thread is still safe.
template <class Impl>
void destroy_on_owner(Impl* p) noexcept {
  if (p == nullptr) return;
  // Always through the owner's loop, even on the owner: a close() queued there earlier from another
  // worker holds p and must run first (the loop runs posts in order). A worker polls pending posts
  // before it stops, so this runs during shutdown too.
  try {
    p->owner->post([p] { delete p; });
  } catch (...) {
    delete p;
  }
}

inline net::endpoint to_endpoint(const asio::ip::address& a, unsigned short port) {
  return net::endpoint{a.to_string(), port};
}

/// Parses ep.address as a numeric address; throws std::system_error naming it otherwise.
asio::ip::address parse_address(const std::string& text);

}  // namespace coreio::detail
