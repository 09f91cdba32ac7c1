// gather_test.cpp — coreio/gather.hpp: tuple and vector forms, children in parallel on the pool,
// first failure cancels and awaits the siblings and is rethrown, cancelling the awaiter cancels
// every child, nesting, and single use; gather_settled (every outcome, no sibling cancelled) and
// when_any (first to end wins, the rest cancelled and awaited), with races between them; a losing
// queue get gives back the item it was handed (none lost, FIFO order kept).
#include <coreio/gather.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include <coreio/current_task.hpp>
#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/outcome.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/queue.hpp>
#include <coreio/time.hpp>

#include "support/test_support.hpp"
#include "support/test_tasks.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::fail_after;
using coreio_test::fail_at_once;
using coreio_test::immediate;
using coreio_test::int_after;
using coreio_test::prompt;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::sleeper;
using coreio_test::stopwatch;
using coreio_test::string_after;
using coreio_test::test_error;
using coreio_test::void_after;
using coreio_test::wait_until;

// ---- results ----------------------------------------------------------------------------------

coreio::task<bool> tuple_of_mixed_types(std::atomic<int>* ran) {
  auto [i, s, v] =
      co_await coreio::gather(int_after(2ms, 1), string_after(1ms, "two"), void_after(0ms, ran));
  static_assert(std::is_same_v<decltype(i), int>);
  static_assert(std::is_same_v<decltype(s), std::string>);
  static_assert(std::is_same_v<decltype(v), std::monostate>);
  co_return i == 1 && s == "two";
}

TEST(GatherTest, TupleFormGivesMixedTypesAndMonostateForVoid) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> ran{0};
  EXPECT_TRUE(rt.block_on(tuple_of_mixed_types(&ran)));
  EXPECT_EQ(ran.load(), 1);
}

coreio::task<int> single_child() {
  auto [v] = co_await coreio::gather(immediate(5));
  co_return v;
}

TEST(GatherTest, TupleFormWithOneChild) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(single_child()), 5);
}

coreio::task<int&> ref_to(int* p) { co_return *p; }

coreio::task<bool> reference_and_move_only_children(int* x) {
  auto boxed = [](int v) -> coreio::task<std::unique_ptr<int>> {
    co_return std::make_unique<int>(v);
  };
  auto [r, p] = co_await coreio::gather(ref_to(x), boxed(3));
  co_return &r == x&& p != nullptr && *p == 3;
}

TEST(GatherTest, TupleFormWithReferenceAndMoveOnlyChildren) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  int x = 1;
  EXPECT_TRUE(rt.block_on(reference_and_move_only_children(&x)));
}

coreio::task<std::vector<int>> vector_in_order(int n) {
  rng r(3);
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(int_after(std::chrono::microseconds(r.below(3000)), i));
  co_return co_await coreio::gather(std::move(ts));
}

TEST(GatherTest, VectorFormPreservesTheInputOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const int n = 200;
  const std::vector<int> got = rt.block_on(vector_in_order(n));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
}

coreio::task<std::size_t> empty_vector() {
  std::vector<int> r = co_await coreio::gather(std::vector<coreio::task<int>>{});
  co_await coreio::gather(std::vector<coreio::task<void>>{});
  co_return r.size();
}

TEST(GatherTest, AnEmptyVectorGivesAnEmptyResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(empty_vector()), 0u);
}

coreio::task<int> no_arguments() {
  std::tuple<> a = co_await coreio::gather();
  std::tuple<> b = co_await coreio::gather_settled();
  (void)a;
  (void)b;
  // Nothing to wait for, so no suspension point either: even a cancelled task gets the result.
  coreio::task_ref self = co_await coreio::current_task();
  self.cancel();
  std::tuple<> c = co_await coreio::gather();
  (void)c;
  co_return 3;
}

TEST(GatherTest, NoArgumentsGiveAnEmptyTupleAtOnce) {
  static_assert(std::is_same_v<decltype(coreio::gather().await_resume()), std::tuple<>>);
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(no_arguments()), 3);
}

coreio::task<void> vector_of_void(int n, std::atomic<int>* ran) {
  std::vector<coreio::task<void>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(void_after(std::chrono::microseconds(i * 10), ran));
  co_await coreio::gather(std::move(ts));
}

TEST(GatherTest, VectorOfVoidTasksRunsThemAll) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> ran{0};
  rt.block_on(vector_of_void(50, &ran));
  EXPECT_EQ(ran.load(), 50);
}

