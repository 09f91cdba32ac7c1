// sync_barrier_latch_test.cpp — coreio/sync/barrier.hpp and coreio/sync/latch.hpp: arrival
// indices, reuse over many generations on four workers, a cancelled barrier waiter un-arriving, the
// completing arrival racing a cancel; abort() (waiters and later arrivals throw broken_barrier
// until reset()), reset() (breaks the current waiters, then the barrier works again), abort racing
// a cancel and racing the completing arrival; latch count_down / wait / try_wait / arrive_and_wait,
// count_down from plain threads, over-count errors and cancellation of a latch waiter.
#include <coreio/sync/barrier.hpp>
#include <coreio/sync/latch.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::count_suspension;
using coreio_test::ends_within;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::wait_until;

coreio::task<std::size_t> arrive(coreio::barrier* b) { co_return co_await b->arrive_and_wait(); }

coreio::task<std::vector<std::size_t>> indices_scenario(coreio::barrier* b) {
  std::vector<coreio::join_handle<std::size_t>> hs;
  for (std::size_t i = 0; i < 2; ++i) {
    hs.push_back(coreio::spawn(arrive(b)));
    co_await coreio_test::yield_until([b, i] { return b->waiting() == i + 1; });  // i has arrived
  }
  std::vector<std::size_t> out;
  out.push_back(co_await b->arrive_and_wait());  // the last arrival: no suspension
  for (auto& h : hs) out.push_back(co_await h);
  co_return out;
}

TEST(SyncBarrierTest, ArrivalIndicesFollowArrivalOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::barrier b{3};
  EXPECT_EQ(rt.block_on(indices_scenario(&b)), (std::vector<std::size_t>{2, 0, 1}));
  EXPECT_EQ(b.waiting(), 0u);
}

TEST(SyncBarrierTest, ZeroPartiesIsAUsageErrorAndOnePartyNeverWaits) {
  EXPECT_THROW(coreio::barrier{0}, coreio::usage_error);
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::barrier b{1};
  EXPECT_EQ(rt.block_on(arrive(&b)), 0u);
  EXPECT_EQ(rt.block_on(arrive(&b)), 0u);
}

struct phases {
  coreio::barrier* b;
  std::vector<std::atomic<int>>* progress;  // per party: the phase it finished
  std::atomic<bool> ahead{false};
  std::atomic<std::uint64_t> index_sum{0};
};

coreio::task<void> run_phases(phases* p, int me, int n_phases, int parties) {
  for (int phase = 0; phase < n_phases; ++phase) {
    (*p->progress)[me].store(phase);
    const std::size_t idx = co_await p->b->arrive_and_wait();
    p->index_sum.fetch_add(idx);
    // Nobody may be more than one phase ahead of anyone: all reached `phase` before we passed.
    for (int other = 0; other < parties; ++other) {
      if ((*p->progress)[other].load() < phase) p->ahead.store(true);
    }
  }
}

TEST(SyncBarrierTest, IsReusableOverManyGenerationsOnFourWorkers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  const int parties = 6, n_phases = sanitized(500, 100);
  coreio::barrier b{parties};
  std::vector<std::atomic<int>> progress(parties);
  phases p{&b, &progress};
  std::vector<coreio::join_handle<void>> hs;
  for (int i = 0; i < parties; ++i) hs.push_back(rt.spawn(run_phases(&p, i, n_phases, parties)));
  for (auto& h : hs) h.get();
  EXPECT_FALSE(p.ahead.load());
  // Each generation hands out 0 .. parties - 1 exactly once.
  EXPECT_EQ(p.index_sum.load(), static_cast<std::uint64_t>(n_phases) * parties * (parties - 1) / 2);
  EXPECT_EQ(b.waiting(), 0u);
}

