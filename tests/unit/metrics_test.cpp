// metrics_test.cpp — coreio/metrics.hpp through runtime::metrics(): counts reconcile with the work
// done, one entry per worker, and a snapshot is safe to take from any thread while work runs.
#include <coreio/metrics.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
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

// Every sleep that fired: by its own worker, or by the monitor when that worker was inside a poll
// a tick past the deadline (which a slow build, TSan's, does often).
std::uint64_t total_timers_fired(const coreio::runtime_metrics& m) {
  std::uint64_t n = 0;
  for (const auto& w : m.workers) n += w.timers_fired + w.timers_fired_by_monitor;
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
  EXPECT_EQ(total_timers_fired(rt.metrics()), static_cast<std::uint64_t>(n)) << "each sleep once";
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

// ---- metrics_histograms: poll-time and wake-to-poll histograms, per-name counters ------------

namespace {

coreio::task<int> named_work(int i) {
  co_await coreio::yield_now();  // a second poll, after a wake of its own
  if (i % 4 == 0) throw std::runtime_error("failing on purpose");
  co_return i;
}

// Spawns n tasks named "x" (every fourth fails), joins them, sleeps once (a timer wake), then
// ends its poll and snapshots from a new one: on the only worker, every earlier poll is then
// complete and counted by this same thread, so the counts are exact.
coreio::task<coreio::runtime_metrics> named_round(coreio::runtime& rt, int n) {
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(coreio::spawn(named_work(i), "x"));
  for (auto& h : hs) {
    try {
      (void)co_await h;
    } catch (const std::runtime_error&) {
    }
  }
  co_await coreio::sleep_for(1ms);
  co_await coreio::yield_now();
  co_return rt.metrics();
}

TEST(MetricsTest, HistogramsAndNamesAreEmptyWhenOff) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  const auto m = rt.block_on(named_round(rt, 8));
  EXPECT_GT(m.workers[0].polls, 0u);
  EXPECT_EQ(m.workers[0].poll_time.count, 0u);
  EXPECT_EQ(m.workers[0].wake_to_poll.count, 0u);
  EXPECT_TRUE(m.task_names.empty());
}

TEST(MetricsTest, PollTimeHistogramCountsEveryPoll) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1, .metrics_histograms = true}};
  constexpr int n = 40;
  const auto m = rt.block_on(named_round(rt, n));
  const coreio::worker_metrics& w = m.workers[0];
  const std::uint64_t buckets =
      std::accumulate(w.poll_time.counts.begin(), w.poll_time.counts.end(), std::uint64_t{0});
  EXPECT_EQ(buckets, w.polls) << "one bucket entry per finished poll";
  EXPECT_EQ(w.poll_time.count, w.polls);
  EXPECT_GT(w.poll_time.sum_ns, 0u);
  // Timed wakes: the n spawns and the sleep's timer (a yield is not a wake, and a join resumes the
  // joiner directly from the joined task's end).
  EXPECT_GE(w.wake_to_poll.count, static_cast<std::uint64_t>(n) + 1);
  EXPECT_LE(w.wake_to_poll.count, w.polls);
  EXPECT_EQ(
      std::accumulate(w.wake_to_poll.counts.begin(), w.wake_to_poll.counts.end(), std::uint64_t{0}),
      w.wake_to_poll.count);
}

TEST(MetricsTest, HistogramBucketsAreLog2FromTheFirstBound) {
  using h = coreio::duration_histogram;
  EXPECT_EQ(h::upper_ns(0), 128u);
  EXPECT_EQ(h::upper_ns(1), 256u);
  EXPECT_EQ(h::upper_ns(h::buckets - 2), std::uint64_t{128} << (h::buckets - 2));
}

TEST(MetricsTest, PerNameCountersMatchTheWork) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1, .metrics_histograms = true}};
  constexpr int n = 40;  // every fourth fails: 10
  const auto m = rt.block_on(named_round(rt, n));
  ASSERT_EQ(m.task_names.size(), 1u);
  const coreio::task_name_metrics& x = m.task_names[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.spawned, static_cast<std::uint64_t>(n));
  EXPECT_EQ(x.completed, static_cast<std::uint64_t>(n));
  EXPECT_EQ(x.failed, static_cast<std::uint64_t>(n / 4));
  EXPECT_EQ(x.alive, 0u);
  EXPECT_GT(x.busy_ns, 0u);
  EXPECT_LE(x.busy_ns, m.workers[0].poll_time.sum_ns);
}

TEST(MetricsTest, PerNameAliveCountsRunningTasksAndCancellationIsNotFailure) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2, .metrics_histograms = true}};
  std::vector<coreio::join_handle<void>> hs;
  for (int i = 0; i < 3; ++i) {
    hs.push_back(
        rt.spawn([]() -> coreio::task<void> { co_await coreio::sleep_for(10s); }(), "sleeper"));
  }
  auto find = [&] {
    for (const auto& t : rt.metrics().task_names)
      if (t.name == "sleeper") return t;
    return coreio::task_name_metrics{};
  };
  EXPECT_EQ(find().alive, 3u);
  for (auto& h : hs) h.cancel();
  for (auto& h : hs) EXPECT_THROW(h.get(), coreio::cancelled_error);
  const auto s = find();  // counted before the handles could see the end
  EXPECT_EQ(s.spawned, 3u);
  EXPECT_EQ(s.completed, 3u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.alive, 0u);
}

TEST(MetricsTest, HistogramsAreReadSafelyWhileWorkersRecord) {
  // TSan's case: snapshots from a plain thread race the workers' relaxed stores.
  coreio::runtime rt{coreio::runtime_options{.workers = 2, .metrics_histograms = true}};
  std::atomic<bool> done{false};  // relaxed is not enough for the join below: seq_cst default
  std::thread reader([&] {
    std::vector<std::uint64_t> seen(2, 0);
    while (!done.load()) {
      const auto m = rt.metrics();
      for (std::size_t w = 0; w < 2; ++w) {
        EXPECT_GE(m.workers[w].poll_time.count, seen[w]) << "a single writer's counts only grow";
        seen[w] = m.workers[w].poll_time.count;
      }
    }
  });
  const int rounds = sanitized(20, 3);
  for (int r = 0; r < rounds; ++r) {
    std::vector<coreio::join_handle<int>> hs;
    for (int i = 0; i < 50; ++i) hs.push_back(rt.spawn(named_work(i * 4 + 1), "y"));
    for (auto& h : hs) (void)h.get();
  }
  done.store(true);
  reader.join();
  EXPECT_TRUE(wait_until([&] {
    for (const auto& t : rt.metrics().task_names)
      if (t.name == "y")
        return t.completed == t.spawned && t.spawned == static_cast<std::uint64_t>(rounds) * 50;
    return false;
  }));
}

}  // namespace