coreio::task<long> wide_fan_out(int n) {
  std::vector<coreio::task<int>> ts;
  ts.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ts.push_back(immediate(i));
  const std::vector<int> r = co_await coreio::gather(std::move(ts));
  long sum = 0;
  for (int v : r) sum += v;
  co_return sum;
}

TEST(GatherTest, AWideFanOutOverflowingTheLocalQueueCompletes) {
  // 4-slot deques: the fan-out overflows to the global queue again and again.
  coreio::runtime rt{coreio::runtime_options{.workers = 2, .local_queue_capacity = 4}};
  const int n = sanitized(20'000, 3'000);
  EXPECT_EQ(rt.block_on(wide_fan_out(n)), static_cast<long>(n) * (n - 1) / 2);
}

// ---- parallelism ------------------------------------------------------------------------------

coreio::task<int> meet(coreio::promise<void>* mine, coreio::future<void>* theirs, int v) {
  mine->set_value();
  co_await *theirs;  // sequential execution (one child to the end, then the other) never gets here
  co_return v;
}

coreio::task<int> children_wait_for_each_other() {
  coreio::promise<void> pa, pb;
  coreio::future<void> fa = pa.get_future(), fb = pb.get_future();
  auto [a, b] = co_await coreio::gather(meet(&pa, &fb, 1), meet(&pb, &fa, 2));
  co_return a + b;
}

TEST(GatherTest, ChildrenRunConcurrentlyAndCanWaitForEachOther) {
  for (std::size_t workers : {1u, 2u}) {
    coreio::runtime rt{coreio::runtime_options{.workers = workers}};
    auto h = rt.spawn(children_wait_for_each_other());
    const bool ended = wait_until([&] { return h.done(); });
    if (!ended) h.cancel();
    ASSERT_TRUE(ended) << "gather ran its children one after the other (deadlock) at " << workers;
    EXPECT_EQ(h.get(), 3);
  }
}

// Each child blocks its worker thread (no suspension) until the other has arrived: only two
// children running at the same time on two threads can both pass.
coreio::task<int> rendezvous(std::atomic<int>* arrived, std::atomic<bool>* timed_out, int v) {
  arrived->fetch_add(1);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (arrived->load() < 2) {
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out->store(true);
      break;
    }
    std::this_thread::yield();
  }
  co_return v;
}

coreio::task<int> parallel_rendezvous(std::atomic<int>* arrived, std::atomic<bool>* timed_out) {
  auto [a, b] =
      co_await coreio::gather(rendezvous(arrived, timed_out, 1), rendezvous(arrived, timed_out, 2));
  co_return a + b;
}

TEST(GatherTest, ChildrenRunInParallelOnTwoWorkers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (int i = 0; i < 20; ++i) {
    std::atomic<int> arrived{0};
    std::atomic<bool> timed_out{false};
    EXPECT_EQ(rt.block_on(parallel_rendezvous(&arrived, &timed_out)), 3);
    ASSERT_FALSE(timed_out.load()) << "the second child was not stolen by the idle worker";
  }
}

// ---- failure ----------------------------------------------------------------------------------

using sibling_probe = coreio_test::child_probe;

/// A sibling that sleeps until it is cancelled.
coreio::task<int> long_sibling(sibling_probe* p) { return sleeper(p, 10s, 0); }

coreio::task<int> gather_with_failure(sibling_probe* p) {
  try {
    auto [a, b, c] = co_await coreio::gather(long_sibling(p), fail_after(1ms, 7), long_sibling(p));
    co_return a + b + c;
  } catch (const test_error& e) {
    // Every sibling has ended (cancelled) before gather rethrows.
    co_return p->cancelled.load() == 2 ? e.value : -p->cancelled.load() - 100;
  }
}

TEST(GatherTest, CancelsSiblingsOnFirstFailure) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  stopwatch sw;
  EXPECT_EQ(rt.block_on(gather_with_failure(&p)), 7);
  EXPECT_LT(sw.elapsed(), prompt) << "the 10 s siblings were cancelled, not waited out";
  EXPECT_EQ(p.cancelled.load(), 2);
  EXPECT_EQ(p.finished.load(), 0);
}

