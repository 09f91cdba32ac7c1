// runtime_common_test.cpp — behaviour that must hold for any pool size, run at 1, 2 and 4 workers
// (Tokio's rt_common.rs, TooManyCooks' test_executors.ipp). 4 workers on a 2-core machine also
// exercises workers that are preempted by the OS in the middle of a protocol.
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::prompt;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;

class RuntimeCommonTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  std::size_t workers() const { return GetParam(); }
  coreio::runtime_options options() const { return coreio::runtime_options{.workers = GetParam()}; }
};

INSTANTIATE_TEST_SUITE_P(Workers, RuntimeCommonTest, ::testing::Values(1u, 2u, 4u),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return std::to_string(info.param) + "Workers";
                         });

coreio::task<int> leaf(int v) {
  co_await coreio::yield_now();
  co_return v;
}

coreio::task<std::uint64_t> fib_spawn(int n) {
  if (n < 2) co_return static_cast<std::uint64_t>(n);
  auto a = coreio::spawn(fib_spawn(n - 1));
  const std::uint64_t b = co_await fib_spawn(n - 2);
  co_return co_await a + b;
}

coreio::task<std::uint64_t> fib_gather(int n) {
  if (n < 2) co_return static_cast<std::uint64_t>(n);
  auto [a, b] = co_await coreio::gather(fib_gather(n - 1), fib_gather(n - 2));
  co_return a + b;
}

constexpr std::uint64_t fib(int n) {
  return n < 2 ? static_cast<std::uint64_t>(n) : fib(n - 1) + fib(n - 2);
}

TEST_P(RuntimeCommonTest, WorkersIsThePoolSize) {
  coreio::runtime rt{options()};
  EXPECT_EQ(rt.workers(), workers());
  EXPECT_EQ(rt.metrics().workers.size(), workers());
}

TEST_P(RuntimeCommonTest, BlockOnReturnsTheValue) {
  coreio::runtime rt{options()};
  EXPECT_EQ(rt.block_on(leaf(3)), 3);
}

TEST_P(RuntimeCommonTest, ManySpawnedTasksFromAPlainThreadAllComplete) {
  coreio::runtime rt{options()};
  const int n = sanitized(10'000, 2'000);
  std::vector<coreio::join_handle<int>> hs;
  hs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(leaf(i)));
  long sum = 0;
  for (auto& h : hs) sum += h.get();
  EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
}

TEST_P(RuntimeCommonTest, ARecursiveSpawnTreeComputesFib) {
  coreio::runtime rt{options()};
  const int n = sanitized(20, 15);
  EXPECT_EQ(rt.block_on(fib_spawn(n)), fib(n));
}

TEST_P(RuntimeCommonTest, ARecursiveGatherTreeComputesFib) {
  coreio::runtime rt{options()};
  const int n = sanitized(22, 16);
  EXPECT_EQ(rt.block_on(fib_gather(n)), fib(n));
}

TEST_P(RuntimeCommonTest, ARecursiveGatherTreeWorksWithTheSmallestLocalQueue) {
  coreio::runtime rt{coreio::runtime_options{.workers = workers(), .local_queue_capacity = 4}};
  const int n = sanitized(18, 14);
  EXPECT_EQ(rt.block_on(fib_gather(n)), fib(n));
}

coreio::task<bool> current_worker_in_range(int n, int rounds) {
  bool ok = true;
  for (int i = 0; i < rounds; ++i) {
    const int w = coreio::current_worker();
    ok = ok && w >= 0 && w < n;
    co_await coreio::yield_now();
  }
  co_return ok;
}

TEST_P(RuntimeCommonTest, CurrentWorkerIsAlwaysInRange) {
  coreio::runtime rt{options()};
  std::vector<coreio::join_handle<bool>> hs;
  for (int i = 0; i < 16; ++i)
    hs.push_back(rt.spawn(current_worker_in_range(static_cast<int>(workers()), 100)));
  for (auto& h : hs) EXPECT_TRUE(h.get());
}

struct relay {
  std::atomic<int> turn{0};
  std::atomic<bool> gave_up{false};
};

coreio::task<int> take_turns(relay* r, int me, int players, int rounds) {
  int taken = 0;
  for (int k = 0; k < rounds; ++k) {
    long spins = 0;
    while (r->turn.load() % players != me) {
      if (++spins > 2'000'000 || r->gave_up.load()) {
        r->gave_up.store(true);
        co_return taken;
      }
      co_await coreio::yield_now();
    }
    ++taken;
    r->turn.fetch_add(1);
  }
  co_return taken;
}

coreio::task<int> relay_race(relay* r, int players, int rounds) {
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < players; ++i) hs.push_back(coreio::spawn(take_turns(r, i, players, rounds)));
  int total = 0;
  for (auto& h : hs) total += co_await h;
  co_return total;
}

TEST_P(RuntimeCommonTest, YieldNowLetsTasksTakeTurns) {
  coreio::runtime rt{options()};
  relay r;
  EXPECT_EQ(rt.block_on(relay_race(&r, 5, 20)), 100);
  EXPECT_FALSE(r.gave_up.load());
}

coreio::task<int> sleeper(std::atomic<bool>* started, std::atomic<bool>* cancelled) {
  started->store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    cancelled->store(true);
    throw;
  }
  co_return 0;
}

