// sync_condition_variable_test.cpp — coreio/sync/condition_variable.hpp: wait with and without a
// predicate, notify_one in FIFO order, notify_all, producer/consumer across workers, the mutex held
// again on every return (normal, cancelled before waiting, cancelled while waiting), a cancelled
// waiter passing the notify on, and notify racing cancel.
#include <coreio/sync/condition_variable.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/mutex.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::count_suspension;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::wait_until;
using coreio_test::yield_until;

struct monitor {
  coreio::mutex m;
  coreio::condition_variable cv;
  int ready = 0;          // guarded by m
  std::vector<int> order;  // guarded by m
  std::atomic<int> waiting{0};  // bumped under m just before cv.wait, which releases m
};

/// Waits for one notify (no predicate), records its id. 1 = normal, 0 = cancelled; the mutex must
/// be held on either return (-1 otherwise).
coreio::task<int> wait_once(monitor* mo, int id) {
  auto g = co_await mo->m.lock();
  mo->waiting.fetch_add(1);
  try {
    co_await mo->cv.wait(g);
  } catch (const coreio::cancelled_error&) {
    co_return (g.owns_lock() && mo->m.locked()) ? 0 : -1;
  }
  if (!g.owns_lock() || !mo->m.locked()) co_return -1;
  mo->order.push_back(id);
  co_return 1;
}

coreio::task<std::vector<int>> notify_one_scenario(monitor* mo, int n) {
  std::vector<coreio::join_handle<int>> hs;
  // One worker: a waiter that bumped `waiting` has reached cv.wait by the time this task runs.
  for (int i = 0; i < n; ++i) {
    hs.push_back(coreio::spawn(wait_once(mo, i)));
    co_await yield_until(&mo->waiting, i + 1);
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    mo->cv.notify_one();
    co_await yield_until([mo, i] { return mo->order.size() == i + 1; });  // the woken one recorded
  }
  for (auto& h : hs) (void)co_await h;
  co_return mo->order;
}

TEST(SyncConditionVariableTest, NotifyOneWakesWaitersInFifoOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  monitor mo;
  EXPECT_EQ(rt.block_on(notify_one_scenario(&mo, 5)), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(mo.m.locked());
}

coreio::task<int> wait_for_ready(monitor* mo) {
  auto g = co_await mo->m.lock();
  mo->waiting.fetch_add(1);
  co_await mo->cv.wait(g, [mo] { return mo->ready > 0; });
  co_return (g.owns_lock() && mo->m.locked()) ? mo->ready : -1;
}

coreio::task<void> make_ready(monitor* mo, int v) {
  auto g = co_await mo->m.lock();
  mo->ready = v;
  mo->cv.notify_all();
}

TEST(SyncConditionVariableTest, NotifyAllWakesEveryPredicateWaiterAcrossWorkers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  monitor mo;
  const int n = 12;
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(wait_for_ready(&mo)));
  ASSERT_TRUE(wait_until([&] { return mo.waiting.load() == n; }));
  mo.cv.notify_all();  // spurious from the waiters' view: the predicate is still false
  rt.block_on(make_ready(&mo, 9));
  for (auto& h : hs) EXPECT_EQ(h.get(), 9);
  EXPECT_FALSE(mo.m.locked());
}

coreio::task<int> predicate_true_at_once(monitor* mo) {
  auto g = co_await mo->m.lock();
  co_await mo->cv.wait(g, [] { return true; });
  co_return g.owns_lock() ? 1 : 0;
}

TEST(SyncConditionVariableTest, ATruePredicateDoesNotWait) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  monitor mo;
  EXPECT_EQ(rt.block_on(predicate_true_at_once(&mo)), 1);
}

struct channel {
  coreio::mutex m;
  coreio::condition_variable not_empty;
  coreio::condition_variable not_full;
  std::deque<long> items;  // guarded by m
  std::size_t cap = 4;
};

coreio::task<void> produce(channel* c, long from, long n) {
  for (long i = from; i < from + n; ++i) {
    auto g = co_await c->m.lock();
    co_await c->not_full.wait(g, [c] { return c->items.size() < c->cap; });
    c->items.push_back(i);
    c->not_empty.notify_one();
  }
}

coreio::task<long> consume(channel* c, long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    auto g = co_await c->m.lock();
    co_await c->not_empty.wait(g, [c] { return !c->items.empty(); });
    sum += c->items.front();
    c->items.pop_front();
    c->not_full.notify_one();
  }
  co_return sum;
}

TEST(SyncConditionVariableTest, BoundedBufferAcrossFourWorkersIsExact) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  channel c;
  const long per = sanitized(5000L, 1000L), producers = 4;
  std::vector<coreio::join_handle<void>> ps;
  std::vector<coreio::join_handle<long>> cs;
  for (long p = 0; p < producers; ++p) ps.push_back(rt.spawn(produce(&c, p * per, per)));
  for (long k = 0; k < producers; ++k) cs.push_back(rt.spawn(consume(&c, per)));
  long sum = 0;
  for (auto& h : cs) sum += h.get();
  for (auto& h : ps) h.get();
  const long total = producers * per;
  EXPECT_EQ(sum, total * (total - 1) / 2);
  EXPECT_TRUE(c.items.empty());
}

