// coreio/net/endpoint.hpp — an IP address and port. The stream errors of coreio::net
// (incomplete_read_error, limit_overrun_error) live in coreio/errors.hpp, included here.
//
// Thread safety: distinct objects: safe. Shared objects: safe for const use.
#pragma once

#include <cstdint>
#include <string>

#include <coreio/errors.hpp>

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
    return is_v6() ? "[" + address + "]:" + std::to_string(port)
                   : address + ":" + std::to_string(port);
  }
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

}  // namespace coreio::net