coreio::task<std::string> vector_with_failure(sibling_probe* p) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < 5; ++i) ts.push_back(long_sibling(p));
  ts.push_back(fail_after(2ms, 9));
  for (int i = 0; i < 5; ++i) ts.push_back(long_sibling(p));
  try {
    (void)co_await coreio::gather(std::move(ts));
  } catch (const test_error& e) {
    co_return e.what();
  }
  co_return "no error";
}

TEST(GatherTest, VectorFormCancelsSiblingsOnFirstFailureAndRethrowsIt) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  stopwatch sw;
  EXPECT_EQ(rt.block_on(vector_with_failure(&p)), "test_error 9");
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(p.cancelled.load(), p.started.load());
  EXPECT_EQ(p.finished.load(), 0);
}

coreio::task<int> throw_other_when_cancelled(int v) {
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    throw test_error(v);  // a second failure, caused by the cancel
  }
  co_return 0;
}

coreio::task<int> first_failure_wins() {
  try {
    auto [a, b] = co_await coreio::gather(throw_other_when_cancelled(2), fail_after(1ms, 1));
    co_return a + b;
  } catch (const test_error& e) {
    co_return e.value;
  }
}

TEST(GatherTest, RethrowsTheFirstFailureNotALaterOne) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(first_failure_wins()), 1);
}

coreio::task<int> sibling_with_slow_cleanup(std::atomic<bool>* cleanup_done) {
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    coreio_test::spin_for(30ms);  // non-suspending cleanup
    cleanup_done->store(true);
    throw;
  }
  co_return 0;
}

coreio::task<bool> waits_for_siblings_to_unwind(std::atomic<bool>* cleanup_done) {
  try {
    (void)co_await coreio::gather(sibling_with_slow_cleanup(cleanup_done), fail_after(1ms, 1));
  } catch (const test_error&) {
    co_return cleanup_done->load();
  }
  co_return false;
}

TEST(GatherTest, WaitsForCancelledSiblingsToEndBeforeRethrowing) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> cleanup_done{false};
  EXPECT_TRUE(rt.block_on(waits_for_siblings_to_unwind(&cleanup_done)));
}

coreio::task<int> immediate_failure_with_unstarted_siblings(sibling_probe* p) {
  try {
    // The failing child runs inline first; the others may not have started: they start already
    // cancelled and stop at their first suspension point.
    (void)co_await coreio::gather(long_sibling(p), long_sibling(p), fail_at_once(5));
  } catch (const test_error& e) {
    co_return e.value;
  }
  co_return 0;
}

TEST(GatherTest, AFailureBeforeSiblingsStartStillCancelsThem) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  stopwatch sw;
  EXPECT_EQ(rt.block_on(immediate_failure_with_unstarted_siblings(&p)), 5);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(p.finished.load(), 0);
  EXPECT_EQ(p.cancelled.load(), p.started.load());
}

// ---- cancellation -----------------------------------------------------------------------------

coreio::task<int> await_gather_of_sleepers(sibling_probe* p,
                                           std::atomic<bool>* resumed_after_children) {
  try {
    auto [a, b, c] = co_await coreio::gather(long_sibling(p), long_sibling(p), long_sibling(p));
    co_return a + b + c;
  } catch (const coreio::cancelled_error&) {
    resumed_after_children->store(p->cancelled.load() == 3);
    throw;
  }
}

TEST(GatherTest, CancellingTheAwaitingTaskCancelsEveryChild) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  std::atomic<bool> resumed_after_children{false};
  auto h = rt.spawn(await_gather_of_sleepers(&p, &resumed_after_children));
  ASSERT_TRUE(wait_until([&] { return p.started.load() == 3; }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(p.cancelled.load(), 3);
  EXPECT_TRUE(resumed_after_children.load());
}

coreio::task<int> gather_two_sleepers(sibling_probe* p) {
  auto [a, b] = co_await coreio::gather(long_sibling(p), long_sibling(p));
  co_return a + b;
}

coreio::task<int> cancelled_before_gather(std::atomic<bool>* sleeping, sibling_probe* p) {
  sleeping->store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
  }
  // Sticky: the gather throws at once, and its children never start.
  co_return co_await gather_two_sleepers(p);
}

