// coreio/net/tcp_stream.hpp — a connected TCP stream (asyncio.open_connection's reader + writer).
//
// The reading, writing, cancellation and buffering rules are net::stream's (stream.hpp); this
// adds connecting by name or address, the two endpoints and TCP_NODELAY.
//
// Connecting by name resolves the host (resolve.hpp: on the resolver's threads, cancellable at
// once) and then races the addresses as Happy Eyeballs (RFC 8305) does: the addresses are
// interleaved by family starting with the first one the resolver returned (so IPv6 and IPv4
// alternate), one attempt starts, and each further attempt starts when the one before has failed
// or `connect_options::happy_eyeballs_delay` (250 ms) has passed without an answer, whichever comes
// first. The first attempt to connect wins; the others are cancelled, connect waits for them to
// end, and their sockets are closed on their worker's loop right after. So an address family that
// does not answer at all (SYNs dropped) costs one delay, not a connect timeout.
//
// Thread safety: as net::stream. Must not outlive its runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <coreio/net/endpoint.hpp>
#include <coreio/net/stream.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

class tcp_listener;

/// How tcp_stream::connect tries a host's addresses.
struct connect_options {
  /// Happy Eyeballs' "Connection Attempt Delay" (RFC 8305 section 5): how long an attempt runs
  /// alone before the next address is tried as well. The RFC recommends 250 ms and at least 100 ms
  /// (10 ms is its floor). Must be > 0 (std::invalid_argument otherwise).
  std::chrono::milliseconds happy_eyeballs_delay{250};
  /// The worker whose event loop the socket lives on (modulo the worker count), as
  /// tcp_listener::accept_on(i) places an accepted one; -1: the worker running connect when the
  /// socket is opened (after the lookup). Any worker may await the stream's operations either way
  /// (stream.hpp): this only picks the loop that waits for its readiness. http::client puts its
  /// connections on one loop this way, as net::serve does with a listener's.
  int on_worker = -1;
};

class tcp_stream : public stream {
 public:
  tcp_stream() noexcept;
  tcp_stream(tcp_stream&&) noexcept;
  tcp_stream& operator=(tcp_stream&&) noexcept;
  ~tcp_stream();

  /// Resolves host (a name or a numeric address) and connects to one of its addresses, racing them
  /// as described at the top of this file. Throws std::system_error naming host:port (connection
  /// refused, unreachable, host not found: the last attempt's error), std::invalid_argument for
  /// bad options; cancellable at any point (resolution included). Worker only (usage_error).
  static task<tcp_stream> connect(std::string host, std::uint16_t port,
                                  connect_options options = {});
  /// Connects to one numeric address.
  static task<tcp_stream> connect(endpoint ep);

  endpoint local_endpoint() const;
  endpoint remote_endpoint() const;
  /// TCP_NODELAY: send small writes at once instead of coalescing them (Nagle).
  void set_nodelay(bool on);

 private:
  friend class tcp_listener;
  explicit tcp_stream(detail::stream_socket_ptr impl) noexcept;
};

}  // namespace coreio::net
