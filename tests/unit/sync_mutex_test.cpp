// sync_mutex_test.cpp — coreio/sync/mutex.hpp: lock / try_lock / guard semantics, FIFO hand-off,
// exclusion across workers, cancellation of a waiter (before and while waiting), and cancel racing
// the hand-off with exact ownership accounting.
#include <coreio/sync/mutex.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <type_traits>
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
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::wait_until;
using coreio_test::yield_until;

static_assert(!std::is_copy_constructible_v<coreio::mutex_guard>);
static_assert(std::is_nothrow_move_constructible_v<coreio::mutex_guard>);

coreio::task<bool> lock_unlock(coreio::mutex* m) {
  auto g = co_await m->lock();
  const bool held = g.owns_lock() && m->locked() && g.mutex() == m;
  g.unlock();
  co_return held && !g.owns_lock() && !m->locked();
}

TEST(SyncMutexTest, LockGivesAnOwningGuardThatUnlocks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::mutex m;
  EXPECT_TRUE(rt.block_on(lock_unlock(&m)));
  EXPECT_FALSE(m.locked());
}

TEST(SyncMutexTest, TryLockFailsWhileHeldAndGuardIsMovable) {
  coreio::mutex m;
  auto g = m.try_lock();
  ASSERT_TRUE(g.owns_lock());
  EXPECT_TRUE(m.locked());
  auto g2 = m.try_lock();
  EXPECT_FALSE(g2.owns_lock());
  EXPECT_FALSE(static_cast<bool>(g2));
  coreio::mutex_guard moved = std::move(g);
  EXPECT_FALSE(g.owns_lock());
  EXPECT_TRUE(moved.owns_lock());
  EXPECT_TRUE(m.locked());
  moved = coreio::mutex_guard{};  // move-assigning over an owning guard unlocks
  EXPECT_FALSE(m.locked());
  EXPECT_TRUE(m.try_lock().owns_lock());  // temporary guard unlocks at once
  EXPECT_FALSE(m.locked());
}

/// Bumps *queued once suspended in lock().
coreio::task<void> lock_and_record(coreio::mutex* m, std::vector<int>* order, int id,
                                   std::atomic<int>* queued) {
  auto g = co_await count_suspension(m->lock(), queued);
  order->push_back(id);
}

coreio::task<std::vector<int>> fifo_scenario(coreio::mutex* m, int n) {
  std::vector<int> order;
  std::vector<coreio::join_handle<void>> hs;
  std::atomic<int> queued{0};
  {
    auto g = co_await m->lock();
    for (int i = 0; i < n; ++i) {
      hs.push_back(coreio::spawn(lock_and_record(m, &order, i, &queued)));
      co_await yield_until(&queued, i + 1);  // task i is queued before task i + 1 is spawned
    }
  }
  for (auto& h : hs) co_await h;
  co_return order;
}

TEST(SyncMutexTest, WaitersGetTheMutexInFifoOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::mutex m;
  const std::vector<int> order = rt.block_on(fifo_scenario(&m, 8));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

coreio::task<bool> try_lock_while_waiters_queue(coreio::mutex* m) {
  std::vector<int> order;
  coreio::join_handle<void> h;
  std::atomic<int> queued{0};
  {
    auto g = co_await m->lock();
    h = coreio::spawn(lock_and_record(m, &order, 1, &queued));
    co_await yield_until(&queued, 1);
  }  // hands the mutex to the waiter, which has not run yet
  const bool barged = m->try_lock().owns_lock();
  co_await h;
  co_return !barged && order.size() == 1;
}

TEST(SyncMutexTest, UnlockHandsOverSoTryLockCannotBarge) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::mutex m;
  EXPECT_TRUE(rt.block_on(try_lock_while_waiters_queue(&m)));
  EXPECT_FALSE(m.locked());
}

struct counter {
  coreio::mutex m;
  long value = 0;  // guarded by m; unsynchronised otherwise (TSan checks the mutex's ordering)
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
};

coreio::task<void> increment(counter* c, int n) {
  for (int i = 0; i < n; ++i) {
    auto g = co_await c->m.lock();
    if (c->inside.fetch_add(1) != 0) c->overlap.store(true);
    ++c->value;
    if (i % 7 == 0) co_await coreio::yield_now();  // hold it across a suspension sometimes
    c->inside.fetch_sub(1);
  }
}

TEST(SyncMutexTest, ExcludesAcrossFourWorkers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  counter c;
  const int tasks = 8, n = sanitized(5000, 1000);
  std::vector<coreio::join_handle<void>> hs;
  for (int t = 0; t < tasks; ++t) hs.push_back(rt.spawn(increment(&c, n)));
  for (auto& h : hs) h.get();
  EXPECT_EQ(c.value, static_cast<long>(tasks) * n);
  EXPECT_FALSE(c.overlap.load());
  EXPECT_FALSE(c.m.locked());
}

struct probe {
  std::atomic<bool> waiting{false};  // lock_or_cancel: queued in lock(); otherwise: started
  std::atomic<bool> got{false};
  std::atomic<bool> cancelled{false};
};

coreio::task<void> lock_or_cancel(coreio::mutex* m, probe* p) {
  try {
    auto g = co_await count_suspension(m->lock(), &p->waiting);
    p->got.store(true);
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    throw;
  }
}

