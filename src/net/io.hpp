// net/io.hpp — what the socket implementations share: completing an io_op from an asio handler.
#pragma once

#include <coreio/detail/io_op.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/error.hpp>

#include <cstddef>
#include <system_error>

namespace coreio::detail {

/// Asio reports OS errors in its own category, which compares equal to neither std::errc nor
/// std::system_category codes; users (and io_awaiter::finish) compare with std::errc. Map Asio's
/// system category to std::system_category, and an abort to std::errc::operation_canceled.
inline std::error_code normalize_error(const std::error_code& ec) noexcept {
  if (!ec) return ec;
  if (ec == asio::error::operation_aborted)
    return std::make_error_code(std::errc::operation_canceled);
  if (ec.category() == asio::error::get_system_category())
    return {ec.value(), std::system_category()};
  return ec;
}

/// Stores the results and resumes the waiter unless a queued cancel step will. A loop step.
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
