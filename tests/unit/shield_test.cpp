// shield_test.cpp — coreio/shield.hpp (asyncio.shield): the value or the exception when the awaiter
// is not cancelled; a cancelled awaiter throws cancelled_error at once while the shielded work runs
// on to its end; shield(join_handle&) leaves the task alone and its result for a later await;
// shield of awaitables that are not tasks (future, moved join_handle); a cancel / completion race.
#include <coreio/shield.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/join_handle.hpp>
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
using coreio_test::fail_after;
using coreio_test::immediate;
using coreio_test::int_after;
using coreio_test::prompt;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::string_after;
using coreio_test::test_error;
using coreio_test::void_after;
using coreio_test::wait_until;

/// The shielded work of the cancellation tests: waits for the test's go, observes whether it was
/// cancelled itself, and flags its end.
struct work_probe {
  std::atomic<bool> started{false};
  std::atomic<bool> cancelled{false};
  std::atomic<bool> finished{false};
};

coreio::task<int> gated_work(work_probe* p, coreio::future<int> go) {
  p->started.store(true);
  int v = 0;
  try {
    v = co_await go;
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    throw;
  }
  co_await coreio::sleep_for(1ms);  // a suspension point after the go: still not cancelled
  p->finished.store(true);
  co_return v;
}

// ---- not cancelled ----------------------------------------------------------------------------

coreio::task<std::string> shield_values(std::atomic<int>* ran) {
  const int a = co_await coreio::shield(int_after(1ms, 4));
  const int b = co_await coreio::shield(immediate(5));
  std::string s = co_await coreio::shield(string_after(0us, "six"));
  co_await coreio::shield(void_after(1ms, ran));
  co_return std::to_string(a + b) + s;
}

TEST(ShieldTest, ShieldOfATaskReturnsItsValue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> ran{0};
  EXPECT_EQ(rt.block_on(shield_values(&ran)), "9six");
  EXPECT_EQ(ran.load(), 1);
}

coreio::task<int> shield_failure() {
  try {
    (void)co_await coreio::shield(fail_after(1ms, 7));
  } catch (const test_error& e) {
    co_return e.value;
  }
  co_return -1;
}

TEST(ShieldTest, ShieldOfATaskRethrowsItsException) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(shield_failure()), 7);
}

coreio::task<int> inner_cancelled() {
  co_await coreio::sleep_for(1ms);
  throw coreio::cancelled_error();
}

coreio::task<bool> shield_of_cancelled_inner() {
  try {
    (void)co_await coreio::shield(inner_cancelled());
  } catch (const coreio::cancelled_error&) {
    co_return true;  // the inner task's own cancelled_error comes through as any exception
  }
  co_return false;
}

TEST(ShieldTest, AnInnerCancelledErrorIsRethrown) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_TRUE(rt.block_on(shield_of_cancelled_inner()));
}

coreio::task<int> shield_a_handle_not_cancelled() {
  auto h = coreio::spawn(int_after(1ms, 8));
  const int a = co_await coreio::shield(h);
  bool second_retrieval_refused = false;
  try {
    (void)co_await h;  // the shield retrieved the result
  } catch (const coreio::usage_error&) {
    second_retrieval_refused = true;
  }
  auto done = coreio::spawn(immediate(2));
  while (!done.done()) co_await coreio::yield_now();
  const int b = co_await coreio::shield(done);  // already complete: no suspension
  co_return second_retrieval_refused ? a + b : -1;
}

TEST(ShieldTest, ShieldOfAJoinHandleGivesItsResultOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(shield_a_handle_not_cancelled()), 10);
}

coreio::task<int> shield_a_failing_handle() {
  auto h = coreio::spawn(fail_after(1ms, 3));
  try {
    (void)co_await coreio::shield(h);
  } catch (const test_error& e) {
    co_return e.value;
  }
  co_return -1;
}

TEST(ShieldTest, ShieldOfAJoinHandleRethrowsItsException) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(shield_a_failing_handle()), 3);
}

coreio::task<int> shield_an_empty_handle() {
  coreio::join_handle<int> h;
  try {
    (void)co_await coreio::shield(h);
  } catch (const coreio::usage_error&) {
    co_return 1;
  }
  co_return 0;
}

TEST(ShieldTest, ShieldOfAnEmptyJoinHandleThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(shield_an_empty_handle()), 1);
}

// ---- awaitables that are not tasks ------------------------------------------------------------

/// Bumps *waiting each time it is suspended in a shield.
coreio::task<int> shield_futures(coreio::future<int> moved_in, coreio::future<int>* by_ref,
                                 coreio::future<void> unit, std::atomic<int>* waiting) {
  // owned by the shielded task
  const int a = co_await count_suspension(coreio::shield(std::move(moved_in)), waiting);
  // lvalues must be moved in
  const int b = co_await count_suspension(coreio::shield(std::move(*by_ref)), waiting);
  co_await count_suspension(coreio::shield(std::move(unit)), waiting);
  co_return a + b;
}

