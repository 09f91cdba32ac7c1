// Cancel storm: 100,000 tasks that sleep (0-5 ms) or yield in a loop while a plain thread cancels a
// random half of them. Every task must end exactly once, with its value or with cancelled_error, and
// every count must reconcile: what the handles report, what the task bodies saw, the metrics. A task
// cancelled before it first ran never runs its body: its handle reports cancelled_error.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "stress_support.hpp"
#include "support/suspension_probe.hpp"

namespace {

using namespace std::chrono_literals;

/// What the task bodies saw, each counter bumped exactly once per task at the matching point.
struct body_counts {
  std::atomic<std::uint64_t> started{0};
  std::atomic<std::uint64_t> finished{0};   // returned their value normally
  std::atomic<std::uint64_t> cancelled{0};  // saw cancelled_error and rethrew it
  std::atomic<std::uint64_t> swallowed{0};  // saw cancelled_error and returned a value instead
};

/// Value a swallowing task returns, distinct from every id.
constexpr std::uint64_t swallowed_mark = std::uint64_t{1} << 40;

/// Three steps, each a sleep of 0-5 ms or a run of 1-20 yields, chosen from the task's own seed.
/// Tasks whose id is a multiple of 10 catch the cancellation, clean up and return a marked value
/// (allowed: "a task that catches it may clean up and must rethrow or return"); the others rethrow.
coreio::task<std::uint64_t> sleeper_or_yielder(std::uint64_t id, body_counts& c) {
  c.started.fetch_add(1, std::memory_order_relaxed);
  std::minstd_rand rng(static_cast<std::uint32_t>(id + 1));
  try {
    for (int step = 0; step < 3; ++step) {
      if (rng() % 2 == 0) {
        co_await coreio::sleep_for(std::chrono::microseconds(rng() % 5001));
      } else {
        const std::uint32_t n = 1 + rng() % 20;
        for (std::uint32_t i = 0; i < n; ++i) co_await coreio::yield_now();
      }
    }
  } catch (const coreio::cancelled_error&) {
    if (id % 10 == 0) {
      c.swallowed.fetch_add(1, std::memory_order_relaxed);
      co_return swallowed_mark + id;
    }
    c.cancelled.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
  c.finished.fetch_add(1, std::memory_order_relaxed);
  co_return id;
}

TEST(CancelStress, PlainThreadCancelsRandomHalfOfHundredThousandRunningTasks) {
  const std::size_t n = 100'000;
  body_counts c;
  std::vector<coreio::join_handle<std::uint64_t>> hs(n);
  std::atomic<std::size_t> published{0};  // hs[0, published) are spawned

  // A random half, cancelled in random order.
  std::vector<std::size_t> victims(n);
  std::iota(victims.begin(), victims.end(), std::size_t{0});
  std::mt19937_64 rng(20240611);
  std::shuffle(victims.begin(), victims.end(), rng);
  victims.resize(n / 2);
  std::vector<char> selected(n, 0);
  for (std::size_t v : victims) selected[v] = 1;

  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  // The canceller starts while the spawner is still spawning: a victim is cancelled as soon as its
  // handle is published, so cancels land before the first run, during sleeps, yields, and after the end.
  std::thread canceller([&] {
    for (std::size_t v : victims) {
      // Acquire pairs with the release below: hs[v] is fully assigned.
      while (published.load(std::memory_order_acquire) <= v) std::this_thread::yield();
      hs[v].cancel();
    }
  });
  for (std::size_t i = 0; i < n; ++i) {
    hs[i] = rt.spawn(sleeper_or_yielder(i, c));
    published.store(i + 1, std::memory_order_release);
  }
  canceller.join();

  std::uint64_t values = 0, cancelled = 0, swallowed = 0, other = 0;
  for (std::size_t i = 0; i < n; ++i) {
    try {
      const std::uint64_t v = hs[i].get();
      if (v == i) {
        ++values;
      } else if (v == swallowed_mark + i) {
        ++swallowed;
        EXPECT_TRUE(selected[i]) << "task " << i << " swallowed a cancel it was never sent";
      } else {
        ADD_FAILURE() << "task " << i << " returned " << v;
        ++other;
      }
    } catch (const coreio::cancelled_error&) {
      ++cancelled;
      EXPECT_TRUE(selected[i]) << "task " << i << " was cancelled but never selected";
    } catch (...) {
      ADD_FAILURE() << "task " << i << " ended with an unexpected exception";
      ++other;
    }
  }

  // Every task ended exactly once, and the handles agree with what the bodies saw: the tasks
  // cancelled before they first ran are the cancelled ones whose bodies never started.
  EXPECT_EQ(values + cancelled + swallowed, n);
  EXPECT_EQ(other, 0u);
  const std::uint64_t never_ran = n - c.started.load();
  EXPECT_EQ(c.finished.load(), values);
  EXPECT_EQ(c.cancelled.load() + never_ran, cancelled);
  EXPECT_EQ(c.swallowed.load(), swallowed);
  // Every unselected task finished normally, so at least half did.
  EXPECT_GE(values, n - victims.size());
  RecordProperty("cancelled", std::to_string(cancelled + swallowed));

  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_EQ(m.tasks_alive, 0u);
  EXPECT_EQ(m.tasks_spawned, n);
  EXPECT_EQ(m.tasks_completed, n);
}

TEST(CancelStress, CancellingSleepersMidSleepEndsThemAllAtOnce) {
  // Tasks sleeping "forever" can only end by cancellation: every one must, exactly once, and the
  // cancel of a sleep on another worker's timer heap must resume it promptly.
  const std::size_t n = 20'000;
  std::atomic<std::uint64_t> asleep{0}, woke{0};
  auto forever = [&]() -> coreio::task<void> {
    try {
      // Counted once suspended in the sleep, so that every cancel below lands mid-sleep.
      co_await coreio_test::count_suspension(coreio::sleep_for(std::chrono::hours(24)), &asleep);
    } catch (const coreio::cancelled_error&) {
      woke.fetch_add(1);
      throw;
    }
  };
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::vector<coreio::join_handle<void>> hs;
  hs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) hs.push_back(rt.spawn(forever()));
  while (asleep.load() < n) std::this_thread::sleep_for(1ms);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& h : hs) h.cancel();
  std::size_t cancelled = 0;
  for (auto& h : hs) {
    try {
      h.get();
    } catch (const coreio::cancelled_error&) {
      ++cancelled;
    }
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(cancelled, n);
  EXPECT_EQ(woke.load(), n);
  EXPECT_LT(took, std::chrono::seconds(60));  // not the 24 h of the sleep
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
}

TEST(CancelStress, CancelledGathersCancelEveryChildExactlyOnce) {
  // 2,000 roots, each gathering 10 children that sleep 0-5 ms; half the roots are cancelled. Each
  // child that started either finishes or sees cancelled_error, never both, never neither. (A root
  // cancelled before its gather starts never starts its children: gather then throws at once.)
  const std::size_t roots = 2'000;
  constexpr std::size_t fan = 10;
  std::atomic<std::uint64_t> child_started{0}, child_finished{0}, child_cancelled{0};

  auto child = [&](std::uint64_t seed) -> coreio::task<std::uint64_t> {
    child_started.fetch_add(1);
    std::minstd_rand rng(static_cast<std::uint32_t>(seed + 1));
    try {
      co_await coreio::sleep_for(std::chrono::microseconds(rng() % 5001));
      co_await coreio::yield_now();
    } catch (const coreio::cancelled_error&) {
      child_cancelled.fetch_add(1);
      throw;
    }
    child_finished.fetch_add(1);
    co_return 1;
  };
  auto root = [&](std::uint64_t r) -> coreio::task<std::uint64_t> {
    std::vector<coreio::task<std::uint64_t>> cs;
    for (std::size_t k = 0; k < fan; ++k) cs.push_back(child(r * fan + k));
    auto rs = co_await coreio::gather(std::move(cs));
    co_return std::accumulate(rs.begin(), rs.end(), std::uint64_t{0});
  };

  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::vector<coreio::join_handle<std::uint64_t>> hs;
  for (std::size_t r = 0; r < roots; ++r) hs.push_back(rt.spawn(root(r)));
  std::thread canceller([&] {
    for (std::size_t r = 0; r < roots; r += 2) hs[r].cancel();
  });
  canceller.join();

  std::uint64_t ok = 0, cancelled = 0;
  for (std::size_t r = 0; r < roots; ++r) {
    try {
      EXPECT_EQ(hs[r].get(), fan);
      ++ok;
    } catch (const coreio::cancelled_error&) {
      EXPECT_EQ(r % 2, 0u) << "root " << r << " was never cancelled";
      ++cancelled;
    }
  }
  EXPECT_EQ(ok + cancelled, roots);
  EXPECT_EQ(child_finished.load() + child_cancelled.load(), child_started.load());
  EXPECT_LE(child_started.load(), roots * fan);
  // A root that returned normally had all ten children finish; every uncancelled root is one.
  EXPECT_GE(child_finished.load(), ok * fan);
  EXPECT_GE(ok, roots / 2);
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
}

}  // namespace