TEST(SyncMutexTest, CancellingAWaiterThrowsAndTheNextWaiterStillGetsTheLock) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::mutex m;
  auto g = m.try_lock();
  ASSERT_TRUE(g.owns_lock());
  probe a, b;
  auto ha = rt.spawn(lock_or_cancel(&m, &a));
  ASSERT_TRUE(wait_until([&] { return a.waiting.load(); }));  // a is queued, then b behind it
  auto hb = rt.spawn(lock_or_cancel(&m, &b));
  ASSERT_TRUE(wait_until([&] { return b.waiting.load(); }));
  ha.cancel();
  EXPECT_THROW(ha.get(), coreio::cancelled_error);
  EXPECT_TRUE(a.cancelled.load());
  EXPECT_FALSE(a.got.load());
  g.unlock();
  hb.get();
  EXPECT_TRUE(b.got.load());
  EXPECT_FALSE(m.locked());
}

/// Swallows the first cancel (in a long sleep), then locks: the scope is now cancelled (sticky).
/// Returns 1 if it got the lock, 0 if lock() threw cancelled_error.
coreio::task<int> swallow_cancel_then_lock(coreio::mutex* m, probe* p) {
  p->waiting.store(true);
  try {
    co_await coreio::sleep_for(1h);
  } catch (const coreio::cancelled_error&) {
  }
  try {
    auto g = co_await m->lock();
    co_return 1;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

TEST(SyncMutexTest, AnAlreadyCancelledTaskThrowsInsteadOfWaiting) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::mutex m;
  auto g = m.try_lock();
  probe p;
  auto h = rt.spawn(swallow_cancel_then_lock(&m, &p));
  ASSERT_TRUE(wait_until([&] { return p.waiting.load(); }));
  h.cancel();
  ASSERT_TRUE(coreio_test::ends_within(h)) << "lock() waited despite the cancel";
  EXPECT_EQ(h.get(), 0);
  EXPECT_TRUE(m.locked());  // still ours
}

TEST(SyncMutexTest, AnAlreadyCancelledTaskTakesAFreeMutexOnTheFastPath) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::mutex m;
  probe p;
  auto h = rt.spawn(swallow_cancel_then_lock(&m, &p));
  ASSERT_TRUE(wait_until([&] { return p.waiting.load(); }));
  h.cancel();
  EXPECT_EQ(h.get(), 1);
  EXPECT_FALSE(m.locked());
}

/// Waits for the mutex; reports whether it got it; leaves holding nothing either way.
coreio::task<int> lock_and_report(coreio::mutex* m, std::atomic<bool>* waiting) {
  waiting->store(true);
  try {
    auto g = co_await m->lock();
    co_return g.owns_lock() ? 1 : -100;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

// An unlock from a plain thread races a cancel from another: the waiter either gets the mutex
// (and releases it on return) or throws cancelled_error with the mutex then free. Either way the
// mutex ends unlocked and the task ends: ownership is never lost or duplicated.
TEST(SyncMutexTest, UnlockRacingCancelNeverLosesOwnership) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  coreio::mutex m;
  const int rounds = sanitized(2000, 300);
  rng r(21);
  int got = 0, cancelled = 0;
  for (int i = 0; i < rounds; ++i) {
    auto g = m.try_lock();
    ASSERT_TRUE(g.owns_lock()) << "round " << i << ": mutex left locked";
    std::atomic<bool> waiting{false};
    auto h = rt->spawn(lock_and_report(&m, &waiting));
    while (!waiting.load()) std::this_thread::yield();
    const auto unlock_delay = std::chrono::microseconds(r.below(30));
    const auto cancel_delay = std::chrono::microseconds(r.below(30));
    std::thread unlocker([&] {
      coreio_test::spin_for(unlock_delay);
      g.unlock();
    });
    coreio_test::spin_for(cancel_delay);
    h.cancel();
    unlocker.join();
    if (!coreio_test::ends_within(h)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the waiter never ended (lost wake-up)";
    }
    const int v = h.get();
    ASSERT_GE(v, 0);
    (v == 1 ? got : cancelled) += 1;
    ASSERT_TRUE(wait_until([&] { return !m.locked(); })) << "round " << i;
  }
  EXPECT_EQ(got + cancelled, rounds);
  RecordProperty("got", got);
  RecordProperty("cancelled", cancelled);
}

// Several waiters, a random one cancelled while the holder unlocks: every waiter that was not
// cancelled must get the mutex in turn (no lost hand-off), and it ends free.
TEST(SyncMutexTest, CancellingOneOfManyWaitersDuringHandOffLosesNoWakeUp) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 4});
  coreio::mutex m;
  const int rounds = sanitized(500, 100), n = 4;
  rng r(33);
  for (int i = 0; i < rounds; ++i) {
    auto g = m.try_lock();
    ASSERT_TRUE(g.owns_lock());
    std::vector<std::atomic<bool>> waiting(n);
    std::vector<coreio::join_handle<int>> hs;
    for (int k = 0; k < n; ++k) hs.push_back(rt->spawn(lock_and_report(&m, &waiting[k])));
    for (auto& w : waiting) {
      while (!w.load()) std::this_thread::yield();
    }
    const auto victim = r.below(n);
    std::thread unlocker([&] { g.unlock(); });
    hs[victim].cancel();
    unlocker.join();
    int got = 0;
    for (int k = 0; k < n; ++k) {
      if (!coreio_test::ends_within(hs[k])) {
        (void)rt.release();
        FAIL() << "round " << i << ": waiter " << k << " never ended";
      }
      const int v = hs[k].get();
      if (static_cast<std::uint64_t>(k) != victim) {
        EXPECT_EQ(v, 1) << "round " << i;
      }
      got += v;
    }
    EXPECT_GE(got, n - 1);
    EXPECT_FALSE(m.locked());
  }
}

}  // namespace
