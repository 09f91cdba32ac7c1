// Fork-join Fibonacci: fib(n) = gather(fib(n-1), fib(n-2)), fib(1) = fib(2) = 1. Every call is a
// gathered task, so fib(27) makes ~400k tasks and fib(30) 1,664,079; the results are exact.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <cstdint>

#include "stress_support.hpp"

namespace {

coreio::task<std::uint64_t> fib(int n) {
  if (n <= 2) co_return 1;
  auto [a, b] = co_await coreio::gather(fib(n - 1), fib(n - 2));
  co_return a + b;
}

/// Tasks made by fib(n), the root included: calls(n) = 1 + calls(n-1) + calls(n-2). Iterative:
/// the recursive form takes millions of constexpr steps, past clang's limit.
constexpr std::uint64_t calls(int n) {
  std::uint64_t a = 1, b = 1;  // calls(i - 2), calls(i - 1)
  for (int i = 3; i <= n; ++i) {
    const std::uint64_t c = 1 + a + b;
    a = b;
    b = c;
  }
  return b;
}
static_assert(calls(30) == 1'664'079);

constexpr std::uint64_t fib_value(int n) {
  std::uint64_t a = 1, b = 1;
  for (int i = 3; i <= n; ++i) {
    const std::uint64_t c = a + b;
    a = b;
    b = c;
  }
  return b;
}
static_assert(fib_value(27) == 196'418 && fib_value(30) == 832'040);

TEST(FibStress, Fib27ForkJoinIsExact) {
  // ~400k tasks on the default pool (one worker per hardware thread).
  coreio::runtime rt;
  EXPECT_EQ(rt.block_on(fib(27)), 196'418u);
  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_EQ(m.tasks_spawned, calls(27));
  EXPECT_EQ(m.tasks_completed, calls(27));
  EXPECT_EQ(m.tasks_alive, 0u);
}

TEST(FibStress, Fib30OnTwoWorkersIsExact) {
  // 1,664,079 tasks.
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(fib(30)), 832'040u);
  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_EQ(m.tasks_spawned, calls(30));
  EXPECT_EQ(m.tasks_completed, calls(30));
  EXPECT_EQ(m.tasks_alive, 0u);
}

TEST(FibStress, ManyConcurrentFibRootsFromOneThread) {
  // Sixteen fib(20) roots spawned at once compete for the same two workers.
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::vector<coreio::join_handle<std::uint64_t>> hs;
  for (int i = 0; i < 16; ++i) hs.push_back(rt.spawn(fib(20)));
  std::uint64_t total = 0;
  for (auto& h : hs) total += h.get();
  EXPECT_EQ(total, 16 * fib_value(20));
}

}  // namespace
