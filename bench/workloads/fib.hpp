// Workload "fib": fork-join Fibonacci. Every call with n > 2 runs fib(n-1) and
// fib(n-2) as two child tasks and awaits both; n <= 2 returns directly
// (fib(1) = fib(2) = 1, fib(0) = 0). Checksum fib(N); items = every call,
// 1,664,079 for N = 30 (shared/peers' definition).
#pragma once

#include "../baseline/asio_pool.hpp"

#include <coreio/coreio.hpp>

#include <cstdint>

namespace coreio_bench::fib {

inline constexpr int default_n = 30;

constexpr std::uint64_t expected(int n) {
  std::uint64_t a = 0, b = 1;
  for (int k = 0; k < n; ++k) {
    const std::uint64_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

/// Calls made by fib(n): 1 for n <= 2, else 1 + calls(n-1) + calls(n-2).
constexpr std::uint64_t tasks(int n) {
  std::uint64_t prev = 1, cur = 1;  // calls(k-1), calls(k) for k = 2
  for (int k = 3; k <= n; ++k) {
    const std::uint64_t next = 1 + cur + prev;
    prev = cur;
    cur = next;
  }
  return cur;
}
static_assert(tasks(30) == 1'664'079);
static_assert(expected(30) == 832'040);

/// coreio: both children through coreio::gather (they run in parallel).
inline coreio::task<std::uint64_t> on_coreio(int n) {
  if (n <= 2) co_return n > 0 ? 1 : 0;
  auto [a, b] = co_await coreio::gather(on_coreio(n - 1), on_coreio(n - 2));
  co_return a + b;
}

/// Asio: both children co_spawn'ed on the pool and joined.
inline asio::awaitable<std::uint64_t> on_asio(int n) {
  if (n <= 2) co_return n > 0 ? 1 : 0;
  auto [a, b] = co_await asio_baseline::gather(on_asio(n - 1), on_asio(n - 2));
  co_return a + b;
}

}  // namespace coreio_bench::fib
