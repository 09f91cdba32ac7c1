// deadline_test.cpp — wait_for / wait_until with a deadline that is already due (asyncio 3.12's
// wait_for): a task is never started and wait_for throws timeout_error; an awaitable that is ready
// (a queue holding an item, a set future) gives its value, one that would suspend times out; a
// timed-out queue get loses no item. Zero, negative, past and the earliest representable deadlines all count as due;
// the largest durations and deadlines do not overflow. Run at 1 and 2 workers.
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

class DeadlineTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  coreio::runtime_options options() const { return coreio::runtime_options{.workers = GetParam()}; }
};

INSTANTIATE_TEST_SUITE_P(Workers, DeadlineTest, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return std::to_string(info.param) + "Workers";
                         });

/// v after one suspension point.
coreio::task<int> yield_then_return(int v) {
  co_await coreio::yield_now();
  co_return v;
}

/// v without suspending; records that it ran.
coreio::task<int> return_at_once(int v, bool* started) {
  *started = true;
  co_return v;
}

/// A deadline that is already due, in each of the forms the API takes.
enum class due { zero, negative, past, earliest };

/// `body`: a task, or an awaitable (an rvalue, moved into the wrapper as_task makes).
template <class Body>
coreio::task<int> with_due_deadline(Body body, due d) {
  switch (d) {
    case due::zero:
      co_return co_await coreio::wait_for(std::move(body), 0ms);
    case due::negative:
      co_return co_await coreio::wait_for(std::move(body), -11s);
    case due::past:
      co_return co_await coreio::wait_until(std::move(body), steady::now() - 1s);
    case due::earliest:
      co_return co_await coreio::wait_until(std::move(body), steady::time_point::min());
  }
  co_return -1;
}

// ---- a body that suspends times out ------------------------------------------------------------

TEST_P(DeadlineTest, AZeroTimeoutTimesOutABodyThatSuspends) {
  coreio::runtime rt{options()};
  EXPECT_THROW(rt.block_on(with_due_deadline(yield_then_return(1), due::zero)),
               coreio::timeout_error);
}

TEST_P(DeadlineTest, ANegativeTimeoutTimesOutABodyThatSuspends) {
  coreio::runtime rt{options()};
  EXPECT_THROW(rt.block_on(with_due_deadline(yield_then_return(1), due::negative)),
               coreio::timeout_error);
}

TEST_P(DeadlineTest, APastDeadlineTimesOutABodyThatSuspends) {
  coreio::runtime rt{options()};
  EXPECT_THROW(rt.block_on(with_due_deadline(yield_then_return(1), due::past)),
               coreio::timeout_error);
}

TEST_P(DeadlineTest, TheEarliestDeadlineTimesOutABodyThatSuspends) {
  coreio::runtime rt{options()};
  EXPECT_THROW(rt.block_on(with_due_deadline(yield_then_return(1), due::earliest)),
               coreio::timeout_error);
}

// ---- a task is never started; a ready awaitable gives its value -----------------------------

TEST_P(DeadlineTest, ADueDeadlineNeverStartsATask) {
  // asyncio 3.12: wait_for(coro, 0) cancels the task before its first step, so the coroutine's
  // body never runs, even one that would finish without suspending (CPython's
  // test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started).
  coreio::runtime rt{options()};
  for (due d : {due::zero, due::negative, due::past, due::earliest}) {
    bool started = false;
    EXPECT_THROW(rt.block_on(with_due_deadline(return_at_once(7, &started), d)),
                 coreio::timeout_error);
    EXPECT_FALSE(started) << static_cast<int>(d);
  }
}

/// The queue already holds an item: its get() is ready and gives it without suspending.
coreio::task<int> ready_get_with_due_deadline(due d) {
  coreio::queue<int> q{4};
  q.try_put(42);
  co_return co_await with_due_deadline(q.get(), d);
}

