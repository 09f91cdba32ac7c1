// interval_test.cpp — coreio/interval.hpp: the first tick is immediate and the next ones follow the
// period (never early); the three missed-tick behaviours after a task blocked past several ticks;
// reset; a cancelled tick throws at once and loses no tick; a non-positive period is refused.
#include <coreio/interval.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::prompt;
using coreio_test::stopwatch;
using coreio_test::wait_until;
using steady = std::chrono::steady_clock;

struct tick_log {
  steady::time_point start{};
  std::vector<steady::time_point> deadlines;  // what tick() returned
  std::vector<steady::time_point> completed;  // when it returned
};

coreio::task<void> run_ticks(coreio::interval* iv, int n, tick_log* log) {
  log->start = steady::now();
  for (int i = 0; i < n; ++i) {
    log->deadlines.push_back(co_await iv->tick());
    log->completed.push_back(steady::now());
  }
}

TEST(IntervalTest, TheFirstTickIsImmediateAndTheNextOnesFollowThePeriod) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  stopwatch sw;
  coreio::interval iv{20ms};
  const steady::time_point start = iv.next_tick();
  tick_log log;
  rt.block_on(run_ticks(&iv, 10, &log));
  // Ten ticks are nine periods: at least 180 ms, and nowhere near "never".
  EXPECT_GE(sw.elapsed(), 180ms);
  EXPECT_LT(sw.elapsed(), 180ms + prompt);
  ASSERT_EQ(log.deadlines.size(), 10u);
  EXPECT_LT(log.completed[0] - log.start, prompt);
  for (std::size_t i = 0; i < log.deadlines.size(); ++i) {
    // With burst (the default) the schedule is start + k * period, and no tick is early.
    EXPECT_EQ(log.deadlines[i], start + static_cast<int>(i) * 20ms);
    EXPECT_GE(log.completed[i], log.deadlines[i]);
  }
  EXPECT_EQ(iv.next_tick(), start + 200ms);
}

TEST(IntervalTest, ReportsItsPeriodAndBehaviour) {
  coreio::interval iv{15ms, coreio::missed_tick_behavior::skip};
  EXPECT_EQ(iv.period(), 15ms);
  EXPECT_EQ(iv.missed_tick_behavior(), coreio::missed_tick_behavior::skip);
  iv.set_missed_tick_behavior(coreio::missed_tick_behavior::delay);
  EXPECT_EQ(iv.missed_tick_behavior(), coreio::missed_tick_behavior::delay);
  coreio::interval by_default{15ms};
  EXPECT_EQ(by_default.missed_tick_behavior(), coreio::missed_tick_behavior::burst);
}

TEST(IntervalTest, RejectsANonPositivePeriod) {
  EXPECT_THROW(coreio::interval{0ms}, std::invalid_argument);
  EXPECT_THROW(coreio::interval{-1ms}, std::invalid_argument);
}

/// What happened around a missed tick: the task ticks once, blocks its worker for `block` (a
/// missed tick, on purpose), then ticks `after` more times.
struct missed_log {
  steady::time_point start{};
  steady::time_point block_end{};
  std::vector<steady::time_point> deadlines;
  std::vector<steady::time_point> completed;
  std::vector<steady::time_point> next_after;  // iv.next_tick() after each tick
};

coreio::task<void> miss_ticks(coreio::interval* iv, steady::duration block, int after,
                              missed_log* log) {
  log->start = iv->next_tick();
  (void)co_await iv->tick();
  std::this_thread::sleep_for(block);  // blocks the worker: the task misses ticks
  log->block_end = steady::now();
  for (int i = 0; i < after; ++i) {
    log->deadlines.push_back(co_await iv->tick());
    log->completed.push_back(steady::now());
    log->next_after.push_back(iv->next_tick());
  }
}

// Period 50 ms, blocked for 175 ms after the first tick: the deadlines at 50, 100 and 150 ms are
// missed (the next one of the schedule is 200 ms).
constexpr auto k_period = 50ms;
constexpr auto k_block = 175ms;

TEST(IntervalTest, BurstCatchesUpWithTheMissedTicksAtOnceAndKeepsTheSchedule) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::interval iv{k_period, coreio::missed_tick_behavior::burst};
  missed_log log;
  rt.block_on(miss_ticks(&iv, k_block, 4, &log));
  ASSERT_EQ(log.deadlines.size(), 4u);
  // The three missed ticks, one per call, each returning its own deadline ...
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(log.deadlines[static_cast<std::size_t>(i)], log.start + (i + 1) * k_period);
    EXPECT_LT(log.completed[static_cast<std::size_t>(i)] - log.block_end, prompt);
  }
  // ... then the schedule goes on where it was: the fourth waits for start + 200 ms (or later).
  EXPECT_EQ(log.deadlines[3], log.start + 4 * k_period);
  EXPECT_GE(log.completed[3], log.start + 4 * k_period);
  EXPECT_EQ(log.next_after[3], log.start + 5 * k_period);
}

