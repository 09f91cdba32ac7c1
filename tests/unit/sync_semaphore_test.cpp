// sync_semaphore_test.cpp — coreio/sync/semaphore.hpp: permits, RAII and detach, try_acquire,
// FIFO hand-off, concurrency limit across workers, bounded_semaphore over-release, cancellation of a
// waiter, and release racing cancel with exact permit accounting.
#include <coreio/sync/semaphore.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
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

static_assert(!std::is_copy_constructible_v<coreio::semaphore_permit>);
static_assert(std::is_nothrow_move_constructible_v<coreio::semaphore_permit>);

coreio::task<std::size_t> acquire_two(coreio::semaphore* s) {
  auto a = co_await s->acquire();
  auto b = co_await s->acquire();
  const std::size_t during = s->available();
  coreio::semaphore_permit moved = std::move(a);
  if (a.owns_permit() || !moved.owns_permit()) co_return 999;
  moved.release();
  co_return during * 10 + s->available();
}

TEST(SyncSemaphoreTest, PermitsAreCountedAndReturnedByRaii) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::semaphore s{3};
  EXPECT_EQ(s.available(), 3u);
  EXPECT_EQ(rt.block_on(acquire_two(&s)), 12u);  // 1 left while holding two; 2 after one release
  EXPECT_EQ(s.available(), 3u);
}

TEST(SyncSemaphoreTest, TryAcquireAndDetach) {
  coreio::semaphore s{1};
  auto p = s.try_acquire();
  ASSERT_TRUE(p.owns_permit());
  EXPECT_FALSE(s.try_acquire().owns_permit());
  EXPECT_TRUE(s.locked());
  coreio::semaphore* owner = p.detach();
  EXPECT_EQ(owner, &s);
  EXPECT_FALSE(p.owns_permit());
  EXPECT_EQ(s.available(), 0u) << "a detached permit is not returned";
  s.release();
  EXPECT_EQ(s.available(), 1u);
  s.release();  // an unbounded semaphore may grow past its initial count
  EXPECT_EQ(s.available(), 2u);
}

TEST(SyncSemaphoreTest, BoundedSemaphoreRejectsOverRelease) {
  coreio::bounded_semaphore s{2};
  EXPECT_THROW(s.release(), coreio::usage_error);
  EXPECT_EQ(s.available(), 2u) << "a rejected release changes nothing";
  {
    auto p = s.try_acquire();
    ASSERT_TRUE(p);
    EXPECT_EQ(s.available(), 1u);
  }
  EXPECT_EQ(s.available(), 2u);
  auto p = s.try_acquire();
  (void)p.detach();
  s.release();  // matches the detached acquisition
  EXPECT_THROW(s.release(), coreio::usage_error);
  EXPECT_EQ(s.available(), 2u);
  coreio::bounded_semaphore zero{0};
  EXPECT_THROW(zero.release(), coreio::usage_error);
}

/// tokio #8395's kind: a permit returned when explicit releases already filled the count must not
/// wrap it (at max_permits the count went to 0 and every permit was lost), nor take a bounded
/// semaphore past its bound (two holders of a bounded_semaphore{1} at once).
TEST(SyncSemaphoreTest, APermitReturnedAtTheBoundIsDroppedNotWrappedOrOverTheBound) {
  constexpr std::size_t most = coreio::detail::permit_core::max_permits;
  coreio::semaphore s{most - 1};
  auto p = s.try_acquire();
  ASSERT_TRUE(p);
  s.release();
  s.release();
  EXPECT_EQ(s.available(), most);
  EXPECT_THROW(s.release(), coreio::usage_error);
  p.release();
  EXPECT_EQ(s.available(), most) << "the count wrapped";
  EXPECT_TRUE(s.try_acquire().owns_permit());

  coreio::bounded_semaphore b{1};
  {
    auto q = b.try_acquire();
    ASSERT_TRUE(q);
    b.release();  // the caller's own release; q's destructor releases again
  }
  EXPECT_EQ(b.available(), 1u) << "a bounded semaphore went past its bound";
  auto first = b.try_acquire();
  EXPECT_TRUE(first.owns_permit());
  EXPECT_FALSE(b.try_acquire().owns_permit()) << "two holders of a bounded_semaphore{1}";
}

