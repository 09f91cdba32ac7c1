// as_completed_test.cpp — coreio/as_completed.hpp (asyncio.as_completed): results in completion
// order, range-for and next() forms, an exception rethrown by its own await while the others still
// come, a cancelled next() loses nothing, destroying the set cancels what was not taken and leaks
// nothing, the empty set, next() past the end, task<void>, a wide fan-out, a cancel race loop.
#include <coreio/as_completed.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"
#include "support/test_tasks.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::count_suspension;
using coreio_test::ends_within;
using coreio_test::fail_after;
using coreio_test::immediate;
using coreio_test::int_after;
using coreio_test::prompt;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::void_after;
using coreio_test::wait_until;

static_assert(std::is_move_constructible_v<coreio::completion_set<int>>);
static_assert(!std::is_copy_constructible_v<coreio::completion_set<int>>);

coreio::task<int> wait_gate(coreio::future<int> f) { co_return co_await f; }

struct sleeper_probe {
  std::atomic<int> started{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> finished{0};
};

coreio::task<int> sleep_long(sleeper_probe* p, std::shared_ptr<int> token) {
  p->started.fetch_add(1);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    p->cancelled.fetch_add(1);
    throw;
  }
  p->finished.fetch_add(1);
  co_return *token;
}

// ---- order ------------------------------------------------------------------------------------

/// v after *go is set (at once without one) and a sleep of d.
coreio::task<int> int_after_go(coreio::event* go, std::chrono::microseconds d, int v) {
  if (go != nullptr) co_await go->wait();
  co_await coreio::sleep_for(d);
  co_return v;
}

coreio::task<std::vector<int>> sleepers_in_completion_order() {
  // Sleepers spawned in an order unrelated to the order they end in: each starts its sleep once
  // the result before it has been taken (go), so they end in the order 0, 1, 2, 3 whatever the
  // spawns' skew (sleeps of different lengths started together race a stalled worker).
  coreio::event go[3];
  std::vector<coreio::task<int>> ts;
  ts.push_back(int_after_go(&go[2], 3ms, 3));
  ts.push_back(int_after_go(nullptr, 0ms, 0));
  ts.push_back(int_after_go(&go[1], 2ms, 2));
  ts.push_back(int_after_go(&go[0], 1ms, 1));
  std::vector<int> got;
  auto set = coreio::as_completed(std::move(ts));
  while (set.remaining() > 0) {
    got.push_back(co_await set.next());
    if (got.size() <= 3) go[got.size() - 1].set();
  }
  co_return got;
}

TEST(AsCompletedTest, ResultsComeInCompletionOrder) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  auto h = rt->spawn(sleepers_in_completion_order());
  if (!ends_within(h)) {
    (void)rt.release();  // a result held back for one not yet ended: the chain never moves on
    FAIL() << "as_completed did not hand out the first result to end";
  }
  EXPECT_EQ(h.get(), (std::vector<int>{0, 1, 2, 3}));
}

struct order_probe {
  coreio::promise<int> release[4];
  std::atomic<int> got[4] = {-1, -1, -1, -1};
  std::atomic<int> count{0};
};

coreio::task<void> collect_gated(order_probe* p) {
  std::vector<coreio::task<int>> ts;
  for (auto& r : p->release) ts.push_back(wait_gate(r.get_future()));
  for (auto next : coreio::as_completed(std::move(ts))) {
    const int v = co_await next;
    p->got[p->count.load()].store(v);
    p->count.fetch_add(1);
  }
}

TEST(AsCompletedTest, EachResultComesAsSoonAsItsTaskEnds) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  order_probe p;
  auto h = rt.spawn(collect_gated(&p));
  // Release in an order unrelated to the input order, one at a time: each result must come before
  // the next task ends (no waiting for the others, no buffering).
  const int order[4] = {2, 0, 3, 1};
  for (int k = 0; k < 4; ++k) {
    p.release[order[k]].set_value(10 * order[k]);
    ASSERT_TRUE(wait_until([&] { return p.count.load() == k + 1; }))
        << "result " << k << " never came";
    EXPECT_EQ(p.got[k].load(), 10 * order[k]);
  }
  ASSERT_TRUE(ends_within(h));
  h.get();
}

// ---- forms ------------------------------------------------------------------------------------

coreio::task<long> range_for_sum(int n) {
  std::vector<coreio::task<int>> ts;
  rng r(5);
  for (int i = 0; i < n; ++i) ts.push_back(int_after(std::chrono::microseconds(r.below(2000)), i));
  long sum = 0;
  int count = 0;
  for (auto next : coreio::as_completed(std::move(ts))) {
    sum += co_await next;
    ++count;
  }
  co_return count == n ? sum : -1;
}

