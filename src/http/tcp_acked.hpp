// src/http/tcp_acked.hpp — the bytes a TCP peer has acknowledged on a socket (Linux TCP_INFO's
// tcpi_bytes_acked, RFC 4898's tcpEStatsAppHCThruOctetsAcked): how the server's send deadline sees
// a client take bytes while a write stays blocked (server_connection.cpp, "Send deadline").
//
// Its own file: <linux/tcp.h>, which has the field, cannot be included beside <netinet/tcp.h>
// (Asio's).
#pragma once

#include <cstdint>
#include <optional>

namespace coreio::http::detail {

/// The count for descriptor fd, or nullopt if the kernel gives none (not a TCP socket, closed).
/// Any thread; no effect on the socket.
std::optional<std::uint64_t> tcp_bytes_acked(int fd) noexcept;

}  // namespace coreio::http::detail