TEST(IntervalTest, DelayPutsOnePeriodBetweenTheLateTickAndTheNext) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::interval iv{k_period, coreio::missed_tick_behavior::delay};
  missed_log log;
  rt.block_on(miss_ticks(&iv, k_block, 2, &log));
  ASSERT_EQ(log.deadlines.size(), 2u);
  // The late tick (deadline 50 ms) completes at once ...
  EXPECT_EQ(log.deadlines[0], log.start + k_period);
  EXPECT_LT(log.completed[0] - log.block_end, prompt);
  // ... and the next one is a full period after it, off the original schedule.
  EXPECT_GE(log.next_after[0], log.block_end + k_period);
  EXPECT_LE(log.next_after[0], log.completed[0] + k_period);
  EXPECT_EQ(log.deadlines[1], log.next_after[0]);
  EXPECT_GE(log.completed[1] - log.completed[0], k_period);
  EXPECT_GE(log.next_after[1], log.deadlines[1] + k_period);
}

TEST(IntervalTest, SkipDropsTheMissedTicksAndStaysOnTheSchedule) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::interval iv{k_period, coreio::missed_tick_behavior::skip};
  missed_log log;
  rt.block_on(miss_ticks(&iv, k_block, 2, &log));
  ASSERT_EQ(log.deadlines.size(), 2u);
  EXPECT_EQ(log.deadlines[0], log.start + k_period);
  EXPECT_LT(log.completed[0] - log.block_end, prompt);
  // The next deadline is the first point of start + k * period after the late tick completed:
  // 200 ms here unless the machine was very slow; the ticks at 100 and 150 ms are gone.
  const steady::time_point next = log.next_after[0];
  EXPECT_EQ((next - log.start) % k_period, steady::duration::zero());
  EXPECT_GT(next, log.completed[0]);
  EXPECT_LE(next, log.completed[0] + k_period);
  EXPECT_GE(next, log.start + 4 * k_period);
  EXPECT_EQ(log.deadlines[1], next);
  EXPECT_GE(log.completed[1], next);
}

coreio::task<void> tick_reset_tick(coreio::interval* iv, steady::time_point* reset_at,
                                   steady::time_point* second, steady::time_point* second_done) {
  (void)co_await iv->tick();
  co_await coreio::sleep_for(30ms);
  *reset_at = steady::now();
  iv->reset();
  *second = co_await iv->tick();
  *second_done = steady::now();
}

TEST(IntervalTest, ResetPutsTheNextTickOnePeriodFromNow) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::interval iv{50ms};
  steady::time_point reset_at{}, second{}, second_done{};
  rt.block_on(tick_reset_tick(&iv, &reset_at, &second, &second_done));
  // Without the reset the second tick would have come 20 ms after reset_at.
  EXPECT_GE(second, reset_at + 50ms);
  EXPECT_GE(second_done, reset_at + 50ms);
}

coreio::task<steady::duration> tick_twice_after_reset_immediately(coreio::interval* iv) {
  (void)co_await iv->tick();
  iv->reset_immediately();
  const auto t0 = steady::now();
  (void)co_await iv->tick();
  co_return steady::now() - t0;
}

TEST(IntervalTest, ResetImmediatelyMakesTheNextTickComeAtOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::interval iv{10s};
  EXPECT_LT(rt.block_on(tick_twice_after_reset_immediately(&iv)), prompt);
}

/// Sets *waiting once asleep in the second tick.
coreio::task<void> tick_then_wait(coreio::interval* iv, std::atomic<bool>* waiting,
                                  std::atomic<bool>* cancelled) {
  (void)co_await iv->tick();
  try {
    (void)co_await coreio_test::count_suspension(iv->tick(), waiting);
  } catch (const coreio::cancelled_error&) {
    cancelled->store(true);
    throw;
  }
}

coreio::task<steady::time_point> one_tick(coreio::interval* iv) { co_return co_await iv->tick(); }

TEST(IntervalTest, CancellingATickThrowsAtOnceAndLosesNoTick) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::interval iv{10s};
  const steady::time_point second = iv.next_tick() + 10s;
  std::atomic<bool> waiting{false}, cancelled{false};
  auto h = rt.spawn(tick_then_wait(&iv, &waiting, &cancelled));
  ASSERT_TRUE(wait_until([&] { return waiting.load(); }));  // asleep in the tick
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(cancelled.load());
  // The cancelled tick is still the next one.
  EXPECT_EQ(iv.next_tick(), second);
  iv.reset_at(steady::now());
  EXPECT_LE(rt.block_on(one_tick(&iv)), steady::now());
}

}  // namespace