TEST(AsCompletedTest, RangeForGivesEveryResultOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const int n = 50;
  EXPECT_EQ(rt.block_on(range_for_sum(n)), static_cast<long>(n) * (n - 1) / 2);
}

coreio::task<std::string> next_form(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(int_after(std::chrono::microseconds(100 * (n - i)), i));
  auto set = coreio::as_completed(std::move(ts));
  if (set.size() != static_cast<std::size_t>(n)) co_return "size";
  std::set<int> seen;
  for (int k = 0; k < n; ++k) {
    if (set.remaining() != static_cast<std::size_t>(n - k))
      co_return "remaining before " + std::to_string(k);
    seen.insert(co_await set.next());
  }
  if (set.remaining() != 0) co_return "remaining at the end";
  if (seen.size() != static_cast<std::size_t>(n)) co_return "duplicates";
  co_return "ok";
}

TEST(AsCompletedTest, NextGivesEveryResultOnceAndCountsWhatRemains) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(next_form(20)), "ok");
}

coreio::task<int> wide(int n) {
  std::vector<coreio::task<int>> ts;
  ts.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ts.push_back(immediate(1));
  int sum = 0;
  for (auto next : coreio::as_completed(std::move(ts))) sum += co_await next;
  co_return sum;
}

TEST(AsCompletedTest, AWideFanOutOnFourWorkersGivesEveryResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  const int n = sanitized(10'000, 1'000);
  EXPECT_EQ(rt.block_on(wide(n)), n);
}

coreio::task<void> fail_void(std::chrono::microseconds d) {
  co_await coreio::sleep_for(d);
  throw test_error(4);
}

coreio::task<int> void_tasks(std::atomic<int>* ran) {
  std::vector<coreio::task<void>> ts;
  for (int i = 0; i < 5; ++i) ts.push_back(void_after(std::chrono::microseconds(200 * i), ran));
  ts.push_back(fail_void(500us));
  int ok = 0;
  int failed = 0;
  for (auto next : coreio::as_completed(std::move(ts))) {
    try {
      co_await next;
      ++ok;
    } catch (const test_error&) {
      ++failed;
    }
  }
  co_return ok * 10 + failed;
}

TEST(AsCompletedTest, WorksWithVoidTasks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> ran{0};
  EXPECT_EQ(rt.block_on(void_tasks(&ran)), 51);
  EXPECT_EQ(ran.load(), 5);
}

coreio::task<std::string> move_only_results() {
  auto boxed = [](int v) -> coreio::task<std::unique_ptr<int>> {
    co_return std::make_unique<int>(v);
  };
  std::vector<coreio::task<std::unique_ptr<int>>> ts;
  ts.push_back(boxed(1));
  ts.push_back(boxed(2));
  int sum = 0;
  for (auto next : coreio::as_completed(std::move(ts))) {
    std::unique_ptr<int> p = co_await next;
    sum += *p;
  }
  co_return std::to_string(sum);
}

TEST(AsCompletedTest, WorksWithMoveOnlyResults) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(move_only_results()), "3");
}

// ---- exceptions -------------------------------------------------------------------------------

coreio::task<std::string> one_fails() {
  std::vector<coreio::task<int>> ts;
  ts.push_back(int_after(3ms, 1));
  ts.push_back(fail_after(1ms, 9));
  ts.push_back(int_after(0ms, 2));
  ts.push_back(int_after(5ms, 3));
  int sum = 0;
  int errors = 0;
  int error_value = 0;
  auto set = coreio::as_completed(std::move(ts));
  while (set.remaining() > 0) {
    try {
      sum += co_await set.next();
    } catch (const test_error& e) {
      ++errors;
      error_value = e.value;
    }
  }
  co_return std::to_string(sum) + "/" + std::to_string(errors) + "/" + std::to_string(error_value);
}

TEST(AsCompletedTest, AnExceptionIsRethrownByItsAwaitAndTheOthersStillCome) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(one_fails()), "6/1/9");
}

coreio::task<int> all_fail(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(fail_after(std::chrono::microseconds(100 * i), i));
  int sum = 0;
  for (auto next : coreio::as_completed(std::move(ts))) {
    try {
      (void)co_await next;
    } catch (const test_error& e) {
      sum += e.value;
    }
  }
  co_return sum;
}

TEST(AsCompletedTest, EveryFailureIsReportedOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(all_fail(10)), 45);
}

// ---- usage errors -----------------------------------------------------------------------------

