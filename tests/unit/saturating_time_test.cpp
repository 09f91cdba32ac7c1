// saturating_time_test.cpp — coreio/detail/saturating_time.hpp, the one helper behind every
// deadline coreio computes: durations of any type clamp to the clock's range and round up, time
// points saturate at time_point::min() / max(), a NaN is refused. Then every public entry point
// that takes a time (sleep_for, sleep_until, wait_for, wait_until) at duration::max(),
// hours::max(), nanoseconds::max(), time_point::max(), the most negative values, negative durations
// and zero: "forever" never completes early (it would, if the deadline had wrapped into the past),
// and "due" completes at once. interval's and condition_variable's entry points are tested beside
// them (interval_test.cpp, sync_condition_variable_test.cpp).
#include <coreio/detail/saturating_time.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <stdexcept>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>
#include <coreio/wait_for.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio::detail::deadline_after;
using coreio::detail::saturating_add;
using coreio::detail::saturating_sub;
using coreio::detail::to_clock_duration;
using steady = std::chrono::steady_clock;
using tp = steady::time_point;
using dur = steady::duration;

// ---- the helper, exact on integral durations (constexpr) ----------------------------------------

static_assert(to_clock_duration(std::chrono::hours::max()) == dur::max());
static_assert(to_clock_duration(std::chrono::hours::min()) == dur::min());
static_assert(to_clock_duration(dur::max()) == dur::max());
static_assert(to_clock_duration(dur::min()) == dur::min());
static_assert(to_clock_duration(std::chrono::seconds(3)) == 3s);
static_assert(to_clock_duration(-2ms) == -2ms);
static_assert(to_clock_duration(std::chrono::seconds(0)) == dur::zero());
// The largest count of a coarse unit that still fits, and one more.
static_assert(to_clock_duration(std::chrono::seconds(dur::max().count() / 1'000'000'000)) ==
              std::chrono::seconds(dur::max().count() / 1'000'000'000));
static_assert(to_clock_duration(std::chrono::seconds(dur::max().count() / 1'000'000'000 + 1)) ==
              dur::max());
// Unsigned and narrow representations.
static_assert(to_clock_duration(std::chrono::duration<std::uint64_t, std::milli>(
                  std::numeric_limits<std::uint64_t>::max())) == dur::max());
static_assert(to_clock_duration(
                  std::chrono::duration<std::int32_t>(std::numeric_limits<std::int32_t>::min())) ==
              std::chrono::duration<std::int64_t>(std::numeric_limits<std::int32_t>::min()));

static_assert(saturating_add(tp::max(), dur(1ns)) == tp::max());
static_assert(saturating_add(tp::max(), dur::max()) == tp::max());
static_assert(saturating_add(tp::min(), dur(-1ns)) == tp::min());
static_assert(saturating_add(tp::min(), dur::min()) == tp::min());
static_assert(saturating_add(tp(-5s), dur::max()) == tp::max() - 5s);
static_assert(saturating_add(tp(1s), dur(2s)) == tp(3s));
static_assert(saturating_add(tp(1s), dur(-2s)) == tp(-1s));
static_assert(saturating_add(tp::max() - 5ns, dur(4ns)) == tp::max() - 1ns);

static_assert(saturating_sub(tp::max(), tp::min()) == dur::max());
static_assert(saturating_sub(tp::min(), tp::max()) == dur::min());
static_assert(saturating_sub(tp::max(), tp(-1ns)) == dur::max());
static_assert(saturating_sub(tp(3s), tp(1s)) == 2s);
static_assert(saturating_sub(tp(1s), tp(3s)) == -2s);

// ---- floating point and units finer than a tick -------------------------------------------------

TEST(SaturatingTimeTest, FloatingPointDurationsRoundUpAndClamp) {
  using dsec = std::chrono::duration<double>;
  EXPECT_EQ(to_clock_duration(dsec(1.5)), 1500ms);
  EXPECT_EQ(to_clock_duration(dsec(1.5e-9)), 2ns) << "rounded up: never early";
  EXPECT_EQ(to_clock_duration(std::chrono::duration<double, std::nano>(0.25)), 1ns);
  EXPECT_EQ(to_clock_duration(dsec(-1.5e-9)), -1ns);
  EXPECT_EQ(to_clock_duration(dsec(1e300)), dur::max());
  EXPECT_EQ(to_clock_duration(dsec(-1e300)), dur::min());
  EXPECT_EQ(to_clock_duration(dsec(std::numeric_limits<double>::infinity())), dur::max());
  EXPECT_EQ(to_clock_duration(dsec(-std::numeric_limits<double>::infinity())), dur::min());
  EXPECT_EQ(to_clock_duration(dsec::max()), dur::max());
  EXPECT_EQ(to_clock_duration(std::chrono::duration<float, std::ratio<3600>>::max()), dur::max());
  // Just below the limit in double: the conversion must not overflow (a double this close to
  // 2^63 ns is at most the largest double below it).
  const double near = static_cast<double>(dur::max().count()) * (1.0 - 1e-15);
  const dur d = to_clock_duration(std::chrono::duration<double, std::nano>(near));
  EXPECT_GT(d, dur::max() / 2);
  EXPECT_LE(d, dur::max());
}

TEST(SaturatingTimeTest, ATimePointPlusADurationBeyondTheClocksRangeSaturatesFromAnyStart) {
  for (tp t : {tp(1s), tp(-5s), tp::max(), tp(0s), steady::now()}) {
    EXPECT_EQ(saturating_add(t, std::chrono::hours::max()), tp::max());
    EXPECT_EQ(saturating_add(t, std::chrono::duration<double>::max()), tp::max());
  }
  for (tp t : {tp(1s), tp(-5s), tp::min(), tp(0s), steady::now()}) {
    EXPECT_EQ(saturating_add(t, std::chrono::hours::min()), tp::min());
  }
  // Beyond the range of a duration, but not of the sum: from min(), 2^63 ns and a bit later.
  const auto past_max =
      std::chrono::duration<std::int64_t, std::micro>(dur::max().count() / 1000 + 2);
  const tp r = saturating_add(tp::min(), past_max);
  EXPECT_GT(r, tp(0ns));
  EXPECT_LT(r, tp(1ms));
  EXPECT_EQ(saturating_add(tp(1s), 2s), tp(3s));
  EXPECT_EQ(saturating_add(tp(1s), std::chrono::duration<double>(-2.0)), tp(-1s));
  EXPECT_EQ(saturating_add(tp(1s), std::chrono::nanoseconds::max()), tp::max());
  EXPECT_EQ(saturating_add(tp(-1s), std::chrono::nanoseconds::max()), tp::max() - 1s);
}

TEST(SaturatingTimeTest, UnitsFinerThanATickRoundUp) {
  using ps = std::chrono::duration<std::int64_t, std::pico>;
  EXPECT_EQ(to_clock_duration(ps(1)), 1ns);
  EXPECT_EQ(to_clock_duration(ps(1000)), 1ns);
  EXPECT_EQ(to_clock_duration(ps(1001)), 2ns);
  EXPECT_EQ(to_clock_duration(ps(-1500)), -1ns);
  EXPECT_EQ(to_clock_duration(ps::max()), dur(ps::max().count() / 1000 + 1));
}

coreio::task<int> yield_then(int v) {
  co_await coreio::yield_now();
  co_return v;
}

TEST(SaturatingTimeTest, ANaNDurationIsRefused) {
  const std::chrono::duration<double> nan{std::numeric_limits<double>::quiet_NaN()};
  EXPECT_THROW((void)to_clock_duration(nan), std::invalid_argument);
  EXPECT_THROW((void)saturating_add(steady::now(), nan), std::invalid_argument);
  EXPECT_THROW((void)deadline_after(nan), std::invalid_argument);
  EXPECT_THROW((void)coreio::sleep_for(nan), std::invalid_argument);
  EXPECT_THROW((void)coreio::wait_for(yield_then(1), nan), std::invalid_argument);
}

TEST(SaturatingTimeTest, DeadlineAfterIsNowForZeroOrLessAndNeverPastTheEnd) {
  const tp before = steady::now();
  const tp zero = deadline_after(0ms);
  const tp negative = deadline_after(-5s);
  const tp most_negative = deadline_after(std::chrono::hours::min());
  const tp after = steady::now();
  for (tp t : {zero, negative, most_negative}) {
    EXPECT_GE(t, before);
    EXPECT_LE(t, after);
  }
  EXPECT_EQ(deadline_after(dur::max()), tp::max());
  EXPECT_EQ(deadline_after(std::chrono::hours::max()), tp::max());
  EXPECT_EQ(deadline_after(std::chrono::nanoseconds::max()), tp::max());
  EXPECT_EQ(deadline_after(std::chrono::duration<double>::max()), tp::max());
  const tp in_a_second = deadline_after(1s);
  EXPECT_GE(in_a_second, after + 1s);
  EXPECT_LE(in_a_second, steady::now() + 1s);
}

// ---- every entry point that takes a time --------------------------------------------------------

/// How long a "forever" wait is watched: long enough that a deadline wrapped into the past (which
/// completes at once) is caught, short enough to keep the test fast.
constexpr auto k_watch = 20ms;

template <class D>
coreio::task<void> sleep_for_task(D d) {
  co_await coreio::sleep_for(d);
}

coreio::task<void> sleep_until_task(tp t) { co_await coreio::sleep_until(t); }

/// How long a due wait is given to complete: only a guard against a hang (a due deadline wrapped
/// into the far future), never a speed bound, since a due sleep completes only after a yield, and
/// a worker descheduled meanwhile would let a short watch fire first.
constexpr auto k_due_guard = 10s;

/// True if t was still waiting after `watch` (wait_for cancelled it), false if it completed.
coreio::task<bool> still_waiting(coreio::task<void> t, std::chrono::milliseconds watch = k_watch) {
  try {
    co_await coreio::wait_for(std::move(t), watch);
  } catch (const coreio::timeout_error&) {
    co_return true;
  }
  co_return false;
}

coreio::task<int> forever_sleeps() {
  int waiting = 0;
  waiting += co_await still_waiting(sleep_for_task(dur::max()));
  waiting += co_await still_waiting(sleep_for_task(std::chrono::hours::max()));
  waiting += co_await still_waiting(sleep_for_task(std::chrono::nanoseconds::max()));
  waiting += co_await still_waiting(sleep_for_task(std::chrono::duration<double>::max()));
  waiting += co_await still_waiting(sleep_until_task(tp::max()));
  waiting += co_await still_waiting(sleep_until_task(tp::max() - 1ns));
  co_return waiting;
}

TEST(SaturatingTimeTest, SleepsAtTheLargestDurationsAndDeadlinesNeverCompleteEarly) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(forever_sleeps()), 6);
}

coreio::task<int> due_sleeps() {
  int waiting = 0;
  waiting += co_await still_waiting(sleep_for_task(0ms), k_due_guard);
  waiting += co_await still_waiting(sleep_for_task(-1ns), k_due_guard);
  waiting += co_await still_waiting(sleep_for_task(dur::min()), k_due_guard);
  waiting += co_await still_waiting(sleep_for_task(std::chrono::hours::min()), k_due_guard);
  waiting +=
      co_await still_waiting(sleep_for_task(std::chrono::duration<double>(-1e300)), k_due_guard);
  waiting += co_await still_waiting(sleep_until_task(tp::min()), k_due_guard);
  waiting += co_await still_waiting(sleep_until_task(steady::now() - 1h), k_due_guard);
  co_return waiting;
}

TEST(SaturatingTimeTest, SleepsAtZeroNegativeAndTheEarliestDeadlinesCompleteAtOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(due_sleeps()), 0);
}

/// 1 if wait_for / wait_until with this limit let a body that suspends finish, 0 if it timed out.
template <class Limit>
coreio::task<int> finishes_within_for(Limit d) {
  try {
    co_return co_await coreio::wait_for(yield_then(1), d);
  } catch (const coreio::timeout_error&) {
    co_return 0;
  }
}

coreio::task<int> finishes_within_until(tp t) {
  try {
    co_return co_await coreio::wait_until(yield_then(1), t);
  } catch (const coreio::timeout_error&) {
    co_return 0;
  }
}

/// A body that sleeps forever under a "forever" limit must still be waiting after k_watch: the
/// limit's timer did not fire at once.
template <class Limit>
coreio::task<void> forever_under_wait_for(Limit d) {
  co_await coreio::wait_for(sleep_for_task(1h), d);
}
coreio::task<void> forever_under_wait_until(tp t) {
  co_await coreio::wait_until(sleep_for_task(1h), t);
}

coreio::task<int> wait_for_limits() {
  int score = 0;
  // The largest limits: the body finishes, and a body that sleeps is not timed out early.
  score += co_await finishes_within_for(dur::max());
  score += co_await finishes_within_for(std::chrono::hours::max());
  score += co_await finishes_within_for(std::chrono::duration<double>::max());
  score += co_await finishes_within_until(tp::max());
  score += co_await still_waiting(forever_under_wait_for(dur::max()));
  score += co_await still_waiting(forever_under_wait_for(std::chrono::hours::max()));
  score += co_await still_waiting(forever_under_wait_until(tp::max()));
  // Zero, negative and the earliest limits: due, so a body that suspends times out.
  score += 10 * co_await finishes_within_for(0ms);
  score += 10 * co_await finishes_within_for(-1ms);
  score += 10 * co_await finishes_within_for(dur::min());
  score += 10 * co_await finishes_within_for(std::chrono::hours::min());
  score += 10 * co_await finishes_within_until(tp::min());
  co_return score;
}

TEST(SaturatingTimeTest, WaitForAndWaitUntilAtEveryExtreme) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(wait_for_limits()), 7);
}

}  // namespace
