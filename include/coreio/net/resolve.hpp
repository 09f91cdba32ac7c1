// coreio/net/resolve.hpp — name resolution (getaddrinfo on Asio's resolver thread).
//
// Thread safety: worker only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <coreio/net/endpoint.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

/// The addresses of host (IPv4 and IPv6) with port. Throws std::system_error naming the host if it
/// cannot be resolved. Cancellable.
task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port);

}  // namespace coreio::net