/// 1 + index if it passed the barrier, 0 if cancelled.
coreio::task<std::size_t> arrive_or_cancel(coreio::barrier* b, std::atomic<int>* waiting) {
  waiting->fetch_add(1);
  try {
    co_return 1 + co_await b->arrive_and_wait();
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

TEST(SyncBarrierTest, ACancelledWaiterUnArrives) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::barrier b{2};
  std::atomic<int> waiting{0};
  auto a = rt.spawn(arrive_or_cancel(&b, &waiting));
  ASSERT_TRUE(wait_until([&] { return b.waiting() == 1; }));
  a.cancel();
  EXPECT_EQ(a.get(), 0u);
  EXPECT_EQ(b.waiting(), 0u);
  auto c = rt.spawn(arrive_or_cancel(&b, &waiting));
  ASSERT_TRUE(wait_until([&] { return b.waiting() == 1; }));
  EXPECT_EQ(rt.block_on(arrive(&b)), 1u);
  EXPECT_EQ(c.get(), 1u);  // index 0, + 1
}

// The completing arrival races a cancel of the waiting party. Either the generation completed (the
// waiter returns index 0) or the waiter un-arrived (the arrival then waits for a new partner).
TEST(SyncBarrierTest, CompletionRacingCancelLeavesTheBarrierConsistent) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300);
  rng r(12);
  int passed = 0, cancelled = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::barrier b{2};
    std::atomic<int> waiting{0};
    auto a = rt->spawn(arrive_or_cancel(&b, &waiting));
    while (b.waiting() == 0) std::this_thread::yield();
    auto second = rt->spawn(arrive_or_cancel(&b, &waiting));
    coreio_test::spin_for(std::chrono::microseconds(r.below(30)));
    a.cancel();
    if (!coreio_test::ends_within(a)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the first party never ended";
    }
    const std::size_t va = a.get();
    if (va == 0) {
      ++cancelled;
      // The second arrival is (or will be) alone: a third completes its generation.
      auto third = rt->spawn(arrive_or_cancel(&b, &waiting));
      ASSERT_TRUE(coreio_test::ends_within(second) && coreio_test::ends_within(third));
      const std::size_t v2 = second.get(), v3 = third.get();
      ASSERT_EQ(std::min(v2, v3), 1u);
      ASSERT_EQ(std::max(v2, v3), 2u);
    } else {
      ++passed;
      ASSERT_EQ(va, 1u);
      ASSERT_TRUE(coreio_test::ends_within(second));
      ASSERT_EQ(second.get(), 2u);
    }
    ASSERT_EQ(b.waiting(), 0u);
  }
  EXPECT_EQ(passed + cancelled, rounds);
}

// ---- abort / reset ------------------------------------------------------------------------------

/// 1 + index if it passed, 0 if cancelled, -1 if the barrier was broken. Counts its arrival first.
coreio::task<int> arrive_and_report(coreio::barrier* b, std::atomic<int>* arrived) {
  arrived->fetch_add(1);
  try {
    co_return 1 + static_cast<int>(co_await b->arrive_and_wait());
  } catch (const coreio::broken_barrier&) {
    co_return -1;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

TEST(SyncBarrierTest, AbortBreaksEveryWaiterAndEveryLaterArrivalUntilReset) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::barrier b{4};
  std::atomic<int> arrived{0};
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(rt.spawn(arrive_and_report(&b, &arrived)));
  ASSERT_TRUE(wait_until([&] { return b.waiting() == 3; }));
  EXPECT_FALSE(b.broken());
  b.abort();
  EXPECT_TRUE(b.broken());
  for (auto& h : hs) EXPECT_EQ(h.get(), -1);
  EXPECT_EQ(b.waiting(), 0u);
  // Broken: every arrival throws at once, even the one that would complete a generation.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rt.block_on(arrive_and_report(&b, &arrived)), -1);
  b.abort();  // idempotent
  EXPECT_TRUE(b.broken());
  b.reset();
  EXPECT_FALSE(b.broken());
  // Usable again, from a fresh generation.
  hs.clear();
  for (int i = 0; i < 4; ++i) hs.push_back(rt.spawn(arrive_and_report(&b, &arrived)));
  int sum = 0;
  for (auto& h : hs) sum += h.get();
  EXPECT_EQ(sum, 1 + 2 + 3 + 4);
}

TEST(SyncBarrierTest, ResetBreaksTheCurrentWaitersAndLeavesTheBarrierUsable) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::barrier b{3};
  std::atomic<int> arrived{0};
  auto first = rt.spawn(arrive_and_report(&b, &arrived));
  auto second = rt.spawn(arrive_and_report(&b, &arrived));
  ASSERT_TRUE(wait_until([&] { return b.waiting() == 2; }));
  b.reset();
  EXPECT_EQ(first.get(), -1);
  EXPECT_EQ(second.get(), -1);
  EXPECT_FALSE(b.broken()) << "reset breaks the waiters, not the barrier";
  EXPECT_EQ(b.waiting(), 0u);
  // The next arrivals form a whole new generation of three.
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(rt.spawn(arrive_and_report(&b, &arrived)));
  int sum = 0;
  for (auto& h : hs) sum += h.get();
  EXPECT_EQ(sum, 1 + 2 + 3);
  b.reset();  // no waiters: nothing to break
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.waiting(), 0u);
}

