// coreio/net/endpoint.hpp — an IP address and port, and the errors of coreio::net.
//
// Thread safety: distinct objects: safe. Shared objects: safe for const use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace coreio::net {

/// An IPv4 or IPv6 address (numeric text, e.g. "127.0.0.1" or "::1") and a port.
///
/// GCC 12 pitfall: do not build an endpoint as a temporary inside a co_await expression
/// (`co_await f(endpoint{...})`); GCC copies the temporary into the coroutine frame bitwise and its
/// string then frees a stack address. Name it first: `endpoint ep{...}; co_await f(ep);`.
struct endpoint {
  std::string address;
  std::uint16_t port = 0;

  bool is_v6() const noexcept { return address.find(':') != std::string::npos; }
  /// "127.0.0.1:80" or "[::1]:80".
  std::string to_string() const {
    return is_v6() ? "[" + address + "]:" + std::to_string(port) : address + ":" + std::to_string(port);
  }
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

/// read_exact: the stream ended before the buffer was full. The first bytes_read() bytes of the
/// buffer hold what did arrive.
class incomplete_read_error : public std::runtime_error {
 public:
  incomplete_read_error(std::size_t got, std::size_t wanted)
      : std::runtime_error("coreio::net: stream ended after " + std::to_string(got) + " of " +
                           std::to_string(wanted) + " bytes"),
        got_(got),
        wanted_(wanted) {}
  std::size_t bytes_read() const noexcept { return got_; }
  std::size_t bytes_wanted() const noexcept { return wanted_; }

 private:
  std::size_t got_, wanted_;
};

/// read_until: no delimiter within `max` bytes. The bytes stay buffered in the stream: a later
/// read returns them.
class limit_overrun_error : public std::runtime_error {
 public:
  explicit limit_overrun_error(std::size_t max)
      : std::runtime_error("coreio::net: no delimiter within " + std::to_string(max) + " bytes"),
        max_(max) {}
  std::size_t limit() const noexcept { return max_; }

 private:
  std::size_t max_;
};

}  // namespace coreio::net