TEST(ShieldTest, ShieldOfAFutureGivesItsValue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> pa, pb;
  coreio::promise<void> pc;
  coreio::future<int> fb = pb.get_future();
  std::atomic<int> waiting{0};
  auto h = rt.spawn(shield_futures(pa.get_future(), &fb, pc.get_future(), &waiting));
  std::thread producer([&] {  // each value comes while the task waits in that shield
    ASSERT_TRUE(wait_until([&] { return waiting.load() == 1; }));
    pa.set_value(20);
    ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));
    pb.set_value(22);
    ASSERT_TRUE(wait_until([&] { return waiting.load() == 3; }));
    pc.set_value();
  });
  producer.join();
  ASSERT_TRUE(ends_within(h));
  EXPECT_EQ(h.get(), 42);
}

coreio::task<int> shield_failed_future(coreio::future<int> f) {
  try {
    (void)co_await coreio::shield(std::move(f));
  } catch (const test_error& e) {
    co_return e.value;
  }
  co_return -1;
}

TEST(ShieldTest, ShieldOfAFutureRethrowsItsException) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> p;
  auto h = rt.spawn(shield_failed_future(p.get_future()));
  p.set_exception(std::make_exception_ptr(test_error(12)));
  ASSERT_TRUE(ends_within(h));
  EXPECT_EQ(h.get(), 12);
}

struct future_shield_probe {
  std::atomic<bool> awaiting{false};
  std::atomic<bool> got_cancelled{false};
};

/// Sets p->awaiting once suspended in the shield.
coreio::task<int> cancel_while_shielding_future(future_shield_probe* p,
                                                coreio::future<std::shared_ptr<int>> f) {
  try {
    co_return *co_await count_suspension(coreio::shield(std::move(f)), &p->awaiting);
  } catch (const coreio::cancelled_error&) {
    p->got_cancelled.store(true);
    throw;
  }
}

TEST(ShieldTest, CancellingTheAwaiterOfAShieldedFutureLeavesTheFutureToTheShieldedTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  future_shield_probe p;
  coreio::promise<std::shared_ptr<int>> pr;
  auto h = rt.spawn(cancel_while_shielding_future(&p, pr.get_future()));
  ASSERT_TRUE(wait_until([&] { return p.awaiting.load(); }));  // suspended in the shield
  stopwatch sw;
  h.cancel();
  ASSERT_TRUE(ends_within(h));
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(p.got_cancelled.load());
  // The detached shielded task still waits on the future; giving it the value lets it end and free
  // it (the frame would otherwise keep the last reference to token).
  auto token = std::make_shared<int>(1);
  pr.set_value(token);
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }))
      << "the shielded task never took and dropped the value";
}

coreio::task<int> shield_a_moved_handle(work_probe* w, coreio::future<int> go) {
  auto h = coreio::spawn(gated_work(w, std::move(go)));
  co_return co_await coreio::shield(std::move(h));  // the handle is moved into the shielded task
}

TEST(ShieldTest, ShieldOfAMovedJoinHandleLetsTheTaskRunOnWhenTheAwaiterIsCancelled) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  work_probe w;
  coreio::promise<int> go;
  auto h = rt.spawn(shield_a_moved_handle(&w, go.get_future()));
  ASSERT_TRUE(wait_until([&] { return w.started.load(); }));
  h.cancel();
  ASSERT_TRUE(ends_within(h, prompt));
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_FALSE(w.finished.load());
  go.set_value(1);
  EXPECT_TRUE(wait_until([&] { return w.finished.load(); }));
  EXPECT_FALSE(w.cancelled.load()) << "the cancel reached the shielded task";
}

// ---- cancelling the awaiter of a shielded task ------------------------------------------------

struct awaiter_probe {
  std::atomic<bool> awaiting{false};
  std::atomic<bool> got_cancelled{false};
  std::atomic<bool> work_finished_when_cancelled{false};
  std::atomic<bool> next_suspension_threw{false};
};

coreio::task<int> await_shielded_work(awaiter_probe* a, work_probe* w, coreio::future<int> go) {
  a->awaiting.store(true);
  try {
    co_return co_await coreio::shield(gated_work(w, std::move(go)));
  } catch (const coreio::cancelled_error&) {
    a->work_finished_when_cancelled.store(w->finished.load());
    a->got_cancelled.store(true);
  }
  try {
    co_await coreio::yield_now();  // sticky: the awaiter itself is still cancelled
  } catch (const coreio::cancelled_error&) {
    a->next_suspension_threw.store(true);
    throw;
  }
  co_return -1;
}

