// coreio/net/udp_socket.hpp — a UDP socket on the event loop of the worker that made it.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe. Must not outlive its runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include <coreio/detail/io_op.hpp>
#include <coreio/net/endpoint.hpp>
#include <coreio/task.hpp>

namespace coreio::detail {
struct udp_socket_impl;
void destroy_udp_socket(udp_socket_impl*) noexcept;
struct udp_socket_deleter {
  void operator()(udp_socket_impl* p) const noexcept { destroy_udp_socket(p); }
};
}  // namespace coreio::detail

namespace coreio::net {

class udp_socket {
 public:
  udp_socket() noexcept;
  udp_socket(udp_socket&&) noexcept;
  udp_socket& operator=(udp_socket&&) noexcept;
  /// Closes the socket (at once when the owner's loop token can be taken here; else at the owner's
  /// next loop step), then frees it.
  ~udp_socket();

  /// Binds to host:port (port 0: any free port). host as tcp_listener::bind's: a numeric address
  /// or "localhost" in any case. Throws std::system_error. Worker only.
  static udp_socket bind(const std::string& host, std::uint16_t port);

  /// Sets the default peer for send/receive (and filters datagrams from others). Worker only.
  task<void> connect(std::string host, std::uint16_t port);

  class send_awaiter;
  class receive_awaiter;

  /// Sends one datagram to `to`; returns the bytes sent.
  send_awaiter send_to(std::span<const std::byte> data, const endpoint& to);
  /// Sends one datagram to the connected peer.
  send_awaiter send(std::span<const std::byte> data);
  /// Receives one datagram into buf (truncated to buf's size); returns its size and sender.
  receive_awaiter receive_from(std::span<std::byte> buf);
  /// Receives one datagram from the connected peer; .first is the size.
  receive_awaiter receive(std::span<std::byte> buf);

  std::uint16_t port() const;
  endpoint local_endpoint() const;
  void close() noexcept;
  bool is_open() const noexcept;

  class send_awaiter : detail::io_awaiter {
   public:
    send_awaiter(udp_socket& s, std::span<const std::byte> data, const endpoint* to);
    using detail::io_awaiter::await_ready;
    using detail::io_awaiter::await_suspend;
    std::size_t await_resume();

   private:
    endpoint to_;
  };

  class receive_awaiter : detail::io_awaiter {
   public:
    receive_awaiter(udp_socket& s, std::span<std::byte> buf, bool connected);
    using detail::io_awaiter::await_ready;
    using detail::io_awaiter::await_suspend;
    std::pair<std::size_t, endpoint> await_resume();

   private:
    endpoint from_;
  };

 private:
  std::unique_ptr<detail::udp_socket_impl, detail::udp_socket_deleter> impl_;
};

}  // namespace coreio::net
