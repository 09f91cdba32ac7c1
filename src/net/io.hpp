// net/io.hpp — what the socket implementations share: completing an io_op from an asio handler.
#pragma once

#include <coreio/detail/io_op.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>

#include <cstddef>
#include <system_error>

namespace coreio::detail {

/// Stores the results and resumes the waiter unless a queued cancel step will. Owner thread.
void io_complete(io_op* op, const std::error_code& ec, std::size_t bytes) noexcept;

/// A completion handler bound to `sig` (so that sig.emit aborts the operation) that completes op.
inline auto io_handler(io_op* op, asio::cancellation_signal& sig) {
  return asio::bind_cancellation_slot(
      sig.slot(), [op](const std::error_code& ec, std::size_t n) { io_complete(op, ec, n); });
}

/// abort for operations bound to the signal at op->abort_ctx.
inline void abort_by_signal(io_op* op) {
  static_cast<asio::cancellation_signal*>(op->abort_ctx)->emit(asio::cancellation_type::terminal);
}

}  // namespace coreio::detail