TEST(GatherTest, GatherInAnAlreadyCancelledTaskThrowsCancelledError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  std::atomic<bool> sleeping{false};
  auto h = rt.spawn(cancelled_before_gather(&sleeping, &p));
  ASSERT_TRUE(wait_until([&] { return sleeping.load(); }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.started.load(), 0);
}

// ---- nesting ----------------------------------------------------------------------------------

coreio::task<int> inner_pair(int a, int b) {
  auto [x, y] = co_await coreio::gather(int_after(1ms, a), int_after(0ms, b));
  co_return x + y;
}

coreio::task<int> inner_vector(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(inner_pair(i, i));
  const std::vector<int> r = co_await coreio::gather(std::move(ts));
  int sum = 0;
  for (int v : r) sum += v;
  co_return sum;
}

coreio::task<int> nested() {
  auto [a, b, c] = co_await coreio::gather(inner_pair(1, 2), inner_vector(10), inner_pair(3, 4));
  co_return a + b + c;
}

TEST(GatherTest, NestedGathersCombineResults) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(nested()), 3 + 90 + 7);
}

coreio::task<int> inner_failing(sibling_probe* p) {
  auto [a, b] = co_await coreio::gather(long_sibling(p), fail_after(1ms, 11));
  co_return a + b;
}

coreio::task<int> inner_sleepers(sibling_probe* p) {
  auto [a, b] = co_await coreio::gather(long_sibling(p), long_sibling(p));
  co_return a + b;
}

coreio::task<int> nested_failure(sibling_probe* p) {
  try {
    auto [a, b] = co_await coreio::gather(inner_sleepers(p), inner_failing(p));
    co_return a + b;
  } catch (const test_error& e) {
    co_return e.value;
  }
}

TEST(GatherTest, AFailureDeepInNestedGathersCancelsEverything) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  stopwatch sw;
  EXPECT_EQ(rt.block_on(nested_failure(&p)), 11);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(p.cancelled.load(), 3);
  EXPECT_EQ(p.finished.load(), 0);
}

coreio::task<int> nested_cancel_target(sibling_probe* p) {
  auto [a, b] = co_await coreio::gather(inner_sleepers(p), inner_sleepers(p));
  co_return a + b;
}

TEST(GatherTest, CancellingTheAwaiterCancelsNestedChildren) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  auto h = rt.spawn(nested_cancel_target(&p));
  ASSERT_TRUE(wait_until([&] { return p.started.load() == 4; }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(p.cancelled.load(), 4);
}

// ---- single use -------------------------------------------------------------------------------

coreio::task<bool> gather_awaited_twice() {
  auto g = coreio::gather(immediate(1), immediate(2));
  auto [a, b] = co_await g;
  try {
    (void)co_await g;
  } catch (const coreio::usage_error&) {
    co_return a == 1 && b == 2;
  }
  co_return false;
}

TEST(GatherTest, AwaitingTheSameGatherTwiceThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_TRUE(rt.block_on(gather_awaited_twice()));
}

coreio::task<bool> vector_gather_awaited_twice() {
  std::vector<coreio::task<int>> ts;
  ts.push_back(immediate(1));
  auto g = coreio::gather(std::move(ts));
  (void)co_await g;
  try {
    (void)co_await g;
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST(GatherTest, AwaitingTheSameVectorGatherTwiceThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_TRUE(rt.block_on(vector_gather_awaited_twice()));
}

coreio::task<int> gather_of_moved_from_task() {
  coreio::task<int> t = immediate(1);
  coreio::task<int> keep = std::move(t);
  int caught = 0;
  try {
    (void)co_await coreio::gather(std::move(t), immediate(2));
  } catch (const coreio::usage_error&) {
    ++caught;
  }
  std::vector<coreio::task<int>> ts;
  ts.push_back(immediate(3));
  ts.emplace_back();
  try {
    (void)co_await coreio::gather(std::move(ts));
  } catch (const coreio::usage_error&) {
    ++caught;
  }
  co_return caught + co_await std::move(keep) * 10;
}

TEST(GatherTest, AMovedFromChildThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(gather_of_moved_from_task()), 12);
}

// ---- gather_settled ----------------------------------------------------------------------------

coreio::task<bool> settled_tuple(sibling_probe* p) {
  auto [a, b, c] = co_await coreio::gather_settled(sleeper(p, 5ms, 1), fail_after(1ms, 2),
                                                   string_after(1ms, "three"));
  static_assert(std::is_same_v<decltype(a), coreio::outcome<int>>);
  static_assert(std::is_same_v<decltype(c), coreio::outcome<std::string>>);
  bool ok = a.has_value() && a.value() == 1 && !b.has_value() && b.error() != nullptr &&
            c.has_value() && c.value() == "three";
  try {
    (void)b.value();
    ok = false;
  } catch (const test_error& e) {
    ok = ok && e.value == 2;
  }
  co_return ok;
}

TEST(GatherSettledTest, TupleFormGivesEveryOutcomeAndCancelsNobody) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  EXPECT_TRUE(rt.block_on(settled_tuple(&p)));
  EXPECT_EQ(p.finished.load(), 1);  // the slow sibling of a failure ran to its end
  EXPECT_EQ(p.cancelled.load(), 0);
}

coreio::task<int> settled_vector(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 0) ts.push_back(fail_after(std::chrono::microseconds(i % 100), i));
    else ts.push_back(int_after(std::chrono::microseconds(i % 100), i));
  }
  auto rs = co_await coreio::gather_settled(std::move(ts));
  int wrong = static_cast<int>(rs.size()) != n;
  for (int i = 0; i < n && !wrong; ++i) {
    auto& r = rs[static_cast<std::size_t>(i)];
    if (i % 3 == 0) {
      try {
        std::rethrow_exception(r.error());
      } catch (const test_error& e) {
        wrong += e.value != i;
      }
    } else {
      wrong += !r.has_value() || r.value() != i;
    }
  }
  co_return wrong;
}

