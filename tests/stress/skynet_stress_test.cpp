// Skynet: a 10-ary tree of 1,111,111 tasks over 1,000,000 leaves, each node gathering a vector of
// its ten children. Leaf i returns i, so the root's sum is exactly 0 + 1 + ... + 999,999.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <cstdint>
#include <vector>

#include "stress_support.hpp"

namespace {

coreio::task<std::uint64_t> skynet(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  const std::uint64_t sub = size / 10;
  std::vector<coreio::task<std::uint64_t>> children;
  children.reserve(10);
  for (std::uint64_t i = 0; i < 10; ++i) children.push_back(skynet(num + i * sub, sub));
  std::vector<std::uint64_t> sums = co_await coreio::gather(std::move(children));
  std::uint64_t total = 0;
  for (std::uint64_t s : sums) total += s;
  co_return total;
}

constexpr std::uint64_t tasks_in_tree(std::uint64_t leaves) {
  std::uint64_t n = 0;
  for (std::uint64_t level = 1; level <= leaves; level *= 10) n += level;
  return n;
}
static_assert(tasks_in_tree(1'000'000) == 1'111'111);

class SkynetStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SkynetStress, MillionLeavesSumExactly) {
  const std::uint64_t leaves = 1'000'000;
  coreio::runtime rt{coreio::runtime_options{.workers = GetParam()}};
  ASSERT_EQ(rt.workers(), GetParam());

  const std::uint64_t sum = rt.block_on(skynet(0, leaves));
  EXPECT_EQ(sum, 499'999'500'000ULL);
  EXPECT_EQ(sum, coreio_stress::triangle(leaves));

  // Every gathered child plus the root was counted, and all of them have ended.
  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_EQ(m.tasks_spawned, tasks_in_tree(leaves));
  EXPECT_EQ(m.tasks_completed, tasks_in_tree(leaves));
  EXPECT_EQ(m.tasks_alive, 0u);
  std::uint64_t polls = 0;
  for (const auto& w : m.workers) polls += w.polls;
  EXPECT_GE(polls, 1u);
}

TEST_P(SkynetStress, RepeatedTreesOnOneRuntime) {
  // Ten smaller trees back to back on the same runtime: no state leaks from one run to the next.
  coreio::runtime rt{coreio::runtime_options{.workers = GetParam()}};
  const std::uint64_t leaves = 100'000;
  for (int round = 0; round < 10; ++round) {
    ASSERT_EQ(rt.block_on(skynet(0, leaves)), coreio_stress::triangle(leaves)) << "round " << round;
  }
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
}

INSTANTIATE_TEST_SUITE_P(Workers, SkynetStress, ::testing::Values(1, 2, 4),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return std::to_string(info.param) + "Workers";
                         });

}  // namespace
