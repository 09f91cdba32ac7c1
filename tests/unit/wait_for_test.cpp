// wait_for_test.cpp — coreio/wait_for.hpp: a value in time, timeout_error after the inner task was
// cancelled and has unwound, the inner's own exception, the awaiter's cancellation (not a timeout),
// any awaitable, nesting, and races between the timer, the completion and a cancel.
#include <coreio/wait_for.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/gather.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"
#include "support/test_tasks.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::count_suspension;
using coreio_test::ends_within;
using coreio_test::immediate;
using coreio_test::int_after;
using coreio_test::prompt;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;

/// Sleeps d; records in *unwound, when its frame unwinds for whatever reason, that it has ended.
/// Sets *asleep, if given, once suspended in the sleep.
coreio::task<int> tracked_sleep(std::chrono::microseconds d, int v, std::atomic<int>* unwound,
                                std::atomic<bool>* asleep = nullptr) {
  struct mark {
    std::atomic<int>* n;
    ~mark() { n->fetch_add(1); }
  } m{unwound};
  if (asleep != nullptr) {
    co_await count_suspension(coreio::sleep_for(d), asleep);
  } else {
    co_await coreio::sleep_for(d);
  }
  co_return v;
}

// ---- in time -----------------------------------------------------------------------------------

coreio::task<std::string> values_in_time() {
  const int a = co_await coreio::wait_for(immediate(1), 10s);
  const int b = co_await coreio::wait_for(int_after(1ms, 2), 10s);
  auto text = [](int n) -> coreio::task<std::string> {
    co_return std::string(static_cast<std::size_t>(n), 'x');
  };
  const std::string c = co_await coreio::wait_for(text(3), 10s);
  auto nothing = []() -> coreio::task<void> { co_await coreio::sleep_for(1ms); };
  co_await coreio::wait_for(nothing(), 10s);
  co_return std::to_string(a) + std::to_string(b) + c;
}

TEST(WaitForTest, ReturnsTheValueOfATaskThatFinishesInTime) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(values_in_time()), "12xxx");
}

coreio::task<int> in_time_with_huge_limits() {
  int a = co_await coreio::wait_for(int_after(1ms, 1), std::chrono::hours::max());
  int b =
      co_await coreio::wait_until(int_after(1ms, 2), std::chrono::steady_clock::time_point::max());
  co_return a + b;
}

TEST(WaitForTest, HugeDurationsAndDeadlinesDoNotOverflow) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(in_time_with_huge_limits()), 3);
}

// ---- timeout -----------------------------------------------------------------------------------

coreio::task<bool> times_out(std::atomic<int>* unwound) {
  try {
    co_await coreio::wait_for(tracked_sleep(10s, 1, unwound), 5ms);
  } catch (const coreio::timeout_error&) {
    // The inner task has finished unwinding before wait_for throws.
    co_return unwound->load() == 1;
  }
  co_return false;
}

TEST(WaitForTest, ThrowsTimeoutErrorAfterTheInnerTaskHasUnwound) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> unwound{0};
  stopwatch sw;
  EXPECT_TRUE(rt.block_on(times_out(&unwound)));
  EXPECT_LT(sw.elapsed(), prompt);
}

coreio::task<int> zero_timeout_on_a_sleeping_task() {
  co_return co_await coreio::wait_for(int_after(10s, 1), 0ms);
}

TEST(WaitForTest, AZeroTimeoutOnASleepingTaskTimesOut) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_THROW(rt.block_on(zero_timeout_on_a_sleeping_task()), coreio::timeout_error);
}

coreio::task<int> catches_cancel_and_returns(int v) {
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    co_return v;  // cleaned up and produced a value anyway: wait_for must not lose it
  }
  co_return -1;
}

TEST(WaitForTest, AValueProducedDuringTheTimeoutIsReturnedNotLost) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto body = []() -> coreio::task<int> {
    co_return co_await coreio::wait_for(catches_cancel_and_returns(9), 2ms);
  };
  EXPECT_EQ(rt.block_on(body()), 9);
}

coreio::task<int> fails_after(std::chrono::microseconds d, int v) {
  co_await coreio::sleep_for(d);
  throw test_error(v);
}