TEST(GatherSettledTest, VectorFormGivesOutcomesInInputOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  EXPECT_EQ(rt.block_on(settled_vector(sanitized(3'000, 500))), 0);
}

coreio::task<bool> settled_void_and_empty(std::atomic<int>* ran) {
  std::vector<coreio::task<void>> ts;
  ts.push_back(void_after(1ms, ran));
  ts.push_back(void_after(0ms, ran));
  auto rs = co_await coreio::gather_settled(std::move(ts));
  auto none = co_await coreio::gather_settled(std::vector<coreio::task<int>>{});
  co_return rs.size() == 2 && rs[0].has_value() && rs[1].has_value() && none.empty();
}

TEST(GatherSettledTest, VoidChildrenAndAnEmptyVector) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> ran{0};
  EXPECT_TRUE(rt.block_on(settled_void_and_empty(&ran)));
  EXPECT_EQ(ran.load(), 2);
}

coreio::task<int> settled_of_sleepers(sibling_probe* p, std::atomic<bool>* after) {
  auto [a, b] = co_await coreio::gather_settled(long_sibling(p), long_sibling(p));
  after->store(true);  // never: a cancelled awaiter gets cancelled_error, not two outcomes
  co_return a.has_value() + b.has_value();
}

TEST(GatherSettledTest, CancellingTheAwaiterCancelsTheChildrenAndThrowsCancelledError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  std::atomic<bool> after{false};
  auto h = rt.spawn(settled_of_sleepers(&p, &after));
  ASSERT_TRUE(wait_until([&] { return p.started.load() == 2; }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.cancelled.load(), 2);
  EXPECT_FALSE(after.load());
}

// ---- when_any ----------------------------------------------------------------------------------

coreio::task<bool> any_of_same_type(sibling_probe* p) {
  auto [index, value] =
      co_await coreio::when_any(sleeper(p, 10s, 1), int_after(1ms, 2), sleeper(p, 10s, 3));
  static_assert(std::is_same_v<decltype(value), int>);
  // The losers were cancelled and have ended before when_any returned.
  co_return index == 1 && value == 2 && p->cancelled.load() == 2;
}

TEST(WhenAnyTest, FirstToFinishWinsAndTheRestAreCancelledAndAwaited) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  EXPECT_TRUE(rt.block_on(any_of_same_type(&p)));
  EXPECT_EQ(p.started.load(), 2);
  EXPECT_EQ(p.finished.load(), 0);
}

coreio::task<bool> any_of_mixed_types(std::atomic<int>* ran) {
  auto r =
      co_await coreio::when_any(int_after(10s, 1), string_after(1ms, "two"), void_after(10s, ran));
  static_assert(std::is_same_v<decltype(r.value), std::variant<int, std::string, std::monostate>>);
  co_return r.index == 1 && r.value.index() == 1 && std::get<1>(r.value) == "two";
}

TEST(WhenAnyTest, MixedTypesGiveAVariantIndexedLikeTheChildren) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> ran{0};
  EXPECT_TRUE(rt.block_on(any_of_mixed_types(&ran)));
  EXPECT_EQ(ran.load(), 0);
}

coreio::task<int> any_first_fails(sibling_probe* p) {
  auto [index, value] = co_await coreio::when_any(sleeper(p, 10s, 1), fail_after(1ms, 9));
  co_return static_cast<int>(index) + value;
}

TEST(WhenAnyTest, AWinnerThatFailedIsRethrownAfterTheOthersEnded) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  try {
    rt.block_on(any_first_fails(&p));
    FAIL() << "no exception";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 9);
  }
  EXPECT_EQ(p.cancelled.load(), 1);
}

