// Workload "spawn": spawn N trivial tasks (task i returns i), await every one
// and sum the results. Measures the cost of one spawn + completion + join.
// Checksum N(N-1)/2; items = N tasks. Size as in shared/peers: N = 1,000,000.
#pragma once

#include "../baseline/asio_pool.hpp"

#include <coreio/coreio.hpp>

#include <cstdint>
#include <vector>

namespace coreio_bench::spawn {

inline constexpr std::uint64_t default_n = 1'000'000;

constexpr std::uint64_t expected(std::uint64_t n) { return n * (n - 1) / 2; }
constexpr std::uint64_t tasks(std::uint64_t n) { return n; }

namespace detail {
inline coreio::task<std::uint64_t> child(std::uint64_t i) { co_return i; }
inline asio::awaitable<std::uint64_t> asio_child(std::uint64_t i) { co_return i; }
}  // namespace detail

/// coreio: coreio::spawn each child, then co_await every join handle.
inline coreio::task<std::uint64_t> on_coreio(std::uint64_t n) {
  std::vector<coreio::join_handle<std::uint64_t>> handles;
  handles.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) handles.push_back(coreio::spawn(detail::child(i)));
  std::uint64_t sum = 0;
  for (auto& h : handles) sum += co_await h;
  co_return sum;
}

/// Asio: co_spawn each child on the pool, await all, sum.
inline asio::awaitable<std::uint64_t> on_asio(std::uint64_t n) {
  std::vector<asio::awaitable<std::uint64_t>> children;
  children.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) children.push_back(detail::asio_child(i));
  const std::vector<std::uint64_t> results = co_await asio_baseline::gather(std::move(children));
  std::uint64_t sum = 0;
  for (std::uint64_t v : results) sum += v;
  co_return sum;
}

}  // namespace coreio_bench::spawn
