// Yield storm: 1,000 tasks each calling yield_now 1,000 times (1,000,000 trips through the back of
// the run queue). Every task counts its own resumptions; the counters must add up exactly.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <cstdint>
#include <vector>

#include "stress_support.hpp"

namespace {

/// Yields `n` times, counting in its own slot (no other task writes it).
coreio::task<std::uint64_t> yielder(std::uint64_t& counter, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    co_await coreio::yield_now();
    ++counter;
  }
  co_return counter;
}

TEST(YieldStress, ThousandSpawnedTasksYieldThousandTimesEach) {
  const std::size_t tasks = 1'000;
  const std::uint64_t yields = 1'000;
  std::vector<std::uint64_t> counters(tasks, 0);
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto root = [&]() -> coreio::task<std::uint64_t> {
    std::vector<coreio::join_handle<std::uint64_t>> hs;
    hs.reserve(tasks);
    for (std::size_t t = 0; t < tasks; ++t)
      hs.push_back(coreio::spawn(yielder(counters[t], yields)));
    std::uint64_t total = 0;
    for (auto& h : hs) total += co_await h;
    co_return total;
  };
  EXPECT_EQ(rt.block_on(root()), tasks * yields);

  std::uint64_t sum = 0;
  for (std::size_t t = 0; t < tasks; ++t) {
    EXPECT_EQ(counters[t], yields) << "task " << t;
    sum += counters[t];
  }
  EXPECT_EQ(sum, tasks * yields);
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
}

TEST(YieldStress, ThousandGatheredChildrenYieldThousandTimesEach) {
  // The same storm as the children of one gather (their own cancel scopes, stealable).
  const std::size_t tasks = 1'000;
  const std::uint64_t yields = 1'000;
  std::vector<std::uint64_t> counters(tasks, 0);
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto root = [&]() -> coreio::task<std::uint64_t> {
    std::vector<coreio::task<std::uint64_t>> children;
    children.reserve(tasks);
    for (std::size_t t = 0; t < tasks; ++t) children.push_back(yielder(counters[t], yields));
    std::vector<std::uint64_t> rs = co_await coreio::gather(std::move(children));
    std::uint64_t total = 0;
    for (std::uint64_t r : rs) total += r;
    co_return total;
  };
  EXPECT_EQ(rt.block_on(root()), tasks * yields);
  for (std::size_t t = 0; t < tasks; ++t) EXPECT_EQ(counters[t], yields) << "task " << t;
}

TEST(YieldStress, YieldersSpawnedFromPlainThreadOnFourWorkers) {
  // Plain-thread spawns (global queue) on more workers than cores: preemption of the OS threads in
  // the middle of the queue operations.
  const std::size_t tasks = 500;
  const std::uint64_t yields = 1'000;
  std::vector<std::uint64_t> counters(tasks, 0);
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  std::vector<coreio::join_handle<std::uint64_t>> hs;
  for (std::size_t t = 0; t < tasks; ++t) hs.push_back(rt.spawn(yielder(counters[t], yields)));
  std::uint64_t total = 0;
  for (auto& h : hs) total += h.get();
  EXPECT_EQ(total, tasks * yields);
  for (std::size_t t = 0; t < tasks; ++t) EXPECT_EQ(counters[t], yields) << "task " << t;
}

}  // namespace
