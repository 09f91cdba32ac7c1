// Workload "timers": N tasks, task i sleeps ms(i) milliseconds and returns
// ms(i); the root awaits all and sums. ms(i) is shared/peers' deterministic
// spread over [0, MAX_MS] (32-bit unsigned, wrapping). Checksum sum of ms(i);
// items = N timers. 100,000 timers, MAX_MS = 100 in shared/peers: the run
// takes a little over MAX_MS, so the rate mostly shows timer overhead and the
// resident-set growth shows the cost of 100,000 sleeping tasks.
#pragma once

#include "../baseline/asio_pool.hpp"

#include <coreio/coreio.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

namespace coreio_bench::timers {

inline constexpr std::uint64_t default_n = 100'000;
inline constexpr std::uint32_t default_max_ms = 100;

/// shared/peers' ms(i): x = i*2654435761; x ^= x>>16; x *= 0x45D9F3B; x ^= x>>16;
/// ms = x % (MAX_MS + 1), all in 32-bit unsigned arithmetic.
constexpr std::uint32_t ms(std::uint32_t i, std::uint32_t max_ms) {
  std::uint32_t x = i * 2654435761u;
  x ^= x >> 16;
  x *= 0x45D9F3Bu;
  x ^= x >> 16;
  return x % (max_ms + 1);
}

constexpr std::uint64_t expected(std::uint64_t n, std::uint32_t max_ms) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += ms(std::uint32_t(i), max_ms);
  return sum;
}

namespace detail {
inline coreio::task<std::uint64_t> sleeper(std::uint32_t ms) {
  co_await coreio::sleep_for(std::chrono::milliseconds(ms));
  co_return ms;
}

inline asio::awaitable<std::uint64_t> asio_sleeper(std::uint32_t ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await timer.async_wait(asio::use_awaitable);
  co_return ms;
}
}  // namespace detail

/// coreio: spawn every sleeper, then await its join handle.
inline coreio::task<std::uint64_t> on_coreio(std::uint64_t n, std::uint32_t max_ms) {
  std::vector<coreio::join_handle<std::uint64_t>> handles;
  handles.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    handles.push_back(coreio::spawn(detail::sleeper(ms(std::uint32_t(i), max_ms))));
  }
  std::uint64_t sum = 0;
  for (auto& h : handles) sum += co_await h;
  co_return sum;
}

/// Asio: one steady_timer per co_spawn'ed sleeper, await all.
inline asio::awaitable<std::uint64_t> on_asio(std::uint64_t n, std::uint32_t max_ms) {
  std::vector<asio::awaitable<std::uint64_t>> children;
  children.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    children.push_back(detail::asio_sleeper(ms(std::uint32_t(i), max_ms)));
  }
  const std::vector<std::uint64_t> slept = co_await asio_baseline::gather(std::move(children));
  std::uint64_t sum = 0;
  for (std::uint64_t s : slept) sum += s;
  co_return sum;
}

}  // namespace coreio_bench::timers