coreio::task<int> empty_set() {
  auto set = coreio::as_completed(std::vector<coreio::task<int>>{});
  int score = 0;
  if (set.size() == 0 && set.remaining() == 0) score += 1;
  for (auto next : set) {
    (void)co_await next;
    score += 100;  // never: there is nothing to iterate over
  }
  try {
    (void)set.next();
  } catch (const coreio::usage_error&) {
    score += 10;
  }
  auto voids = coreio::as_completed(std::vector<coreio::task<void>>{});
  for (auto next : voids) {
    co_await next;
    score += 100;
  }
  co_return score;
}

TEST(AsCompletedTest, AnEmptyVectorGivesAnEmptySet) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(empty_set()), 11);
}

coreio::task<int> next_past_the_end() {
  std::vector<coreio::task<int>> ts;
  ts.push_back(immediate(1));
  ts.push_back(immediate(2));
  auto set = coreio::as_completed(std::move(ts));
  int sum = co_await set.next();
  sum += co_await set.next();
  try {
    (void)set.next();
  } catch (const coreio::usage_error&) {
    sum += 100;
  }
  co_return sum;
}

TEST(AsCompletedTest, NextAfterEveryResultWasTakenThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(next_past_the_end()), 103);
}

coreio::task<int> record_start(std::atomic<int>* started) {
  started->fetch_add(1);
  co_return 1;
}

coreio::task<int> moved_from_task(std::atomic<int>* started) {
  std::vector<coreio::task<int>> ts;
  ts.push_back(record_start(started));
  ts.emplace_back();
  try {
    auto set = coreio::as_completed(std::move(ts));
  } catch (const coreio::usage_error&) {
    co_return started->load() == 0 ? 1 : -1;
  }
  co_return 0;
}

TEST(AsCompletedTest, AMovedFromTaskThrowsUsageErrorAndStartsNothing) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> started{0};
  EXPECT_EQ(rt.block_on(moved_from_task(&started)), 1);
}

TEST(AsCompletedTest, AsCompletedOutsideARuntimeThrowsUsageError) {
  std::vector<coreio::task<int>> ts;
  ts.push_back(immediate(1));
  EXPECT_THROW((void)coreio::as_completed(std::move(ts)), coreio::usage_error);
}

// ---- cancelling next() ------------------------------------------------------------------------

struct shared_set {
  std::unique_ptr<coreio::completion_set<int>> set;
  coreio::promise<int> release[2];
  std::atomic<bool> waiting{false};  // set once suspended in next() (in the sleep: the last test)
  std::atomic<bool> got_cancelled{false};
  std::atomic<int> got{0};
};

coreio::task<int> make_set_and_wait(shared_set* s) {
  std::vector<coreio::task<int>> ts;
  for (auto& r : s->release) ts.push_back(wait_gate(r.get_future()));
  s->set = std::make_unique<coreio::completion_set<int>>(coreio::as_completed(std::move(ts)));
  try {
    co_return co_await count_suspension(s->set->next(), &s->waiting);
  } catch (const coreio::cancelled_error&) {
    s->got_cancelled.store(true);
    throw;
  }
}

coreio::task<int> take_next(shared_set* s) { co_return co_await s->set->next(); }

TEST(AsCompletedTest, CancellingTheTaskBlockedInNextThrowsCancelledErrorAndLosesNoResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  shared_set s;
  auto first = rt.spawn(make_set_and_wait(&s));
  ASSERT_TRUE(wait_until([&] { return s.waiting.load(); }));  // blocked in next()
  stopwatch sw;
  first.cancel();
  ASSERT_TRUE(ends_within(first, prompt));
  EXPECT_THROW(first.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(s.got_cancelled.load());
  // The tasks of the set were not cancelled, and the result the cancelled next() was waiting for
  // goes to the next call, made by another task.
  auto second = rt.spawn(take_next(&s));
  s.release[1].set_value(21);
  ASSERT_TRUE(ends_within(second));
  EXPECT_EQ(second.get(), 21);
  s.release[0].set_value(20);  // the set (destroyed with s) drops this one
}

coreio::task<int> take_all_remaining(shared_set* s) {
  int sum = 0;
  while (s->set->remaining() > 0) sum += co_await s->set->next();
  co_return sum;
}

// A cancelled next() leaves its result in the set: a result counts as handed out only when a
// next() returns it, so remaining() stays right and every result can still be taken.
TEST(AsCompletedTest, AfterACancelledNextEveryResultCanStillBeTaken) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  shared_set s;
  auto first = rt.spawn(make_set_and_wait(&s));
  ASSERT_TRUE(wait_until([&] { return s.waiting.load(); }));  // blocked in next()
  first.cancel();
  ASSERT_TRUE(ends_within(first, prompt));
  EXPECT_THROW(first.get(), coreio::cancelled_error);
  EXPECT_EQ(s.set->remaining(), 2u) << "the cancelled next() took nothing";
  auto second = rt.spawn(take_all_remaining(&s));
  s.release[0].set_value(20);
  s.release[1].set_value(22);
  ASSERT_TRUE(ends_within(second));
  EXPECT_EQ(second.get(), 42);
}