// abort() from a plain thread races cancel() of the waiting party. Exactly one decides: the waiter
// throws cancelled_error or broken_barrier; either way it left the list and the barrier is broken.
TEST(SyncBarrierTest, AbortRacingCancelLeavesTheBarrierConsistent) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300);
  rng r(14);
  int broken = 0, cancelled = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::barrier b{2};
    std::atomic<int> arrived{0};
    auto a = rt->spawn(arrive_and_report(&b, &arrived));
    while (b.waiting() == 0) std::this_thread::yield();
    const auto delay = std::chrono::microseconds(r.below(30));
    std::thread aborter([&] {
      coreio_test::spin_for(delay);
      b.abort();
    });
    a.cancel();
    aborter.join();
    if (!coreio_test::ends_within(a)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the waiter never ended";
    }
    const int v = a.get();
    ASSERT_TRUE(v == -1 || v == 0) << "round " << i << ": " << v;
    (v == -1 ? broken : cancelled) += 1;
    ASSERT_EQ(b.waiting(), 0u);
    ASSERT_TRUE(b.broken());
  }
  EXPECT_EQ(broken + cancelled, rounds);
}

// abort() races the arrival that completes the generation. The generation either completed and
// the waiter resumed before the abort (both pass), or the abort came first (both throw
// broken_barrier: the waiter by the abort, the late arrival because the barrier is broken), or it
// came between the completion and the waiter's resumption (asyncio's abort while draining: the
// completer passed, the released waiter throws broken_barrier). Never the waiter passing while the
// completer throws.
TEST(SyncBarrierTest, AbortRacingTheCompletingArrivalBreaksAllOrNone) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300);
  rng r(15);
  int passed = 0, aborted = 0, drained = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::barrier b{2};
    std::atomic<int> arrived{0};
    auto a = rt->spawn(arrive_and_report(&b, &arrived));
    while (b.waiting() == 0) std::this_thread::yield();
    const auto delay = std::chrono::microseconds(r.below(30));
    std::thread aborter([&] {
      coreio_test::spin_for(delay);
      b.abort();
    });
    auto second = rt->spawn(arrive_and_report(&b, &arrived));
    aborter.join();
    if (!coreio_test::ends_within(a) || !coreio_test::ends_within(second)) {
      (void)rt.release();
      FAIL() << "round " << i << ": a party never ended";
    }
    const int va = a.get(), vb = second.get();
    if (va == -1 && vb == 2) {
      ++drained;
    } else if (va == -1) {
      ASSERT_EQ(vb, -1) << "round " << i;
      ++aborted;
    } else {
      ASSERT_EQ(va, 1) << "round " << i;
      ASSERT_EQ(vb, 2) << "round " << i;
      ++passed;
    }
    ASSERT_EQ(b.waiting(), 0u);
  }
  EXPECT_EQ(passed + aborted + drained, rounds);
}

// ---- draining (asyncio's Barrier: a generation's released tasks leave before the next fills) ----

/// Arrives twice; records the second arrival's outcome (1 + index, or -1 if broken).
coreio::task<void> arrive_twice(coreio::barrier* b, std::atomic<int>* first_done, int* second) {
  (void)co_await b->arrive_and_wait();
  first_done->fetch_add(1);
  try {
    *second = 1 + static_cast<int>(co_await b->arrive_and_wait());
  } catch (const coreio::broken_barrier&) {
    *second = -1;
  }
}

coreio::task<std::size_t> arrive_plain(coreio::barrier* b) {
  co_return co_await b->arrive_and_wait();
}

