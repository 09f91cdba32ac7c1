// cancellation_test.cpp — cancellation as coreio/errors.hpp describes it, across every suspension
// point: cooperative, sticky (once cancelled, every later cancellable suspension point throws
// cancelled_error again), and catchable (a task may clean up and return a value).
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::prompt;
using coreio_test::stopwatch;
using coreio_test::wait_until;

coreio::task<int> sleep_long() {
  co_await coreio::sleep_for(10s);
  co_return 0;
}

coreio::task<int> plain_value(int v) { co_return v; }

struct sticky_probe {
  std::atomic<bool> sleeping{false};
  std::atomic<bool> child_cancelled{false};
  std::vector<std::string> threw;  // suspension points that threw cancelled_error, in order
};

coreio::task<int> child_sleeper(sticky_probe* p) {
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    p->child_cancelled.store(true);
    throw;
  }
  co_return 0;
}

#define COREIO_EXPECT_CANCELLED(name, ...)   \
  try {                                      \
    __VA_ARGS__;                             \
  } catch (const coreio::cancelled_error&) { \
    p->threw.push_back(name);                \
  }

coreio::task<int> every_suspension_point_after_cancel(sticky_probe* p) {
  coreio::promise<int> never_set;
  coreio::future<int> never_ready = never_set.get_future();
  auto child = coreio::spawn(child_sleeper(p));
  p->sleeping.store(true);
  COREIO_EXPECT_CANCELLED("first sleep", co_await coreio::sleep_for(10s))
  COREIO_EXPECT_CANCELLED("sleep_for", co_await coreio::sleep_for(1ms))
  COREIO_EXPECT_CANCELLED("sleep_for(0)", co_await coreio::sleep_for(0ms))
  COREIO_EXPECT_CANCELLED("sleep_until",
                          co_await coreio::sleep_until(std::chrono::steady_clock::now() + 1ms))
  COREIO_EXPECT_CANCELLED("yield_now", co_await coreio::yield_now())
  COREIO_EXPECT_CANCELLED("future", (void)co_await never_ready)
  COREIO_EXPECT_CANCELLED("gather", (void)co_await coreio::gather(sleep_long(), sleep_long()))
  COREIO_EXPECT_CANCELLED("join_handle", (void)co_await child)
  // Awaiting a plain task is not a suspension point of its own: it runs inline.
  const int v = co_await plain_value(5);
  co_return v;  // caught every time and returns normally: the handle yields the value
}

TEST(CancellationTest, IsStickyEveryLaterSuspensionPointThrowsAgain) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sticky_probe p;
  auto h = rt.spawn(every_suspension_point_after_cancel(&p));
  ASSERT_TRUE(wait_until([&] { return p.sleeping.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_EQ(h.get(), 5);
  EXPECT_LT(sw.elapsed(), prompt);
  const std::vector<std::string> expected = {"first sleep", "sleep_for",  "sleep_for(0)",
                                             "sleep_until", "yield_now",  "future",
                                             "gather",      "join_handle"};
  EXPECT_EQ(p.threw, expected);
  EXPECT_TRUE(p.child_cancelled.load()) << "awaiting the child's handle forwarded the cancel";
}

struct cleanup_probe {
  std::atomic<bool> sleeping{false};
  std::atomic<int> cleanups{0};
  std::atomic<int> started{0};
};

coreio::task<std::string> catch_clean_up_and_return(cleanup_probe* p) {
  p->sleeping.store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    p->cleanups.fetch_add(1);
    co_return "cleaned up";
  }
  co_return "slept";
}

TEST(CancellationTest, ATaskMayCatchCleanUpAndReturnAValue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  cleanup_probe p;
  auto h = rt.spawn(catch_clean_up_and_return(&p));
  ASSERT_TRUE(wait_until([&] { return p.sleeping.load(); }));
  h.cancel();
  EXPECT_EQ(h.get(), "cleaned up");
  EXPECT_EQ(p.cleanups.load(), 1);
}

coreio::task<int> nested_inline(cleanup_probe* p) {
  // The inner task shares its awaiter's cancel scope: the cancel reaches its sleep.
  co_return co_await [](cleanup_probe* q) -> coreio::task<int> {
    q->sleeping.store(true);
    co_await coreio::sleep_for(10s);
    co_return 1;
  }(p);
}

TEST(CancellationTest, ReachesTheSuspensionPointOfAnInlineAwaitedTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  cleanup_probe p;
  auto h = rt.spawn(nested_inline(&p));
  ASSERT_TRUE(wait_until([&] { return p.sleeping.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
}

coreio::task<long> compute_without_suspending(std::atomic<bool>* started, std::atomic<bool>* go) {
  started->store(true);
  while (!go->load()) {
  }
  long sum = 0;
  for (int i = 0; i < 1000; ++i) sum += co_await plain_value(i);  // inline awaits: no suspension
  co_return sum;
}

TEST(CancellationTest, IsCooperativeCodeBetweenSuspensionPointsRunsOn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> started{false}, go{false};
  auto h = rt.spawn(compute_without_suspending(&started, &go));
  ASSERT_TRUE(wait_until([&] { return started.load(); }));
  h.cancel();  // the task is running: nothing can interrupt it until it suspends, and it never does
  go.store(true);
  EXPECT_EQ(h.get(), 999L * 1000 / 2);
}

coreio::task<int> rethrow_after_cleanup(cleanup_probe* p) {
  p->started.fetch_add(1);
  p->sleeping.store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    p->cleanups.fetch_add(1);
    throw;
  }
  co_return 0;
}

TEST(CancellationTest, CancellingManyTasksFromAPlainThreadEndsEveryOne) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  cleanup_probe p;
  constexpr int n = 200;
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(rethrow_after_cleanup(&p)));
  stopwatch sw;
  for (auto& h : hs) h.cancel();
  for (auto& h : hs) EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  // A task cancelled before it started never runs its body (as asyncio); every one that started
  // was cancelled at its sleep and ran its catch block.
  EXPECT_EQ(p.cleanups.load(), p.started.load());
}

}  // namespace