coreio::task<bool> any_of_vector(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(int_after(i == n / 2 ? 0ms : 10s, i));
  auto [index, value] = co_await coreio::when_any(std::move(ts));
  co_return index == static_cast<std::size_t>(n / 2) && value == n / 2;
}

TEST(WhenAnyTest, VectorFormGivesTheIndexInTheVector) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  EXPECT_TRUE(rt.block_on(any_of_vector(sanitized(1'000, 100))));
}

coreio::task<int> any_of_empty() {
  auto r = co_await coreio::when_any(std::vector<coreio::task<int>>{});
  co_return r.value;
}

TEST(WhenAnyTest, AnEmptyVectorIsAUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_THROW(rt.block_on(any_of_empty()), coreio::usage_error);
}

coreio::task<int> any_of_sleepers(sibling_probe* p) {
  auto [index, value] = co_await coreio::when_any(long_sibling(p), long_sibling(p));
  co_return static_cast<int>(index) + value;
}

TEST(WhenAnyTest, CancellingTheAwaiterCancelsEveryChild) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sibling_probe p;
  auto h = rt.spawn(any_of_sleepers(&p));
  ASSERT_TRUE(wait_until([&] { return p.started.load() == 2; }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.cancelled.load(), 2);
}

struct any_race {
  std::atomic<int> wins[2] = {0, 0};
  std::atomic<int> cancels{0};
  std::atomic<int> ended{0};
};

coreio::task<int> racer_child(std::chrono::microseconds d, int v, any_race* r) {
  struct mark {
    std::atomic<int>* n;
    ~mark() { n->fetch_add(1); }
  } m{&r->ended};
  co_await coreio::sleep_for(d);
  co_return v;
}

coreio::task<void> any_round(std::chrono::microseconds a, std::chrono::microseconds b,
                             any_race* r) {
  try {
    auto [index, value] = co_await coreio::when_any(racer_child(a, 0, r), racer_child(b, 1, r));
    if (static_cast<int>(index) == value) r->wins[index].fetch_add(1);
  } catch (const coreio::cancelled_error&) {
    r->cancels.fetch_add(1);
  }
}

TEST(WhenAnyTest, RacingChildrenAndACancelAlwaysGiveOneConsistentWinner) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  any_race r;
  rng g(21);
  const int rounds = sanitized(5'000, 3'000);  // thousands under TSan too (the point of the test)
  for (int i = 0; i < rounds; ++i) {
    auto h = rt.spawn(any_round(std::chrono::microseconds(g.below(100)),
                                std::chrono::microseconds(g.below(100)), &r));
    if (g.below(4) == 0) {
      coreio_test::spin_for(std::chrono::microseconds(g.below(100)));
      h.cancel();
    }
    ASSERT_TRUE(coreio_test::ends_within(h)) << "round " << i;
    try {
      h.get();
    } catch (const coreio::cancelled_error&) {
      r.cancels.fetch_add(1);  // cancelled before it first ran: its body never did
    }
  }
  EXPECT_EQ(r.wins[0].load() + r.wins[1].load() + r.cancels.load(), rounds);
  EXPECT_LE(r.ended.load(), 2 * rounds);
}

// ---- when_any: a losing queue get gives its item back -------------------------------------------

// The probe's case: the consumer waits in when_any on two queues; a plain thread puts an item in
// each, one right after the other. Both gets may be handed an item before the first of them ends;
// the loser must put its item back. Every round: one item taken, one left in a queue.
coreio::task<int> take_either(coreio::queue<int>* a, coreio::queue<int>* b, std::atomic<bool>* in) {
  in->store(true);
  auto from_a = a->get();  // an lvalue awaiter (referenced) gives back as a moved-in one does
  auto [index, value] = co_await coreio::when_any(from_a, b->get());
  co_return static_cast<int>(index) * 1000 + value;
}

void two_queues_rounds(std::size_t workers) {
  coreio::runtime rt{coreio::runtime_options{.workers = workers}};
  const int rounds = sanitized(2'000, 300);
  int lost = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::queue<int> a, b;
    std::atomic<bool> in{false};
    auto h = rt.spawn(take_either(&a, &b, &in));
    ASSERT_TRUE(coreio_test::wait_until([&] { return in.load(); }));
    if (i % 2 == 0) coreio_test::spin_for(std::chrono::microseconds(i % 50));
    ASSERT_TRUE(a.try_put(1));
    ASSERT_TRUE(b.try_put(2));
    ASSERT_TRUE(coreio_test::ends_within(h)) << "round " << i;
    const int got = h.get();
    const int which = got / 1000;
    EXPECT_EQ(got % 1000, which + 1);
    const std::size_t left = a.size() + b.size();
    if (left != 1) ++lost;
    // The item left is the other queue's.
    EXPECT_EQ(which == 0 ? b.size() : a.size(), 1u) << "round " << i;
  }
  EXPECT_EQ(lost, 0);
}

TEST(WhenAnyTest, ALosingQueueGetGivesItsItemBackOneWorker) { two_queues_rounds(1); }
TEST(WhenAnyTest, ALosingQueueGetGivesItsItemBackTwoWorkers) { two_queues_rounds(2); }

// "Receive or tick": when_any(q.get(), sleep_for(tick)) in a loop while a producer on another
// worker puts items with pauses. Every item arrives once, in the order put: an item a get was
// handed as the tick won goes back to the head of the queue. The probe lost 166-444 of 5,000.
coreio::task<void> receive_or_tick(coreio::queue<int>* q, int n, std::vector<int>* got,
                                   int* ticks) {
  coreio_test::rng r(5);
  while (static_cast<int>(got->size()) < n) {
    auto race =
        coreio::when_any(q->get(), coreio::sleep_for(std::chrono::microseconds(r.below(300))));
    auto [index, value] = co_await std::move(race);
    if (index == 0) {
      got->push_back(std::get<0>(value));
    } else {
      ++*ticks;
    }
  }
}

coreio::task<void> produce_with_pauses(coreio::queue<int>* q, int n) {
  coreio_test::rng r(7);
  for (int i = 0; i < n; ++i) {
    co_await q->put(i);
    if (r.below(4) == 0) co_await coreio::sleep_for(std::chrono::microseconds(r.below(200)));
  }
}

TEST(WhenAnyTest, ReceiveOrTickLosesNoItemAndKeepsTheirOrder) {
  for (std::size_t workers : {std::size_t{1}, std::size_t{2}}) {
    coreio::runtime rt{coreio::runtime_options{.workers = workers}};
    const int n = sanitized(5'000, 1'000);
    coreio::queue<int> q{16};
    std::vector<int> got;
    int ticks = 0;
    auto c = rt.spawn(receive_or_tick(&q, n, &got, &ticks));
    auto p = rt.spawn(produce_with_pauses(&q, n));
    ASSERT_TRUE(coreio_test::ends_within(p, 60s));
    ASSERT_TRUE(coreio_test::ends_within(c, 60s)) << "received " << got.size() << " of " << n;
    p.get();
    c.get();
    ASSERT_EQ(static_cast<int>(got.size()), n);
    for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], i) << "workers " << workers;
    EXPECT_GT(ticks, 0) << "no get lost a race: the test did not test";
    EXPECT_EQ(q.size(), 0u);
  }
}

// Give-back puts the item at the head for each storage policy: the next get takes it.
TEST(WhenAnyTest, GiveBackPutsTheItemWhereTheNextGetTakesItForEveryQueueKind) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  auto check = [&](auto& q, int back, int expect_next) {
    auto g = q.get();
    g.give_back(std::move(back));
    auto next = q.try_get();
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, expect_next);
  };
  coreio::queue<int> fifo;
  ASSERT_TRUE(fifo.try_put(1));
  ASSERT_TRUE(fifo.try_put(2));
  check(fifo, 0, 0);  // ahead of 1 and 2
  coreio::lifo_queue<int> lifo;
  ASSERT_TRUE(lifo.try_put(1));
  check(lifo, 5, 5);  // on top
  coreio::priority_queue<int> prio;
  ASSERT_TRUE(prio.try_put(3));
  check(prio, 1, 1);  // by priority
  coreio::queue<int> full{1};
  ASSERT_TRUE(full.try_put(1));
  check(full, 0, 0);  // over the capacity until the next get
  EXPECT_EQ(full.size(), 1u);
}

}  // namespace