TEST(SyncBarrierTest, ArrivalsWhileTheBarrierDrainsWaitForTheNextGeneration) {
  // One worker, so the order is asyncio's: the two waiters released by the third arrival have not
  // run yet when that arrival arrives again, so it waits, counted in no generation, until both
  // have resumed; the last of them out arrives first.
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::barrier b{3};
  std::atomic<int> first_done{0};
  int s1 = 0, s2 = 0;
  auto t1 = rt.spawn(arrive_twice(&b, &first_done, &s1));
  auto t2 = rt.spawn(arrive_twice(&b, &first_done, &s2));
  ASSERT_TRUE(wait_until([&] { return b.waiting() == 2; }));
  const int s3 = rt.block_on([](coreio::barrier* bb) -> coreio::task<int> {
    const std::size_t i = co_await bb->arrive_and_wait();  // completes: index 2
    EXPECT_EQ(bb->waiting(), 2u) << "the two released tasks have not resumed yet";
    co_return 1 + static_cast<int>(i) + 10 * (1 + static_cast<int>(co_await bb->arrive_and_wait()));
  }(&b));
  ASSERT_TRUE(ends_within(t1) && ends_within(t2));
  // The second generation is asyncio's: t2, the last out, arrives at once (index 0); the third
  // task and t1, blocked while it drained, arrive again when they run, in that order (1 and 2).
  EXPECT_EQ(s2, 1);
  EXPECT_EQ(s3, 3 + 10 * 2);
  EXPECT_EQ(s1, 3);
  EXPECT_EQ(b.waiting(), 0u);
}

/// CPython's test_reset_barrier_while_tasks_draining: the last task out of a generation resets the
/// barrier while the others already wait in the next one; nobody is broken.
struct drain_reset {
  coreio::barrier b{5};
  std::atomic<int> count{0};
  std::atomic<int> passed_second{0};
  std::atomic<int> broken_second{0};
  std::atomic<int> passed_third{0};
};

coreio::task<void> reset_when_last_out(drain_reset* d) {
  (void)co_await d->b.arrive_and_wait();
  if (d->count.fetch_add(1) + 1 == 5) {
    d->b.reset();
    (void)co_await d->b.arrive_and_wait();
  } else {
    try {
      (void)co_await d->b.arrive_and_wait();
      d->passed_second.fetch_add(1);
    } catch (const coreio::broken_barrier&) {
      d->broken_second.fetch_add(1);
    }
  }
  (void)co_await d->b.arrive_and_wait();
  d->passed_third.fetch_add(1);
}

TEST(SyncBarrierTest, AResetByTheLastTaskOutOfAGenerationBreaksNobody) {
  // One worker, so the order is asyncio's (on two, a task woken at the end of the draining may
  // arrive on the other worker before the reset, which then breaks it, as it should).
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  drain_reset d;
  rt.block_on([](drain_reset* dd) -> coreio::task<void> {
    std::vector<coreio::join_handle<void>> hs;
    for (int i = 0; i < 5; ++i) hs.push_back(coreio::spawn(reset_when_last_out(dd)));
    for (auto& h : hs) co_await h;
  }(&d));
  EXPECT_EQ(d.passed_second.load(), 4);
  EXPECT_EQ(d.broken_second.load(), 0);
  EXPECT_EQ(d.passed_third.load(), 5);
  EXPECT_FALSE(d.b.broken());
  EXPECT_EQ(d.b.waiting(), 0u);
}

/// CPython's test_abort_barrier_when_tasks_half_draining_half_blocking, on one worker (its order is
/// asyncio's): tasks 1 and 2 leave the first generation and arrive again (blocked: it drains);
/// task 3 aborts. Tasks 4 and 5, released but not resumed yet, and the blocked 1 and 2 all throw
/// broken_barrier.
struct drain_abort {
  coreio::barrier b{5};
  int count = 0;
  int broken_first = 0;
  int broken_second = 0;
};

coreio::task<void> abort_while_draining(drain_abort* d) {
  try {
    (void)co_await d->b.arrive_and_wait();
  } catch (const coreio::broken_barrier&) {
    ++d->broken_first;
    co_return;
  }
  if (++d->count > 2) {
    d->b.abort();
    co_return;
  }
  try {
    (void)co_await d->b.arrive_and_wait();
  } catch (const coreio::broken_barrier&) {
    ++d->broken_second;
  }
}

TEST(SyncBarrierTest, AnAbortWhileDrainingBreaksTheReleasedAndTheBlockedTasks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  drain_abort d;
  rt.block_on([](drain_abort* dd) -> coreio::task<void> {
    std::vector<coreio::join_handle<void>> hs;
    for (int i = 0; i < 5; ++i) hs.push_back(coreio::spawn(abort_while_draining(dd)));
    for (auto& h : hs) co_await h;
  }(&d));
  EXPECT_TRUE(d.b.broken());
  EXPECT_EQ(d.broken_first, 2);
  EXPECT_EQ(d.broken_second, 2);
  EXPECT_EQ(d.b.waiting(), 0u);
}

