// Workload "skynet": a 10-ary tree of tasks over LEAVES leaves (a power of
// ten); a leaf returns its number, a node sums its ten children, each child a
// task. Checksum LEAVES(LEAVES-1)/2; items = every task in the tree,
// 1,111,111 for LEAVES = 1,000,000 (shared/peers' definition).
#pragma once

#include "../baseline/asio_pool.hpp"

#include <coreio/coreio.hpp>

#include <cstdint>
#include <vector>

namespace coreio_bench::skynet {

inline constexpr std::uint64_t default_leaves = 1'000'000;
inline constexpr int fanout = 10;

constexpr std::uint64_t expected(std::uint64_t leaves) { return leaves * (leaves - 1) / 2; }

constexpr std::uint64_t tasks(std::uint64_t leaves) {
  std::uint64_t total = 0;
  for (std::uint64_t level = 1; level <= leaves; level *= fanout) total += level;
  return total;
}
static_assert(tasks(1'000'000) == 1'111'111);

/// coreio: the ten children of a node through coreio::gather (vector form).
inline coreio::task<std::uint64_t> on_coreio(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  const std::uint64_t sub = size / fanout;
  std::vector<coreio::task<std::uint64_t>> children;
  children.reserve(fanout);
  for (int i = 0; i < fanout; ++i) children.push_back(on_coreio(num + std::uint64_t(i) * sub, sub));
  const std::vector<std::uint64_t> sums = co_await coreio::gather(std::move(children));
  std::uint64_t sum = 0;
  for (std::uint64_t s : sums) sum += s;
  co_return sum;
}

/// Asio: the ten children co_spawn'ed on the pool and joined.
inline asio::awaitable<std::uint64_t> on_asio(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  const std::uint64_t sub = size / fanout;
  std::vector<asio::awaitable<std::uint64_t>> children;
  children.reserve(fanout);
  for (int i = 0; i < fanout; ++i) children.push_back(on_asio(num + std::uint64_t(i) * sub, sub));
  const std::vector<std::uint64_t> sums = co_await asio_baseline::gather(std::move(children));
  std::uint64_t sum = 0;
  for (std::uint64_t s : sums) sum += s;
  co_return sum;
}

}  // namespace coreio_bench::skynet