TEST(WaitForTest, TheInnerTasksOwnExceptionPassesThrough) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto body = []() -> coreio::task<int> {
    co_return co_await coreio::wait_for(fails_after(1ms, 4), 10s);
  };
  try {
    rt.block_on(body());
    FAIL() << "no exception";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 4);
  }
}

coreio::task<int> throws_on_cancel(int v) {
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    throw test_error(v);  // a clean-up that fails: the caller sees this error, not a timeout
  }
  co_return -1;
}

TEST(WaitForTest, AnErrorRaisedWhileUnwindingFromTheTimeoutIsReported) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto body = []() -> coreio::task<int> {
    co_return co_await coreio::wait_for(throws_on_cancel(5), 2ms);
  };
  EXPECT_THROW(rt.block_on(body()), test_error);
}

// ---- nesting -----------------------------------------------------------------------------------

coreio::task<int> inner_limit(std::chrono::milliseconds inner) {
  co_return co_await coreio::wait_for(int_after(10s, 1), inner);
}

TEST(WaitForTest, NestedTimeoutsReportTheOneThatFired) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  // The inner limit fires first: its timeout_error passes through the outer wait_for as the inner
  // task's own exception.
  auto inner_fires = []() -> coreio::task<int> {
    co_return co_await coreio::wait_for(inner_limit(2ms), 10s);
  };
  EXPECT_THROW(rt.block_on(inner_fires()), coreio::timeout_error);
  // The outer limit fires first: the inner wait_for sees a cancel (not its own timeout), unwinds,
  // and the outer reports its timeout.
  auto outer_fires = []() -> coreio::task<int> {
    co_return co_await coreio::wait_for(inner_limit(10s), 2ms);
  };
  EXPECT_THROW(rt.block_on(outer_fires()), coreio::timeout_error);
}

// ---- cancellation of the awaiter -----------------------------------------------------------------

/// Sets *asleep once the inner task is suspended in its sleep.
coreio::task<int> waits_long(std::atomic<int>* unwound, std::atomic<bool>* asleep) {
  co_return co_await coreio::wait_for(tracked_sleep(10s, 1, unwound, asleep), 10s);
}

TEST(WaitForTest, CancellingTheAwaiterCancelsTheInnerTaskAndIsNotATimeout) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> unwound{0};
  std::atomic<bool> asleep{false};
  auto h = rt.spawn(waits_long(&unwound, &asleep));
  ASSERT_TRUE(wait_until([&] { return asleep.load(); }));  // the inner task sleeps
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(unwound.load(), 1);
}

coreio::task<int> flags_run(std::atomic<bool>* ran) {
  ran->store(true);
  co_return 1;
}

/// Sets *asleep once suspended in the first sleep.
coreio::task<int> wait_after_cancel(std::atomic<bool>* ran, std::atomic<bool>* asleep) {
  try {
    co_await count_suspension(coreio::sleep_for(10s), asleep);
  } catch (const coreio::cancelled_error&) {
  }
  co_return co_await coreio::wait_for(flags_run(ran), 10s);  // sticky: throws, never starts it
}

TEST(WaitForTest, AnAlreadyCancelledAwaiterThrowsWithoutStartingTheInnerTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> ran{false}, asleep{false};
  auto h = rt.spawn(wait_after_cancel(&ran, &asleep));
  ASSERT_TRUE(wait_until([&] { return asleep.load(); }));  // the first cancel lands in the sleep
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_FALSE(ran.load());
}

// ---- any awaitable -----------------------------------------------------------------------------

/// Sets *waiting once suspended on the future (inside wait_for's child).
coreio::task<int> future_with_limit(coreio::future<int>* f, std::chrono::milliseconds d,
                                    std::atomic<bool>* waiting) {
  auto probed = count_suspension(*f, waiting);  // an lvalue: wait_for's child references it
  co_return co_await coreio::wait_for(probed, d);
}

