// coreio/net/resolve.hpp — name resolution (asyncio's loop.getaddrinfo).
//
// A numeric host (an IPv4 or IPv6 literal) is parsed on the calling worker and needs no thread.
// A name is looked up with getaddrinfo on the resolver pool: plain threads shared by every runtime
// of the process, started on demand, at most resolver_max_lookups at once (further lookups queue,
// first come first served), each exiting after 10 s without work. getaddrinfo cannot be
// interrupted, so a cancelled lookup (the awaiting task cancelled, a wait_for timing out) stops
// the awaiting at once and is abandoned: it runs to its end on its thread and its result is
// dropped, or it is skipped if it had not started. A runtime's shutdown never waits for a lookup:
// the pool's threads belong to no runtime, and a lookup's end touches nothing but its own state
// once nobody awaits it. An abandoned lookup still holds its thread until getaddrinfo returns.
//
// Errors: std::system_error whose what() names the host. Its code is in resolve_category() with
// getaddrinfo's EAI_* value (<netdb.h>: EAI_NONAME "name not known", EAI_AGAIN "temporary failure",
// ...), except EAI_SYSTEM, which gives the errno in std::system_category(). A name with no address
// gives std::errc::address_not_available. A host holding a NUL byte gives
// std::errc::invalid_argument before any lookup (the C resolver would read only the part before it).
//
// Thread safety: resolve may only be called from a task running on a worker (usage_error).
// Memory ordering: nothing to say; the result is a value handed back by the co_await.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <coreio/net/endpoint.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

/// At most this many getaddrinfo calls run at once in the process (abandoned ones included).
inline constexpr std::size_t resolver_max_lookups = 16;

/// The addresses of host (IPv4 and IPv6, in getaddrinfo's order of preference: RFC 6724), each
/// with port; duplicates removed. Throws std::system_error naming the host if it cannot be
/// resolved. Cancellable at once.
///
/// Example:
///   std::vector<coreio::net::endpoint> eps = co_await coreio::net::resolve("localhost", 80);
task<std::vector<endpoint>> resolve(std::string host, std::uint16_t port);

/// The category of resolve's getaddrinfo errors (name "getaddrinfo"; values are EAI_* codes).
const std::error_category& resolve_category() noexcept;

}  // namespace coreio::net