coreio::task<int> next_in_cancelled_task(shared_set* s) {
  std::vector<coreio::task<int>> ts;
  for (auto& r : s->release) ts.push_back(wait_gate(r.get_future()));
  s->set = std::make_unique<coreio::completion_set<int>>(coreio::as_completed(std::move(ts)));
  try {
    co_await count_suspension(coreio::sleep_for(10s), &s->waiting);
  } catch (const coreio::cancelled_error&) {
  }
  try {
    co_return co_await s->set->next();  // sticky: throws without waiting
  } catch (const coreio::cancelled_error&) {
    s->got_cancelled.store(true);
    throw;
  }
}

TEST(AsCompletedTest, NextInAnAlreadyCancelledTaskThrowsAtOnceAndLeavesTheResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  shared_set s;
  auto first = rt.spawn(next_in_cancelled_task(&s));
  ASSERT_TRUE(wait_until([&] { return s.waiting.load(); }));
  first.cancel();
  ASSERT_TRUE(ends_within(first, prompt));
  EXPECT_THROW(first.get(), coreio::cancelled_error);
  EXPECT_TRUE(s.got_cancelled.load());
  auto second = rt.spawn(take_next(&s));
  s.release[0].set_value(7);
  ASSERT_TRUE(ends_within(second));
  EXPECT_EQ(second.get(), 7);
  s.release[1].set_value(8);
}

// ---- destroying the set -----------------------------------------------------------------------

coreio::task<int> drop_set_early(sleeper_probe* p, std::shared_ptr<int> token, int n) {
  int first = 0;
  {
    std::vector<coreio::task<int>> ts;
    ts.push_back(immediate(5));
    for (int i = 0; i < n; ++i) ts.push_back(sleep_long(p, token));
    auto set = coreio::as_completed(std::move(ts));
    first = co_await set.next();  // the immediate one
    while (p->started.load() < n) co_await coreio::sleep_for(100us);
  }  // the others were never taken: cancelled, they unwind on their own
  co_return first;
}

TEST(AsCompletedTest, DestroyingTheSetEarlyCancelsTheRemainingTasksAndLeaksNothing) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sleeper_probe p;
  auto token = std::make_shared<int>(1);
  const int n = 4;
  stopwatch sw;
  EXPECT_EQ(rt.block_on(drop_set_early(&p, token, n)), 5);
  EXPECT_TRUE(wait_until([&] { return p.cancelled.load() == n; }, prompt))
      << p.cancelled.load() << " of " << n << " tasks cancelled";
  EXPECT_EQ(p.finished.load(), 0);
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }))
      << token.use_count() - 1 << " task frame(s) never freed";
  EXPECT_LT(sw.elapsed(), prompt);
}

coreio::task<int> break_out_of_range_for(sleeper_probe* p, std::shared_ptr<int> token, int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(sleep_long(p, token));
  ts.push_back(int_after(1ms, 9));
  int first = 0;
  for (auto next : coreio::as_completed(std::move(ts))) {
    first = co_await next;  // the 1 ms one
    break;                  // the set (the range-for's temporary) is destroyed here
  }
  co_return first;
}

TEST(AsCompletedTest, BreakingOutOfTheRangeForCancelsTheRest) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sleeper_probe p;
  auto token = std::make_shared<int>(1);
  const int n = 3;
  stopwatch sw;
  EXPECT_EQ(rt.block_on(break_out_of_range_for(&p, token, n)), 9);
  EXPECT_TRUE(wait_until(
      [&] { return p.cancelled.load() == p.started.load() && token.use_count() == 1; }, prompt))
      << p.cancelled.load() << " of " << p.started.load() << " started tasks cancelled";
  EXPECT_EQ(p.finished.load(), 0);
  EXPECT_LT(sw.elapsed(), prompt);
}

coreio::task<int> drop_set_untouched(sleeper_probe* p, std::shared_ptr<int> token, int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(sleep_long(p, token));
  auto set = coreio::as_completed(std::move(ts));
  while (p->started.load() < n) co_await coreio::sleep_for(100us);
  co_return static_cast<int>(set.size());
}