TEST(WaitForTest, WorksOnAFuture) {
  // Nothing waits for waiting1, so it outlives the runtime: the suspension probe stores to it after
  // the child has suspended on f1, which may be after the 2 ms timer (fired by the monitor while
  // that worker is descheduled) has ended the wait (tests/support/suspension_probe.hpp).
  std::atomic<bool> waiting1{false};
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> never;
  coreio::future<int> f1 = never.get_future();
  EXPECT_THROW(rt.block_on(future_with_limit(&f1, 2ms, &waiting1)), coreio::timeout_error);

  coreio::promise<int> p;
  coreio::future<int> f2 = p.get_future();
  std::atomic<bool> waiting2{false};
  auto h = rt.spawn(future_with_limit(&f2, 10s, &waiting2));
  ASSERT_TRUE(wait_until([&] { return waiting2.load(); }));  // the value comes while it waits
  p.set_value(11);
  EXPECT_EQ(h.get(), 11);
}

coreio::task<int> join_with_limit(coreio::join_handle<int>* h, std::chrono::milliseconds d) {
  co_return co_await coreio::wait_for(*h, d);
}

TEST(WaitForTest, WorksOnAJoinHandleAndCancelsTheTaskOnTimeout) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> unwound{0};
  auto target = rt.spawn(tracked_sleep(10s, 1, &unwound));
  // Awaiting a join handle forwards a cancel to the task (join_handle.hpp), so the timeout
  // cancels the spawned task and waits for it.
  EXPECT_THROW(rt.block_on(join_with_limit(&target, 2ms)), coreio::timeout_error);
  EXPECT_EQ(unwound.load(), 1);
}

// ---- many and racing ---------------------------------------------------------------------------

coreio::task<int> many_in_time(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) {
    auto one = [](int v) -> coreio::task<int> {
      co_return co_await coreio::wait_for(int_after(std::chrono::microseconds(v % 300), v), 10s);
    };
    ts.push_back(one(i));
  }
  const std::vector<int> r = co_await coreio::gather(std::move(ts));
  int wrong = 0;
  for (int i = 0; i < n; ++i) wrong += r[static_cast<std::size_t>(i)] != i;
  co_return wrong;
}

TEST(WaitForTest, ManyConcurrentLimitsOnAllWorkersEachGiveTheirValue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  EXPECT_EQ(rt.block_on(many_in_time(sanitized(20'000, 2'000))), 0);
  // Every timer was removed (fired ones included): nothing left in any heap keeps a worker awake.
}

struct race_counts {
  std::atomic<int> values{0}, timeouts{0}, cancels{0}, started{0}, unwound{0}, early_returns{0};
};

coreio::task<int> counted_sleep(std::chrono::microseconds d, race_counts* c) {
  c->started.fetch_add(1);
  struct mark {
    std::atomic<int>* n;
    ~mark() { n->fetch_add(1); }
  } m{&c->unwound};
  co_await coreio::sleep_for(d);
  co_return 42;
}

coreio::task<void> racer(std::chrono::microseconds work, std::chrono::microseconds limit,
                         race_counts* c) {
  try {
    const int v = co_await coreio::wait_for(counted_sleep(work, c), limit);
    if (v == 42) c->values.fetch_add(1);
  } catch (const coreio::timeout_error&) {
    c->timeouts.fetch_add(1);
  } catch (const coreio::cancelled_error&) {
    c->cancels.fetch_add(1);
  }
  // Rounds run one at a time: if the inner task started, it has ended before wait_for returned.
  if (c->unwound.load() != c->started.load()) c->early_returns.fetch_add(1);
}

TEST(WaitForTest, TimerCompletionAndCancelRaceAndEveryRoundEndsOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  race_counts c;
  rng r(11);
  const int rounds = sanitized(5'000, 3'000);  // thousands under TSan too (the point of the test)
  for (int i = 0; i < rounds; ++i) {
    const auto work = std::chrono::microseconds(r.below(200));
    const auto limit = std::chrono::microseconds(r.below(200));
    auto h = rt.spawn(racer(work, limit, &c));
    if (r.below(3) == 0) {
      coreio_test::spin_for(std::chrono::microseconds(r.below(150)));
      h.cancel();
    }
    ASSERT_TRUE(ends_within(h)) << "round " << i << " never ended";
    try {
      h.get();
    } catch (const coreio::cancelled_error&) {
      c.cancels.fetch_add(1);  // cancelled before it first ran: its body never did
    }
  }
  EXPECT_EQ(c.values.load() + c.timeouts.load() + c.cancels.load(), rounds);
  EXPECT_EQ(c.early_returns.load(), 0);
  EXPECT_EQ(c.unwound.load(), c.started.load());
}

}  // namespace