TEST_P(DeadlineTest, AReadyQueueGetGivesItsItemDespiteADueDeadline) {
  coreio::runtime rt{options()};
  EXPECT_EQ(rt.block_on(ready_get_with_due_deadline(due::zero)), 42);
  EXPECT_EQ(rt.block_on(ready_get_with_due_deadline(due::negative)), 42);
  EXPECT_EQ(rt.block_on(ready_get_with_due_deadline(due::past)), 42);
  EXPECT_EQ(rt.block_on(ready_get_with_due_deadline(due::earliest)), 42);
}

coreio::task<int> ready_future_with_zero_timeout() {
  coreio::promise<int> p;
  auto f = p.get_future();
  p.set_value(5);
  co_return co_await coreio::wait_for(f, 0ms);
}

TEST_P(DeadlineTest, AReadyAwaitableReturnsItsValueDespiteAZeroTimeout) {
  coreio::runtime rt{options()};
  EXPECT_EQ(rt.block_on(ready_future_with_zero_timeout()), 5);
}

// ---- a timed-out wait loses nothing ------------------------------------------------------------

struct queue_after_timeout {
  bool timed_out = false;
  std::size_t size_after_put = 0;
  std::optional<int> got;
  std::size_t size_after_get = 99;
  int got_by_await = 0;
};

/// A get on an empty queue with a zero timeout; then the queue must behave as if the get had never
/// been: an item put is stored (not handed to a left-over getter), taken, and the queue is empty.
coreio::task<queue_after_timeout> empty_get_with_zero_timeout() {
  coreio::queue<int> q{4};
  queue_after_timeout r;
  try {
    (void)co_await coreio::wait_for(q.get(), 0ms);
  } catch (const coreio::timeout_error&) {
    r.timed_out = true;
  }
  q.try_put(5);
  r.size_after_put = q.size();
  r.got = q.try_get();
  r.size_after_get = q.size();
  co_await q.put(6);
  r.got_by_await = co_await q.get();
  co_return r;
}

TEST_P(DeadlineTest, AZeroTimeoutOnAnEmptyQueueGetTimesOutAndLosesNoItem) {
  coreio::runtime rt{options()};
  const queue_after_timeout r = rt.block_on(empty_get_with_zero_timeout());
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.size_after_put, 1u) << "the item went to a getter left behind by the timeout";
  EXPECT_EQ(r.got, std::optional<int>(5));
  EXPECT_EQ(r.size_after_get, 0u);
  EXPECT_EQ(r.got_by_await, 6);
}

/// An awaitable other than a task: a future nobody sets in time.
coreio::task<bool> unset_future_with_zero_timeout() {
  coreio::promise<int> p;
  auto f = p.get_future();
  bool timed_out = false;
  try {
    (void)co_await coreio::wait_for(f, 0ms);
  } catch (const coreio::timeout_error&) {
    timed_out = true;
  }
  p.set_value(1);  // the withdrawn waiter is not woken: nothing to crash on
  co_return timed_out&& f.ready();
}

TEST_P(DeadlineTest, AZeroTimeoutOnAnUnsetFutureTimesOut) {
  coreio::runtime rt{options()};
  EXPECT_TRUE(rt.block_on(unset_future_with_zero_timeout()));
}

// ---- the largest limits do not overflow --------------------------------------------------------

coreio::task<int> with_largest_limits() {
  int sum = 0;
  sum += co_await coreio::wait_for(yield_then_return(1), steady::duration::max());
  sum += co_await coreio::wait_for(yield_then_return(2), std::chrono::hours::max());
  sum += co_await coreio::wait_for(yield_then_return(4), std::chrono::nanoseconds::max());
  sum += co_await coreio::wait_until(yield_then_return(8), steady::time_point::max());
  co_return sum;
}

TEST_P(DeadlineTest, TheLargestLimitsDoNotOverflow) {
  coreio::runtime rt{options()};
  coreio_test::stopwatch sw;
  EXPECT_EQ(rt.block_on(with_largest_limits()), 15);
  EXPECT_LT(sw.elapsed(), coreio_test::prompt);
}

}  // namespace
