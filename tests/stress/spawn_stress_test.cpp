// Spawning at volume: from several plain threads at once (runtime::spawn, the global injection
// queue) and from inside one task (coreio::spawn, the worker's deque). Task i returns i, so every
// sum is exact.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "stress_support.hpp"

namespace {

using coreio_stress::triangle;

coreio::task<std::uint64_t> identity(std::uint64_t i) { co_return i; }

coreio::task<std::uint64_t> identity_after_yield(std::uint64_t i) {
  co_await coreio::yield_now();
  co_return i;
}

constexpr int spawner_threads = 4;

TEST(SpawnStress, FourPlainThreadsSpawnAndGetConcurrently) {
  // 4 x 250,000 tasks.
  const std::uint64_t per_thread = 250'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  std::atomic<int> ready{0};
  std::vector<std::uint64_t> sums(spawner_threads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < spawner_threads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < spawner_threads) std::this_thread::yield();  // start together
      std::vector<coreio::join_handle<std::uint64_t>> hs;
      hs.reserve(per_thread);
      for (std::uint64_t i = 0; i < per_thread; ++i) hs.push_back(rt.spawn(identity(i)));
      std::uint64_t sum = 0;
      for (auto& h : hs) sum += h.get();
      sums[t] = sum;
    });
  }
  for (auto& th : threads) th.join();

  for (int t = 0; t < spawner_threads; ++t)
    EXPECT_EQ(sums[t], triangle(per_thread)) << "thread " << t;
  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_EQ(m.tasks_spawned, spawner_threads * per_thread);
  EXPECT_EQ(m.tasks_completed, spawner_threads * per_thread);
  EXPECT_EQ(m.tasks_alive, 0u);
}

TEST(SpawnStress, FourPlainThreadsSpawnAndARootTaskAwaitsTheHandles) {
  // The handles made by plain threads are awaited by one root task per thread (and the tasks yield
  // once, so they are still running when their handle is awaited).
  const std::uint64_t per_thread = 250'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto await_all =
      [](std::vector<coreio::join_handle<std::uint64_t>> hs) -> coreio::task<std::uint64_t> {
    std::uint64_t sum = 0;
    for (auto& h : hs) sum += co_await h;
    co_return sum;
  };

  std::vector<std::uint64_t> sums(spawner_threads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < spawner_threads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<coreio::join_handle<std::uint64_t>> hs;
      hs.reserve(per_thread);
      for (std::uint64_t i = 0; i < per_thread; ++i)
        hs.push_back(rt.spawn(identity_after_yield(i)));
      sums[t] = rt.block_on(await_all(std::move(hs)));
    });
  }
  for (auto& th : threads) th.join();

  for (int t = 0; t < spawner_threads; ++t)
    EXPECT_EQ(sums[t], triangle(per_thread)) << "thread " << t;
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
}

TEST(SpawnStress, MillionSpawnsFromInsideOneTask) {
  // 1,000,000 coreio::spawn from one task, then every join handle awaited.
  const std::uint64_t n = 1'000'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto root = [](std::uint64_t count) -> coreio::task<std::uint64_t> {
    std::vector<coreio::join_handle<std::uint64_t>> hs;
    hs.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) hs.push_back(coreio::spawn(identity(i)));
    std::uint64_t sum = 0;
    for (auto& h : hs) sum += co_await h;
    co_return sum;
  };
  EXPECT_EQ(rt.block_on(root(n)), triangle(n));
  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_EQ(m.tasks_spawned, n + 1);
  EXPECT_EQ(m.tasks_completed, n + 1);
  EXPECT_EQ(m.tasks_alive, 0u);
}

TEST(SpawnStress, DetachedSpawnsAllRunBeforeTheCounterIsRead) {
  // Dropped handles detach: each task still runs exactly once. The root waits on a future that the
  // last task to finish fulfils.
  const std::uint64_t n = 200'000;
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::uint64_t> left{n};
  coreio::promise<void> all_done;
  coreio::future<void> all_done_f = all_done.get_future();

  auto leaf = [&](std::uint64_t i) -> coreio::task<void> {
    sum.fetch_add(i, std::memory_order_relaxed);
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) all_done.set_value();
    co_return;
  };
  auto root = [&]() -> coreio::task<void> {
    for (std::uint64_t i = 0; i < n; ++i) coreio::spawn(leaf(i)).detach();
    co_await all_done_f;
  };
  // Declared last, destroyed first: every task has ended before the state it uses goes away.
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on(root());
  EXPECT_EQ(sum.load(), triangle(n));
}

}  // namespace
