// coreio/net/tcp_stream.hpp — a connected TCP stream (asyncio.open_connection's reader + writer).
//
// The reading, writing, cancellation and buffering rules are net::stream's (stream.hpp); this
// adds connecting by name or address, the two endpoints and TCP_NODELAY.
//
// Thread safety: as net::stream. Must not outlive its runtime.
#pragma once

#include <cstdint>
#include <string>

#include <coreio/net/endpoint.hpp>
#include <coreio/net/stream.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

class tcp_listener;

class tcp_stream : public stream {
 public:
  tcp_stream() noexcept;
  tcp_stream(tcp_stream&&) noexcept;
  tcp_stream& operator=(tcp_stream&&) noexcept;
  ~tcp_stream();

  /// Resolves host (a name or a numeric address), tries each address in turn, returns the first
  /// connection made. Throws std::system_error naming host:port (connection refused, unreachable,
  /// host not found: the last attempt's error). Worker only (usage_error).
  static task<tcp_stream> connect(std::string host, std::uint16_t port);
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