TEST_P(RuntimeCommonTest, CancellingASleepingTaskIsPrompt) {
  coreio::runtime rt{options()};
  std::atomic<bool> started{false}, cancelled{false};
  auto h = rt.spawn(sleeper(&started, &cancelled));
  ASSERT_TRUE(wait_until([&] { return started.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(cancelled.load());
}

coreio::task<int> sleep_random(std::uint64_t seed) {
  rng r(seed);
  const auto d = std::chrono::microseconds(r.below(3000));
  const auto start = std::chrono::steady_clock::now();
  co_await coreio::sleep_for(d);
  co_return std::chrono::steady_clock::now() - start >= d ? 1 : 0;
}

TEST_P(RuntimeCommonTest, ConcurrentSleepsAllCompleteNoEarlierThanAsked) {
  coreio::runtime rt{options()};
  const int n = 1000;
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(sleep_random(static_cast<std::uint64_t>(i))));
  int ok = 0;
  for (auto& h : hs) ok += h.get();
  EXPECT_EQ(ok, n);
}

coreio::task<int> await_value(coreio::future<int> f) { co_return co_await f; }

TEST_P(RuntimeCommonTest, AFutureSetFromAPlainThreadWakesTheTask) {
  coreio::runtime rt{options()};
  for (int i = 0; i < 20; ++i) {
    coreio::promise<int> p;
    auto h = rt.spawn(await_value(p.get_future()));
    std::thread([&] { p.set_value(i); }).join();
    EXPECT_EQ(h.get(), i);
  }
}

coreio::task<int> fail_deep(int depth) {
  if (depth == 0) {
    co_await coreio::yield_now();
    throw test_error(depth + 100);
  }
  auto h = coreio::spawn(fail_deep(depth - 1));
  auto [a, b] = co_await coreio::gather(
      leaf(1), [](coreio::join_handle<int>* x) -> coreio::task<int> { co_return co_await *x; }(&h));
  co_return a + b;
}

TEST_P(RuntimeCommonTest, ExceptionsPropagateThroughSpawnAndGather) {
  coreio::runtime rt{options()};
  auto h = rt.spawn(fail_deep(5));  // kept alive while the exception is inspected (see task_test)
  try {
    h.get();
    FAIL() << "expected test_error";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 100);
  }
  EXPECT_THROW(rt.block_on(fail_deep(3)), test_error);
}

TEST_P(RuntimeCommonTest, ShutdownWithSleepingAndYieldingTasksIsPrompt) {
  std::vector<std::atomic<bool>> s(8),
      c(8);  // outlive the runtime: its shutdown runs the catch blocks
  std::vector<coreio::join_handle<int>> hs;
  stopwatch sw;
  {
    coreio::runtime rt{options()};
    for (int i = 0; i < 8; ++i)
      hs.push_back(
          rt.spawn(sleeper(&s[static_cast<std::size_t>(i)], &c[static_cast<std::size_t>(i)])));
    ASSERT_TRUE(wait_until([&] {
      for (auto& x : s) {
        if (!x.load()) return false;
      }
      return true;
    }));
    sw = stopwatch{};
  }
  EXPECT_LT(sw.elapsed(), prompt);
  for (auto& h : hs) EXPECT_THROW(h.get(), coreio::cancelled_error);
}

coreio::task<void> spin_work(std::atomic<long>* counter, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    counter->fetch_add(1);
    if (i % 8 == 0) co_await coreio::yield_now();
  }
}

TEST_P(RuntimeCommonTest, MetricsReconcileAfterWork) {
  coreio::runtime rt{options()};
  std::atomic<long> counter{0};
  std::vector<coreio::join_handle<void>> hs;
  for (int i = 0; i < 64; ++i) hs.push_back(rt.spawn(spin_work(&counter, 64)));
  for (auto& h : hs) h.get();
  EXPECT_EQ(counter.load(), 64 * 64);
  const auto m = rt.metrics();
  EXPECT_GE(m.tasks_spawned, 64u);
  EXPECT_EQ(m.tasks_completed, m.tasks_spawned);
  EXPECT_EQ(m.tasks_alive, 0u);
  EXPECT_EQ(m.workers.size(), workers());
  std::uint64_t polls = 0;
  for (const auto& w : m.workers) polls += w.polls;
  EXPECT_GE(polls, 64u);
}

coreio::task<int> token_leaf(std::shared_ptr<int> token) {
  co_await coreio::yield_now();
  co_return *token;
}

coreio::task<int> token_sleeper(std::shared_ptr<int> token) {
  co_await coreio::sleep_for(10s);
  co_return *token;
}

coreio::task<int> token_tree(std::shared_ptr<int> token, int depth) {
  if (depth == 0) co_return co_await token_leaf(token);
  std::vector<coreio::task<int>> ts;
  ts.push_back(token_tree(token, depth - 1));
  ts.push_back(token_tree(token, depth - 1));
  auto h = coreio::spawn(token_leaf(token));
  const std::vector<int> r = co_await coreio::gather(std::move(ts));
  int sum = 0;
  for (int v : r) sum += v;
  co_return sum + co_await h;
}

// Every kind of frame (awaited inline, gathered, spawned, cancelled, detached) is freed once its
// task ended: each holds a copy of `token`, so its use count returns to 1.
TEST_P(RuntimeCommonTest, EveryTaskFrameIsFreedOnceItEnded) {
  coreio::runtime rt{options()};
  auto token = std::make_shared<int>(1);
  EXPECT_EQ(rt.block_on(token_tree(token, 6)), 127);
  std::vector<coreio::join_handle<int>> cancelled;
  for (int i = 0; i < 20; ++i) cancelled.push_back(rt.spawn(token_sleeper(token)));
  for (int i = 0; i < 20; ++i) rt.spawn(token_leaf(token)).detach();
  for (auto& h : cancelled) h.cancel();
  for (auto& h : cancelled) EXPECT_THROW(h.get(), coreio::cancelled_error);
  cancelled.clear();
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }))
      << token.use_count() - 1 << " frame(s) still alive";
}

}  // namespace
