// metrics_test.cpp — coreio/metrics.hpp through runtime::metrics(): counts reconcile with the work
// done, one entry per worker, and a snapshot is safe to take from any thread while work runs.
#include <coreio/metrics.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

#include <coreio/gather.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::sanitized;
using coreio_test::wait_until;

std::uint64_t total_polls(const coreio::runtime_metrics& m) {
  std::uint64_t n = 0;
  for (const auto& w : m.workers) n += w.polls;
  return n;
}

std::uint64_t total_busy_ns(const coreio::runtime_metrics& m) {
  std::uint64_t n = 0;
  for (const auto& w : m.workers) n += w.busy_ns;
  return n;
}

std::uint64_t total_timers_fired(const coreio::runtime_metrics& m) {
  std::uint64_t n = 0;
  for (const auto& w : m.workers) n += w.timers_fired;
  return n;
}

coreio::task<int> small_work(int v) {
  co_await coreio::yield_now();
  co_return v;
}

coreio::task<void> nap() { co_await coreio::sleep_for(1ms); }

TEST(MetricsTest, ADefaultSnapshotIsZero) {
  coreio::runtime_metrics m;
  EXPECT_EQ(m.tasks_spawned, 0u);
  EXPECT_EQ(m.tasks_completed, 0u);
  EXPECT_EQ(m.tasks_alive, 0u);
  EXPECT_TRUE(m.workers.empty());
  coreio::worker_metrics w;
  EXPECT_EQ(w.polls + w.steals + w.parks + w.busy_ns + w.timers_fired, 0u);
}

TEST(MetricsTest, ReportsOneEntryPerWorker) {
  for (std::size_t n : {1u, 3u}) {
    coreio::runtime rt{coreio::runtime_options{.workers = n}};
    EXPECT_EQ(rt.metrics().workers.size(), n);
  }
}

TEST(MetricsTest, CountsSpawnedAndCompletedTasks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const auto before = rt.metrics();
  constexpr int n = 100;
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(small_work(i)));
  for (auto& h : hs) (void)h.get();
  const auto m = rt.metrics();
  EXPECT_GE(m.tasks_spawned - before.tasks_spawned, static_cast<std::uint64_t>(n));
  EXPECT_TRUE(wait_until([&] {
    const auto now = rt.metrics();
    return now.tasks_completed >= now.tasks_spawned;
  })) << "tasks_completed catches up with tasks_spawned once the work is done";
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
  EXPECT_GT(total_polls(m), 0u);
  EXPECT_TRUE(wait_until([&] { return total_busy_ns(rt.metrics()) > 0; }));
}

TEST(MetricsTest, AliveCountsRunningTasksAndDropsToZeroWhenIdle) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
  std::vector<coreio::join_handle<void>> hs;
  for (int i = 0; i < 5; ++i) {
    hs.push_back(rt.spawn([]() -> coreio::task<void> { co_await coreio::sleep_for(10s); }()));
  }
  EXPECT_EQ(rt.metrics().tasks_alive, 5u);
  for (auto& h : hs) h.cancel();
  for (auto& h : hs) EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
}

coreio::task<int> gather_children(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(small_work(i));
  const auto r = co_await coreio::gather(std::move(ts));
  co_return std::accumulate(r.begin(), r.end(), 0);
}

TEST(MetricsTest, GatheredChildrenCountAsSpawnedAndCompleted) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(gather_children(50)), 50 * 49 / 2);
  const auto m = rt.metrics();
  EXPECT_GE(m.tasks_spawned, 51u) << "the root and its 50 children";
  EXPECT_EQ(m.tasks_completed, m.tasks_spawned);
}

TEST(MetricsTest, TimersFiredCountsEndedSleeps) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  constexpr int n = 20;
  std::vector<coreio::join_handle<void>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(nap()));
  for (auto& h : hs) h.get();
  EXPECT_GE(total_timers_fired(rt.metrics()), static_cast<std::uint64_t>(n));
}

coreio::task<void> churn(int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto h = coreio::spawn(small_work(i));
    co_await h;
  }
}

TEST(MetricsTest, SnapshotsAreSafeToTakeFromAPlainThreadWhileWorkRuns) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> stop{false};
  std::uint64_t snapshots = 0, last_spawned = 0;
  bool monotonic = true;
  std::atomic<bool> reading{false};
  std::thread reader([&] {
    do {
      const auto m = rt.metrics();
      if (m.tasks_spawned < last_spawned) monotonic = false;
      last_spawned = m.tasks_spawned;
      ++snapshots;
      reading.store(true);
    } while (!stop.load());
  });
  ASSERT_TRUE(wait_until([&] { return reading.load(); }));
  std::vector<coreio::join_handle<void>> hs;
  for (int i = 0; i < 4; ++i) hs.push_back(rt.spawn(churn(sanitized(2000, 300))));
  for (auto& h : hs) h.get();
  stop.store(true);
  reader.join();
  EXPECT_GT(snapshots, 0u);
  EXPECT_TRUE(monotonic) << "tasks_spawned never goes backwards";
}

}  // namespace
