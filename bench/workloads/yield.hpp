// Workload "yield": TASKS tasks each yield to the scheduler YIELDS times and
// return how often they did. Checksum and items = TASKS * YIELDS
// (1000 x 1000 in shared/peers).
#pragma once

#include "../baseline/asio_pool.hpp"

#include <coreio/coreio.hpp>

#include <cstdint>
#include <vector>

namespace coreio_bench::yield {

inline constexpr std::uint64_t default_tasks = 1000;
inline constexpr std::uint64_t default_yields = 1000;

constexpr std::uint64_t expected(std::uint64_t ntasks, std::uint64_t yields) {
  return ntasks * yields;
}
constexpr std::uint64_t ops(std::uint64_t ntasks, std::uint64_t yields) { return ntasks * yields; }

namespace detail {
inline coreio::task<std::uint64_t> yielder(std::uint64_t yields) {
  std::uint64_t count = 0;
  for (std::uint64_t i = 0; i < yields; ++i) {
    co_await coreio::yield_now();
    ++count;
  }
  co_return count;
}

inline asio::awaitable<std::uint64_t> asio_yielder(std::uint64_t yields) {
  auto ex = co_await asio::this_coro::executor;
  std::uint64_t count = 0;
  for (std::uint64_t i = 0; i < yields; ++i) {
    co_await asio::post(ex, asio::use_awaitable);  // back of the shared queue
    ++count;
  }
  co_return count;
}
}  // namespace detail

/// coreio: spawn every yielder, then await its join handle.
inline coreio::task<std::uint64_t> on_coreio(std::uint64_t ntasks, std::uint64_t yields) {
  std::vector<coreio::join_handle<std::uint64_t>> handles;
  handles.reserve(ntasks);
  for (std::uint64_t i = 0; i < ntasks; ++i)
    handles.push_back(coreio::spawn(detail::yielder(yields)));
  std::uint64_t sum = 0;
  for (auto& h : handles) sum += co_await h;
  co_return sum;
}

/// Asio: co_spawn every yielder on the pool, await all.
inline asio::awaitable<std::uint64_t> on_asio(std::uint64_t ntasks, std::uint64_t yields) {
  std::vector<asio::awaitable<std::uint64_t>> children;
  children.reserve(ntasks);
  for (std::uint64_t i = 0; i < ntasks; ++i) children.push_back(detail::asio_yielder(yields));
  const std::vector<std::uint64_t> counts = co_await asio_baseline::gather(std::move(children));
  std::uint64_t sum = 0;
  for (std::uint64_t c : counts) sum += c;
  co_return sum;
}

}  // namespace coreio_bench::yield