coreio::task<bool> wait_with_an_empty_guard(monitor* mo) {
  coreio::mutex_guard empty;
  try {
    co_await mo->cv.wait(empty);
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST(SyncConditionVariableTest, WaitWithoutOwningTheMutexIsAUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  monitor mo;
  EXPECT_TRUE(rt.block_on(wait_with_an_empty_guard(&mo)));
}

TEST(SyncConditionVariableTest, ACancelledWaiterHoldsTheMutexAgainAndPassesTheNotifyOn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  monitor mo;
  auto a = rt.spawn(wait_once(&mo, 0));
  ASSERT_TRUE(wait_until([&] { return mo.waiting.load() == 1; }));
  auto b = rt.spawn(wait_once(&mo, 1));
  ASSERT_TRUE(wait_until([&] { return mo.waiting.load() == 2; }));
  // Both are queued once the mutex is free again (each releases it only inside wait()).
  ASSERT_TRUE(wait_until([&] { return !mo.m.locked(); }));
  a.cancel();
  EXPECT_EQ(a.get(), 0);
  mo.cv.notify_one();  // a is gone: the notify goes to b
  EXPECT_EQ(b.get(), 1);
  EXPECT_FALSE(mo.m.locked());
}

TEST(SyncConditionVariableTest, ACancelWhileTheMutexIsHeldElsewhereWaitsForTheMutex) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};  // for ready_tasks_ran below
  monitor mo;
  auto a = rt.spawn(wait_once(&mo, 0));
  ASSERT_TRUE(wait_until([&] { return mo.waiting.load() == 1; }));
  ASSERT_TRUE(wait_until([&] { return !mo.m.locked(); }));
  auto g = mo.m.try_lock();  // from this plain thread
  ASSERT_TRUE(g.owns_lock());
  a.cancel();
  rt.block_on(coreio_test::ready_tasks_ran());  // a, woken by the cancel, has run by now
  EXPECT_FALSE(a.done()) << "the cancelled waiter must re-acquire the mutex before it returns";
  g.unlock();
  EXPECT_EQ(a.get(), 0);
  EXPECT_FALSE(mo.m.locked());
}

/// Swallows a first cancel, then waits on the cv with the scope already cancelled. Sets *asleep once
/// suspended in the first sleep.
coreio::task<int> cancelled_before_wait(monitor* mo, std::atomic<bool>* asleep) {
  try {
    co_await count_suspension(coreio::sleep_for(1h), asleep);
  } catch (const coreio::cancelled_error&) {
  }
  auto g = co_await mo->m.lock();  // free: fast path
  try {
    co_await mo->cv.wait(g);
  } catch (const coreio::cancelled_error&) {
    co_return g.owns_lock() && mo->m.locked() ? 0 : -1;
  }
  co_return 1;
}

TEST(SyncConditionVariableTest, AnAlreadyCancelledTaskThrowsWithoutReleasingTheMutex) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  monitor mo;
  std::atomic<bool> asleep{false};
  auto h = rt.spawn(cancelled_before_wait(&mo, &asleep));
  ASSERT_TRUE(wait_until([&] { return asleep.load(); }));
  h.cancel();
  ASSERT_TRUE(coreio_test::ends_within(h));
  EXPECT_EQ(h.get(), 0);
  EXPECT_FALSE(mo.m.locked());
}

// notify_one from a plain thread races cancel of the first of two waiters. Exactly one notify is
// delivered: if the first waiter was cancelled, the second must be woken (no lost notify). Every
// return holds the mutex.
TEST(SyncConditionVariableTest, NotifyRacingCancelLosesNoNotify) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(1000, 200);
  rng r(3);
  int first_woken = 0, first_cancelled = 0;
  for (int i = 0; i < rounds; ++i) {
    monitor mo;
    auto a = rt->spawn(wait_once(&mo, 0));
    while (mo.waiting.load() < 1) std::this_thread::yield();
    auto b = rt->spawn(wait_once(&mo, 1));
    while (mo.waiting.load() < 2) std::this_thread::yield();
    while (mo.m.locked()) std::this_thread::yield();  // both queued on the cv
    const auto delay = std::chrono::microseconds(r.below(20));
    std::thread notifier([&] {
      coreio_test::spin_for(delay);
      mo.cv.notify_one();
    });
    a.cancel();
    notifier.join();
    if (!coreio_test::ends_within(a)) {
      (void)rt.release();
      FAIL() << "round " << i << ": first waiter never ended";
    }
    const int va = a.get();
    ASSERT_GE(va, 0);
    if (va == 0) {
      ++first_cancelled;
      if (!coreio_test::ends_within(b)) {
        (void)rt.release();
        FAIL() << "round " << i << ": the notify was lost with the cancelled waiter";
      }
      ASSERT_EQ(b.get(), 1);
    } else {
      ++first_woken;
      mo.cv.notify_all();
      ASSERT_TRUE(coreio_test::ends_within(b));
      ASSERT_EQ(b.get(), 1);
    }
    ASSERT_TRUE(wait_until([&] { return !mo.m.locked(); }));
  }
  EXPECT_EQ(first_woken + first_cancelled, rounds);
}

}  // namespace
