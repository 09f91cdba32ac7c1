// coreio/detail/net_io.hpp — what the public socket headers (net/stream.hpp, net/tcp_listener.hpp,
// net/unix_listener.hpp) need to name of the socket machinery in src/net: the opaque
// implementation objects and their deleters, the per-direction claim of a stream, and the accept
// operation shared by every listener. Users never name any of it.
//
// A stream's implementation (src/net/sockets.hpp, stream_socket_impl) holds one socket of any
// stream protocol (TCP, Unix domain: Asio's generic stream protocol), its read buffer and the
// cancellation signals; an acceptor's (acceptor_impl) one listening socket. Both live on the event
// loop of their owner worker and are destroyed there (destroy_* hand the deletion to that loop).
#pragma once

#include <memory>

#include <coreio/detail/io_op.hpp>

namespace coreio::detail {

struct stream_socket_impl;
void destroy_stream_socket(stream_socket_impl*) noexcept;
struct stream_socket_deleter {
  void operator()(stream_socket_impl* p) const noexcept { destroy_stream_socket(p); }
};
using stream_socket_ptr = std::unique_ptr<stream_socket_impl, stream_socket_deleter>;

struct acceptor_impl;
void destroy_acceptor(acceptor_impl*) noexcept;
struct acceptor_deleter {
  void operator()(acceptor_impl* p) const noexcept { destroy_acceptor(p); }
};
using acceptor_ptr = std::unique_ptr<acceptor_impl, acceptor_deleter>;

/// What src/ may see of a stream beyond its public API (the owner worker, for serve()).
struct stream_access;

/// At most one read and one write in flight per stream: claims the direction or throws
/// usage_error. Any thread.
void stream_claim(stream_socket_impl* s, bool write);
void stream_unclaim(stream_socket_impl* s, bool write) noexcept;

/// How a stream's read_awaiter reads.
enum class read_mode : unsigned char {
  /// read_some: claims the read direction, serves buffered bytes first, else reads the socket.
  buffered,
  /// Inside read_exact / read_until, which hold the claim and manage the buffer themselves: reads
  /// the socket straight into the given span.
  raw,
  /// A readiness wait (src/ only, stream_access::wait_readable): claims the read direction and
  /// reads nothing; ends at once if bytes are buffered or the socket may be readable, else when it
  /// becomes readable (bytes, end of stream or an error: the next read reports which). Its span is
  /// empty, and only this mode takes an empty span to the socket.
  readable,
};

/// The accept operation of a listener: accepts one connection onto the event loop of `target` (a
/// worker index, taken modulo the worker count; -1: the listener's own worker). The listener's
/// public accept_awaiter
/// wraps it and gives the socket its protocol's stream type.
class accept_op : public io_awaiter {
 public:
  /// usage_error if a is null (a default-constructed or moved-from listener), naming `what`.
  accept_op(acceptor_impl* a, int target, const char* what);
  /// After the co_await: the accepted socket, or std::system_error (cancelled_error if cancelled).
  stream_socket_ptr take();
};

}  // namespace coreio::detail