TEST(AsCompletedTest, DestroyingAnUntouchedSetCancelsEveryTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sleeper_probe p;
  auto token = std::make_shared<int>(1);
  const int n = 3;
  EXPECT_EQ(rt.block_on(drop_set_untouched(&p, token, n)), n);
  EXPECT_TRUE(wait_until([&] { return p.cancelled.load() == n; }, prompt));
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }));
}

/// v without suspending; bumps *ended as the last act of its body. On one worker, a task that sees
/// the bump runs after this poll ended, so the result has been delivered by then.
coreio::task<int> immediate_counted(int v, std::atomic<int>* ended) {
  ended->fetch_add(1);
  co_return v;
}

coreio::task<int> drop_set_with_results_in(std::shared_ptr<int> token) {
  std::vector<coreio::task<int>> ts;
  std::atomic<int> ended{0};
  for (int i = 0; i < 3; ++i) ts.push_back(immediate_counted(*token, &ended));
  auto set = coreio::as_completed(std::move(ts));
  co_await coreio_test::yield_until(&ended,
                                    3);  // the results are in and stay in the set, never taken
  co_return 0;
}

TEST(AsCompletedTest, DestroyingASetHoldingUntakenResultsFreesThem) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};  // for yield_until above
  auto token = std::make_shared<int>(1);
  EXPECT_EQ(rt.block_on(drop_set_with_results_in(token)), 0);
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }));
}

coreio::task<int> moved_set(std::atomic<int>* ran) {
  std::vector<coreio::task<int>> ts;
  ts.push_back(int_after(1ms, 1));
  ts.push_back(int_after(0ms, 2));
  auto a = coreio::as_completed(std::move(ts));
  coreio::completion_set<int> b = std::move(a);  // the moved-from set cancels nothing when dropped
  int sum = 0;
  for (auto next : b) sum += co_await next;
  ran->store(1);
  co_return sum;
}

TEST(AsCompletedTest, AMovedSetKeepsItsTasks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> ran{0};
  EXPECT_EQ(rt.block_on(moved_set(&ran)), 3);
  EXPECT_EQ(ran.load(), 1);
}

// ---- race: cancelling next() against results coming in ----------------------------------------

struct race_set {
  std::unique_ptr<coreio::completion_set<int>> set;
  std::atomic<bool> ready{false};
};

coreio::task<int> yield_then(int yields, int v) {
  for (int i = 0; i < yields; ++i) co_await coreio::yield_now();
  co_return v;
}

coreio::task<int> race_first_next(race_set* s, int y0, int y1) {
  std::vector<coreio::task<int>> ts;
  ts.push_back(yield_then(y0, 1));
  ts.push_back(yield_then(y1, 2));
  s->set = std::make_unique<coreio::completion_set<int>>(coreio::as_completed(std::move(ts)));
  s->ready.store(true);
  co_return co_await s->set->next();
}

coreio::task<int> race_second_next(race_set* s) { co_return co_await s->set->next(); }

TEST(AsCompletedTest, RaceLoopOfCancellingNextAgainstResultsComingIn) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int iterations = sanitized(1000, 400);
  rng r(99);
  int values = 0;
  int cancels = 0;
  for (int i = 0; i < iterations; ++i) {
    race_set s;
    auto first = rt->spawn(
        race_first_next(&s, static_cast<int>(r.below(10)), static_cast<int>(r.below(10))));
    coreio_test::spin_for(std::chrono::microseconds(r.below(100)));
    first.cancel();
    if (!ends_within(first)) {
      (void)rt.release();
      FAIL() << "iteration " << i << ": the task in next() never ended";
    }
    int a = 0;
    try {
      a = first.get();
      EXPECT_TRUE(a == 1 || a == 2) << "iteration " << i << ": " << a;
      ++values;
    } catch (const coreio::cancelled_error&) {
      ++cancels;
    }
    if (!s.ready.load()) {
      // Cancelled before it first ran: it never made the set.
      EXPECT_EQ(a, 0) << "iteration " << i;
      continue;
    }
    // Whatever happened to the first next(), a later one gets a result the first did not get:
    // never both, never lost.
    auto second = rt->spawn(race_second_next(&s));
    if (!ends_within(second)) {
      (void)rt.release();
      FAIL() << "iteration " << i << ": the second next() never got a result";
    }
    const int b = second.get();
    EXPECT_TRUE(b == 1 || b == 2) << "iteration " << i << ": " << b;
    EXPECT_NE(a, b) << "iteration " << i << ": one result handed out twice";
  }
  EXPECT_EQ(values + cancels, iterations);
  // How the race went (in the XML report): both outcomes should show up over many runs.
  RecordProperty("values", values);
  RecordProperty("cancels", cancels);
}

}  // namespace