coreio::task<void> acquire_and_record(coreio::semaphore* s, std::vector<int>* order, int id,
                                      std::atomic<int>* queued) {
  auto p = co_await count_suspension(s->acquire(), queued);
  order->push_back(id);
  co_await coreio::yield_now();
}

coreio::task<std::vector<int>> fifo_scenario(coreio::semaphore* s, int n) {
  std::vector<int> order;
  std::vector<coreio::join_handle<void>> hs;
  std::atomic<int> queued{0};
  auto a = co_await s->acquire();
  auto b = co_await s->acquire();
  for (int i = 0; i < n; ++i) {
    hs.push_back(coreio::spawn(acquire_and_record(s, &order, i, &queued)));
    co_await yield_until(&queued, i + 1);  // task i is queued before task i + 1 is spawned
  }
  a.release();  // b stays held: the waiters pass one permit along, in order
  for (auto& h : hs) co_await h;
  b.release();
  co_return order;
}

TEST(SyncSemaphoreTest, WaitersGetPermitsInFifoOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::semaphore s{2};
  EXPECT_EQ(rt.block_on(fifo_scenario(&s, 6)), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(s.available(), 2u);
}

// ---- a woken waiter keeps its place until it runs (asyncio's fairness) ----------------------

/// Takes a permit and keeps it; records i.
coreio::task<void> acquire_and_keep(coreio::semaphore* s, std::vector<int>* order, int i) {
  (co_await s->acquire()).detach();
  order->push_back(i);
}

/// Takes a permit, records 2, gives it back, and at once asks again: a waiter woken by an earlier
/// release, not yet run, must still come first.
coreio::task<void> release_then_acquire_again(coreio::semaphore* s, std::vector<int>* order) {
  (co_await s->acquire()).detach();
  order->push_back(2);
  s->release();
  (co_await s->acquire()).detach();
  order->push_back(4);
}

coreio::task<std::vector<int>> woken_waiter_keeps_its_place() {
  coreio::semaphore s{1};
  std::vector<int> order;
  auto t1 = coreio::spawn(acquire_and_keep(&s, &order, 1));
  auto t2 = coreio::spawn(release_then_acquire_again(&s, &order));
  auto t3 = coreio::spawn(acquire_and_keep(&s, &order, 3));
  co_await coreio::yield_now();  // t1 holds the permit; t2 and t3 wait
  s.release();
  s.release();  // both waiters are handed a permit; neither has run yet
  co_await t1;
  co_await t2;
  co_await t3;
  co_return order;
}

TEST(SyncSemaphoreTest, AWokenWaiterThatHasNotRunKeepsItsPlaceAheadOfANewAcquire) {
  // CPython's test_acquire_fifo_order_2: t2's second acquire queues behind t3, which was woken by
  // the second release but had not run yet (it took the permit t2 gave back without waiting).
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(woken_waiter_keeps_its_place()), (std::vector<int>{1, 2, 3, 4}));
}

/// Releases three permits to a semaphore at 0 with one waiter queued, then acquires itself.
coreio::task<void> release_three_then_acquire(coreio::semaphore* s, std::vector<int>* order,
                                              bool* locked_while_pending) {
  s->release();  // handed to the waiter (t1), which has not run yet
  s->release();
  s->release();
  *locked_while_pending = s->locked();
  (co_await s->acquire()).detach();
  order->push_back(2);
}

coreio::task<std::vector<int>> permits_counted_while_a_grant_is_pending(bool* locked) {
  coreio::semaphore s{0};
  std::vector<int> order;
  auto t1 = coreio::spawn(acquire_and_keep(&s, &order, 1));
  auto t2 = coreio::spawn(release_three_then_acquire(&s, &order, locked));
  auto t3 = coreio::spawn(acquire_and_keep(&s, &order, 3));
  co_await t1;
  co_await t2;
  co_await t3;
  if (s.available() != 0 || s.locked() != true) order.push_back(-1);
  co_return order;
}