TEST(ShieldTest, CancellingTheAwaiterThrowsAtOnceWhileTheShieldedWorkRunsOn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  awaiter_probe a;
  work_probe w;
  coreio::promise<int> go;
  auto h = rt.spawn(await_shielded_work(&a, &w, go.get_future()));
  ASSERT_TRUE(wait_until([&] { return a.awaiting.load() && w.started.load(); }));
  stopwatch sw;
  h.cancel();
  // The awaiter ends while the work still waits for `go`: it did not wait for the work.
  ASSERT_TRUE(ends_within(h, prompt)) << "the cancelled awaiter waited for the shielded work";
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(a.got_cancelled.load());
  EXPECT_FALSE(a.work_finished_when_cancelled.load());
  EXPECT_TRUE(a.next_suspension_threw.load());
  EXPECT_FALSE(w.finished.load());
  // The work was not cancelled: it goes on once released, through another suspension point.
  go.set_value(5);
  EXPECT_TRUE(wait_until([&] { return w.finished.load(); }))
      << "the shielded work did not run to its end";
  EXPECT_FALSE(w.cancelled.load()) << "the awaiter's cancel reached the shielded work";
}

coreio::task<int> already_cancelled_shield(awaiter_probe* a, work_probe* w,
                                           coreio::future<int> go) {
  a->awaiting.store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
  }
  // Already cancelled: the shield starts the work (asyncio.shield does too) and throws at once.
  co_return co_await coreio::shield(gated_work(w, std::move(go)));
}

TEST(ShieldTest, ShieldInAnAlreadyCancelledTaskThrowsAtOnceAndTheWorkRunsOn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  awaiter_probe a;
  work_probe w;
  coreio::promise<int> go;
  auto h = rt.spawn(already_cancelled_shield(&a, &w, go.get_future()));
  ASSERT_TRUE(wait_until([&] { return a.awaiting.load(); }));
  h.cancel();
  ASSERT_TRUE(ends_within(h, prompt));
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_TRUE(wait_until([&] { return w.started.load(); }));
  go.set_value(1);
  EXPECT_TRUE(wait_until([&] { return w.finished.load(); }));
  EXPECT_FALSE(w.cancelled.load());
}

// ---- shield(join_handle&) ---------------------------------------------------------------------

struct handle_probe {
  work_probe work;
  awaiter_probe first;
  coreio::join_handle<int> handle;
};

coreio::task<int> shield_handle_then_cancelled(handle_probe* p) {
  p->first.awaiting.store(true);
  try {
    co_return co_await coreio::shield(p->handle);
  } catch (const coreio::cancelled_error&) {
    p->first.got_cancelled.store(true);
    throw;
  }
}

coreio::task<int> await_handle_later(handle_probe* p) { co_return co_await p->handle; }

coreio::task<int> shield_handle_later(handle_probe* p) {
  co_return co_await coreio::shield(p->handle);
}

TEST(ShieldTest, ShieldOfAJoinHandleDoesNotCancelTheTaskAndALaterAwaitGetsTheResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (int variant = 0; variant < 3; ++variant) {
    handle_probe p;
    coreio::promise<int> go;
    p.handle = rt.spawn(gated_work(&p.work, go.get_future()));
    auto first = rt.spawn(shield_handle_then_cancelled(&p));
    ASSERT_TRUE(wait_until([&] { return p.first.awaiting.load() && p.work.started.load(); }));
    stopwatch sw;
    first.cancel();
    ASSERT_TRUE(ends_within(first, prompt)) << "variant " << variant;
    EXPECT_THROW(first.get(), coreio::cancelled_error);
    EXPECT_LT(sw.elapsed(), prompt);
    EXPECT_TRUE(p.first.got_cancelled.load());
    EXPECT_FALSE(p.handle.done()) << "the task is still waiting for go";
    switch (variant) {
      case 0: {  // a later plain co_await from another task
        auto second = rt.spawn(await_handle_later(&p));
        go.set_value(30 + variant);
        ASSERT_TRUE(ends_within(second));
        EXPECT_EQ(second.get(), 30);
        break;
      }
      case 1: {  // a later shield from another task
        auto second = rt.spawn(shield_handle_later(&p));
        go.set_value(30 + variant);
        ASSERT_TRUE(ends_within(second));
        EXPECT_EQ(second.get(), 31);
        break;
      }
      default: {  // get() from this thread
        go.set_value(30 + variant);
        EXPECT_EQ(p.handle.get(), 32);
        break;
      }
    }
    EXPECT_TRUE(p.work.finished.load());
    EXPECT_FALSE(p.work.cancelled.load())
        << "variant " << variant << ": the cancel reached the task";
  }
}

