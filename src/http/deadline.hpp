// src/http/deadline.hpp — the phases of a client request, their deadlines, and the timeout error
// that names the phase which ran out.
//
// Up to the response head, the request's total deadline is its scope's (client.cpp), and a socket
// operation runs under the limit of its phase when that phase has a budget; reads of the body
// after request() returned run under the earliest of the total and the sock_read gap (a tie goes
// to the total). timed() awaits a task under a limit with coreio::wait_until, so the operation is
// cancelled and has unwound before the phase_timeout_error (a coreio::timeout_error) is thrown;
// read_within (connection.hpp) does the same for a read with the socket's read deadline. An
// operation cancelled this way leaves its connection in an unknown state: the caller closes it.
//
// Thread safety: values, and a free function awaited by one task.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <coreio/detail/saturating_time.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>
#include <coreio/wait_for.hpp>

namespace coreio::http::detail {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

/// The phases of client_options::timeouts, in client_stats::timeouts order.
enum class phase : unsigned char { total, pool_wait, connect, sock_connect, headers, sock_read };
inline constexpr std::size_t phase_count = 6;

constexpr std::string_view phase_name(phase p) noexcept {
  constexpr std::array<std::string_view, phase_count> names = {
      "total", "pool_wait", "connect", "sock_connect", "headers", "sock_read"};
  return names[static_cast<std::size_t>(p)];
}

/// A coreio::timeout_error whose what() names the phase, its budget and what was running.
class phase_timeout_error : public coreio::timeout_error {
 public:
  phase_timeout_error(phase p, std::chrono::milliseconds budget, std::string_view during)
      : phase_(p),
        what_("http: " + std::string(phase_name(p)) + " timeout (" +
              std::to_string(budget.count()) + " ms) " + std::string(during)) {}
  const char* what() const noexcept override { return what_.c_str(); }
  phase which() const noexcept { return phase_; }

 private:
  phase phase_;
  std::string what_;
};

/// A deadline and the phase it belongs to; when == max: none.
struct limit {
  time_point when = time_point::max();
  phase which = phase::total;
  std::chrono::milliseconds budget{0};
};

/// `now + d` for a set d, saturated; none for std::nullopt.
inline limit phase_limit(phase p, const std::optional<std::chrono::milliseconds>& d,
                         time_point now) {
  if (!d) return {};
  // Saturated: a budget past the clock's reach (milliseconds::max(), centuries) is no deadline,
  // not one wrapped into the past that fires at once.
  return {coreio::detail::saturating_add(now, *d), p, *d};
}

/// The earlier of two limits (a tie goes to `a`, pass the total first).
inline limit earliest(const limit& a, const limit& b) { return b.when < a.when ? b : a; }

/// timed() with a limit set: the task in wait_until.
template <class T>
task<T> timed_within(task<T> t, limit l, std::string_view during) {
  try {
    co_return co_await coreio::wait_until(std::move(t), l.when);
  } catch (const phase_timeout_error&) {
    throw;  // an inner phase ran out first: it names itself
  } catch (const coreio::timeout_error&) {
  }
  throw phase_timeout_error(l.which, l.budget, during);
}

/// Awaits t under l; throws phase_timeout_error naming l's phase and `during` if it runs out.
/// Without a limit, t itself (no frame, no timer): `during` must then outlive nothing.
template <class T>
task<T> timed(task<T> t, limit l, std::string_view during) {
  if (l.when == time_point::max()) return t;
  return timed_within(std::move(t), l, during);
}

}  // namespace coreio::http::detail