TEST(SyncSemaphoreTest, PermitsReleasedWhileAGrantIsPendingGoToTheQueueInOrder) {
  // CPython's test_acquire_fifo_order_4: t2 releases three permits (the first handed to t1, not
  // yet run) and acquires: it queues behind t1, and t1's resumption hands the two free permits on
  // to t2 and t3 in their order. locked() is true meanwhile though two permits are free.
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  bool locked = false;
  EXPECT_EQ(rt.block_on(permits_counted_while_a_grant_is_pending(&locked)),
            (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(locked);
}

struct limit_probe {
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<int> done{0};
};

coreio::task<void> limited_work(coreio::semaphore* s, limit_probe* p, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto permit = co_await s->acquire();
    const int now = p->inside.fetch_add(1) + 1;
    int seen = p->max_inside.load();
    while (now > seen && !p->max_inside.compare_exchange_weak(seen, now)) {
    }
    co_await coreio::yield_now();
    p->inside.fetch_sub(1);
  }
  p->done.fetch_add(1);
}

TEST(SyncSemaphoreTest, LimitsConcurrencyAcrossFourWorkers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  coreio::semaphore s{3};
  limit_probe p;
  const int tasks = 12, rounds = sanitized(500, 100);
  std::vector<coreio::join_handle<void>> hs;
  for (int t = 0; t < tasks; ++t) hs.push_back(rt.spawn(limited_work(&s, &p, rounds)));
  for (auto& h : hs) h.get();
  EXPECT_EQ(p.done.load(), tasks);
  EXPECT_LE(p.max_inside.load(), 3);
  EXPECT_GE(p.max_inside.load(), 1);
  EXPECT_EQ(s.available(), 3u);
}

/// 1 = got a permit (kept: detached), 0 = cancelled. Bumps *waiting once suspended in acquire().
coreio::task<int> acquire_and_keep(coreio::semaphore* s, std::atomic<int>* waiting) {
  try {
    auto p = co_await count_suspension(s->acquire(), waiting);
    (void)p.detach();
    co_return 1;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

TEST(SyncSemaphoreTest, ACancelledWaiterTakesNoPermitAndTheNextOneGetsIt) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::semaphore s{0};
  std::atomic<int> waiting{0};
  auto a = rt.spawn(acquire_and_keep(&s, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 1; }));  // a is queued, then b behind it
  auto b = rt.spawn(acquire_and_keep(&s, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));
  a.cancel();
  EXPECT_EQ(a.get(), 0);
  s.release();
  EXPECT_EQ(b.get(), 1);
  EXPECT_EQ(s.available(), 0u);
  s.release();
  EXPECT_EQ(s.available(), 1u);
}

// Releases from a plain thread race cancels of random waiters. Every permit ends either with a
// waiter that returned it as taken, or in the semaphore: got + available == released, exactly.
TEST(SyncSemaphoreTest, ReleaseRacingCancelLosesNoPermit) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300), n = 3;
  rng r(44);
  for (int i = 0; i < rounds; ++i) {
    coreio::semaphore s{0};
    std::atomic<int> waiting{0};
    std::vector<coreio::join_handle<int>> hs;
    for (int k = 0; k < n; ++k) hs.push_back(rt->spawn(acquire_and_keep(&s, &waiting)));
    while (waiting.load() < n) std::this_thread::yield();
    const auto delay = std::chrono::microseconds(r.below(30));
    const int released = 1 + static_cast<int>(r.below(n));
    std::thread releaser([&] {
      coreio_test::spin_for(delay);
      for (int k = 0; k < released; ++k) s.release();
    });
    hs[r.below(n)].cancel();
    releaser.join();
    // Wake whoever still waits: cancel them all now (late cancels find granted or queued nodes).
    for (auto& h : hs) h.cancel();
    int got = 0;
    for (int k = 0; k < n; ++k) {
      if (!coreio_test::ends_within(hs[k])) {
        (void)rt.release();
        FAIL() << "round " << i << ": a waiter never ended";
      }
      got += hs[k].get();
    }
    ASSERT_EQ(static_cast<std::size_t>(got) + s.available(), static_cast<std::size_t>(released))
        << "round " << i;
  }
}

}  // namespace
