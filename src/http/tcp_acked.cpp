// src/http/tcp_acked.cpp — tcp_bytes_acked (tcp_acked.hpp).
#include "http/tcp_acked.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cstddef>

namespace coreio::http::detail {

std::optional<std::uint64_t> tcp_bytes_acked(int fd) noexcept {
  struct tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return std::nullopt;
  // An older kernel fills less of the struct: the field is there only if len reaches past it.
  if (len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked) {
    return std::nullopt;
  }
  return info.tcpi_bytes_acked;
}

}  // namespace coreio::http::detail