coreio::task<int> plain_await_handle(handle_probe* p) {
  p->first.awaiting.store(true);
  co_return co_await p->handle;
}

TEST(ShieldTest, WithoutTheShieldTheSameCancelReachesTheTask) {
  // The contrast to the test above: a plain co_await forwards the awaiter's cancel.
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  handle_probe p;
  coreio::promise<int> go;
  p.handle = rt.spawn(gated_work(&p.work, go.get_future()));
  auto first = rt.spawn(plain_await_handle(&p));
  ASSERT_TRUE(wait_until([&] { return p.first.awaiting.load() && p.work.started.load(); }));
  first.cancel();
  ASSERT_TRUE(ends_within(first, prompt));
  EXPECT_THROW(first.get(), coreio::cancelled_error);
  EXPECT_TRUE(p.work.cancelled.load());
}

// ---- race: cancel vs completion ---------------------------------------------------------------

struct race_probe {
  std::atomic<int> outer_started{0};
  std::atomic<int> inner_finished{0};
  std::atomic<int> inner_cancelled{0};
};

coreio::task<int> inner_after_yields(race_probe* p, int yields, int v) {
  try {
    for (int i = 0; i < yields; ++i) co_await coreio::yield_now();
  } catch (const coreio::cancelled_error&) {
    p->inner_cancelled.fetch_add(1);
    throw;
  }
  p->inner_finished.fetch_add(1);
  co_return v;
}

coreio::task<int> shield_task_race(race_probe* p, int yields) {
  p->outer_started.fetch_add(1);
  co_return co_await coreio::shield(inner_after_yields(p, yields, 7));
}

TEST(ShieldTest, RaceLoopOfCancelAgainstCompletionOfAShieldedTask) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int iterations = sanitized(1000, 400);
  rng r(77);
  race_probe p;
  int values = 0;
  int cancels = 0;
  for (int i = 0; i < iterations; ++i) {
    auto h = rt->spawn(shield_task_race(&p, static_cast<int>(r.below(10))));
    coreio_test::spin_for(std::chrono::microseconds(r.below(100)));
    h.cancel();
    if (!ends_within(h)) {
      (void)rt.release();
      FAIL() << "iteration " << i << ": the awaiter never ended";
    }
    try {
      EXPECT_EQ(h.get(), 7) << "iteration " << i;
      ++values;
    } catch (const coreio::cancelled_error&) {
      ++cancels;
    }
  }
  EXPECT_EQ(values + cancels, iterations);
  // How the race went (in the XML report): both outcomes should show up over many runs.
  RecordProperty("values", values);
  RecordProperty("cancels", cancels);
  // Every shielded task runs to its end, cancelled awaiter or not. (An awaiter cancelled before
  // it first ran never made its shielded task.)
  const int made = p.outer_started.load();
  EXPECT_TRUE(wait_until([&] { return p.inner_finished.load() == made; }))
      << p.inner_finished.load() << " of " << made << " shielded tasks finished";
  EXPECT_EQ(p.inner_cancelled.load(), 0);
}

struct handle_race_probe {
  race_probe counts;
  coreio::join_handle<int> handle;
};

coreio::task<int> shield_handle_race(handle_race_probe* p) {
  co_return co_await coreio::shield(p->handle);
}

TEST(ShieldTest, RaceLoopOfCancelAgainstCompletionOfAShieldedHandleLosesNoResult) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int iterations = sanitized(1000, 400);
  rng r(78);
  int values = 0;
  int cancels = 0;
  for (int i = 0; i < iterations; ++i) {
    handle_race_probe p;
    p.handle = rt->spawn(inner_after_yields(&p.counts, static_cast<int>(r.below(10)), i));
    auto h = rt->spawn(shield_handle_race(&p));
    coreio_test::spin_for(std::chrono::microseconds(r.below(100)));
    h.cancel();
    if (!ends_within(h) || !ends_within(p.handle)) {
      (void)rt.release();
      FAIL() << "iteration " << i << ": a task never ended";
    }
    try {
      EXPECT_EQ(h.get(), i) << "iteration " << i;
      ++values;
      EXPECT_THROW(p.handle.get(), coreio::usage_error) << "the shield took the result";
    } catch (const coreio::cancelled_error&) {
      ++cancels;
      EXPECT_EQ(p.handle.get(), i) << "iteration " << i << ": the result was lost";
    }
    EXPECT_EQ(p.counts.inner_cancelled.load(), 0) << "iteration " << i;
  }
  EXPECT_EQ(values + cancels, iterations);
  // How the race went (in the XML report): both outcomes should show up over many runs.
  RecordProperty("values", values);
  RecordProperty("cancels", cancels);
}

}  // namespace