TEST(SyncBarrierTest, AResetWhileFillingMakesNewArrivalsWaitUntilTheBrokenWaitersLeft) {
  // asyncio's resetting state: the waiters a reset broke leave before a new generation fills.
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::barrier b{2};
  std::atomic<int> arrived{0};
  auto first = rt.spawn(arrive_and_report(&b, &arrived));
  ASSERT_TRUE(wait_until([&] { return b.waiting() == 1; }));
  const int v = rt.block_on([](coreio::barrier* bb) -> coreio::task<int> {
    bb->reset();
    // The broken waiter has not resumed: this arrival waits for it, then for a partner.
    auto partner = coreio::spawn(arrive_plain(bb));
    const std::size_t i = co_await bb->arrive_and_wait();
    co_return static_cast<int>(i + co_await partner);
  }(&b));
  EXPECT_EQ(first.get(), -1);
  EXPECT_EQ(v, 1);  // indices 0 and 1
  EXPECT_EQ(b.waiting(), 0u);
}

// ---- latch ------------------------------------------------------------------------------------

TEST(SyncLatchTest, CountDownAndTryWait) {
  coreio::latch l{3};
  EXPECT_FALSE(l.try_wait());
  l.count_down();
  l.count_down(2);
  EXPECT_TRUE(l.try_wait());
  EXPECT_THROW(l.count_down(), coreio::usage_error);
  coreio::latch z{0};
  EXPECT_TRUE(z.try_wait());
  coreio::latch two{2};
  EXPECT_THROW(two.count_down(3), coreio::usage_error);
  EXPECT_FALSE(two.try_wait()) << "a rejected count_down changes nothing";
}

struct latch_data {
  coreio::latch l{4};
  int values[4] = {};  // each written before its count_down, read after the wait
};

coreio::task<int> wait_and_sum(latch_data* d, std::atomic<int>* waiting) {
  waiting->fetch_add(1);
  co_await d->l.wait();
  co_return d->values[0] + d->values[1] + d->values[2] + d->values[3];
}

TEST(SyncLatchTest, CountDownFromPlainThreadsWakesEveryWaiter) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  latch_data d;
  std::atomic<int> waiting{0};
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < 8; ++i) hs.push_back(rt.spawn(wait_and_sum(&d, &waiting)));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 8; }));
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&d, i] {
      d.values[i] = i + 1;
      d.l.count_down();
    });
  }
  for (auto& h : hs) EXPECT_EQ(h.get(), 10);
  for (auto& t : ts) t.join();
  // Already at zero: a wait passes at once.
  std::atomic<int> w2{0};
  EXPECT_EQ(rt.block_on(wait_and_sum(&d, &w2)), 10);
}

coreio::task<int> arrive_at_latch(coreio::latch* l) {
  co_await l->arrive_and_wait();
  co_return 1;
}

TEST(SyncLatchTest, ArriveAndWaitReleasesEveryoneTogether) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  coreio::latch l{5};
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(rt.spawn(arrive_at_latch(&l)));
  int sum = 0;
  for (auto& h : hs) sum += h.get();
  EXPECT_EQ(sum, 5);
  EXPECT_TRUE(l.try_wait());
}

/// Bumps *waiting once suspended in wait().
coreio::task<int> latch_wait_or_cancel(coreio::latch* l, std::atomic<int>* waiting) {
  try {
    co_await count_suspension(l->wait(), waiting);
    co_return 1;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

TEST(SyncLatchTest, ACancelledWaiterThrowsAndOthersAreStillReleased) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::latch l{1};
  std::atomic<int> waiting{0};
  auto a = rt.spawn(latch_wait_or_cancel(&l, &waiting));
  auto b = rt.spawn(latch_wait_or_cancel(&l, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));  // both suspended in wait()
  a.cancel();
  EXPECT_EQ(a.get(), 0);
  l.count_down();
  EXPECT_EQ(b.get(), 1);
}

TEST(SyncLatchTest, CountDownRacingCancelAlwaysEndsTheWaiter) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300);
  rng r(13);
  for (int i = 0; i < rounds; ++i) {
    coreio::latch l{1};
    std::atomic<int> waiting{0};
    auto h = rt->spawn(latch_wait_or_cancel(&l, &waiting));
    while (waiting.load() == 0) std::this_thread::yield();
    const auto delay = std::chrono::microseconds(r.below(30));
    std::thread t([&] {
      coreio_test::spin_for(delay);
      l.count_down();
    });
    h.cancel();
    t.join();
    if (!coreio_test::ends_within(h)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the waiter never ended";
    }
    ASSERT_GE(h.get(), 0);
  }
}

}  // namespace
