// sync_condition_variable_test.cpp — coreio/sync/condition_variable.hpp: wait with and without a
// predicate, notify_one in FIFO order, notify(n), notify_all, producer/consumer across workers, the
// mutex held again on every return (normal, cancelled before waiting, cancelled while waiting,
// timed out), a cancelled waiter passing the notify on, and notify racing cancel. Timed waits:
// wait_for / wait_until give false on timeout and true when notified, at zero, negative and the
// largest durations and deadlines; the predicate forms; a timeout while another task holds the
// mutex; the timeout racing a notify (the notify reaches someone); and a randomized stress of 100k
// timed waits against notify(n) from a plain thread in which every notify is accounted for.
#include <coreio/sync/condition_variable.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <coreio/dump_tasks.hpp>
#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/sync/mutex.hpp>
#include <coreio/time.hpp>
#include <coreio/wait_for.hpp>

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
  int ready = 0;                // guarded by m
  std::vector<int> order;       // guarded by m
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

// ---- notify(n) ----------------------------------------------------------------------------------

coreio::task<std::vector<std::size_t>> notify_n_scenario(monitor* mo, int n) {
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(coreio::spawn(wait_once(mo, i)));
  while (mo->cv.waiting() < static_cast<std::size_t>(n)) co_await coreio::yield_now();
  std::vector<std::size_t> woken;
  woken.push_back(mo->cv.notify(2));
  woken.push_back(mo->cv.notify(0));
  woken.push_back(mo->cv.notify(10));
  woken.push_back(mo->cv.notify(1));  // nobody left
  for (auto& h : hs) (void)co_await h;
  co_return woken;
}

TEST(SyncConditionVariableTest, NotifyNWakesUpToNWaitersInFifoOrderAndSaysHowMany) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  monitor mo;
  EXPECT_EQ(rt.block_on(notify_n_scenario(&mo, 5)), (std::vector<std::size_t>{2, 0, 3, 0}));
  EXPECT_EQ(mo.order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(mo.cv.waiting(), 0u);
  EXPECT_FALSE(mo.m.locked());
}

// ---- timed waits --------------------------------------------------------------------------------

/// What a timed wait returned and whether the guard held the mutex on return.
struct timed_result {
  int value = -1;  // 1 true, 0 false, 2 cancelled
  bool held = false;
};

/// Waits with wait_for(lock, d) and reports; `mo->waiting` counts the tasks that got the mutex.
template <class D>
coreio::task<timed_result> timed_wait_for(monitor* mo, D d) {
  auto g = co_await mo->m.lock();
  mo->waiting.fetch_add(1);
  timed_result r;
  try {
    const bool notified = co_await mo->cv.wait_for(g, d);
    r.value = notified ? 1 : 0;
  } catch (const coreio::cancelled_error&) {
    r.value = 2;
  }
  r.held = g.owns_lock() && mo->m.locked();
  co_return r;
}

coreio::task<timed_result> timed_wait_until(monitor* mo, std::chrono::steady_clock::time_point t) {
  auto g = co_await mo->m.lock();
  mo->waiting.fetch_add(1);
  timed_result r;
  try {
    const bool notified = co_await mo->cv.wait_until(g, t);
    r.value = notified ? 1 : 0;
  } catch (const coreio::cancelled_error&) {
    r.value = 2;
  }
  r.held = g.owns_lock() && mo->m.locked();
  co_return r;
}

TEST(SyncConditionVariableTest, WaitForReturnsFalseOnTimeoutWithTheMutexHeld) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  monitor mo;
  const coreio_test::stopwatch sw;
  const timed_result r = rt.block_on(timed_wait_for(&mo, 5ms));
  EXPECT_GE(sw.elapsed(), 5ms);
  EXPECT_EQ(r.value, 0);
  EXPECT_TRUE(r.held);
  EXPECT_EQ(mo.cv.waiting(), 0u) << "the timed-out waiter left the list";
  EXPECT_FALSE(mo.m.locked());
  const timed_result u = rt.block_on(timed_wait_until(&mo, std::chrono::steady_clock::now() + 5ms));
  EXPECT_EQ(u.value, 0);
  EXPECT_TRUE(u.held);
}

TEST(SyncConditionVariableTest, WaitForReturnsTrueWhenNotifiedInTime) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  monitor mo;
  auto h = rt.spawn(timed_wait_for(&mo, 1h));
  ASSERT_TRUE(wait_until([&] { return mo.cv.waiting() == 1; }));
  EXPECT_EQ(mo.cv.notify(1), 1u);
  const timed_result r = h.get();
  EXPECT_EQ(r.value, 1);
  EXPECT_TRUE(r.held);
  EXPECT_FALSE(mo.m.locked());
}

/// A timed wait that is due at once, in each of the forms the API takes.
enum class due { zero, negative, most_negative, hours_min, earliest, past };

coreio::task<bool> due_wait(monitor* mo, coreio::mutex_guard& g, due d) {
  using steady = std::chrono::steady_clock;
  switch (d) {
    case due::zero:
      co_return co_await mo->cv.wait_for(g, 0ms);
    case due::negative:
      co_return co_await mo->cv.wait_for(g, -1s);
    case due::most_negative:
      co_return co_await mo->cv.wait_for(g, steady::duration::min());
    case due::hours_min:
      co_return co_await mo->cv.wait_for(g, std::chrono::hours::min());
    case due::earliest:
      co_return co_await mo->cv.wait_until(g, steady::time_point::min());
    case due::past:
      co_return co_await mo->cv.wait_until(g, steady::now() - 1h);
  }
  co_return true;
}

/// Holds the mutex across a timed wait that is due at once: with 1 worker, `other` (spawned
/// before, queued behind this task) would run and take the mutex if the wait released it. Returns
/// the wait's result, -1 if the mutex was released or is not held.
coreio::task<int> due_wait_keeps_the_mutex(monitor* mo, due d) {
  auto g = co_await mo->m.lock();
  std::atomic<bool> other_ran{false};
  auto other = coreio::spawn([](monitor* m, std::atomic<bool>* ran) -> coreio::task<void> {
    auto g2 = co_await m->m.lock();
    ran->store(true);
  }(mo, &other_ran));
  const bool r = co_await due_wait(mo, g, d);
  const bool ok = !other_ran.load() && g.owns_lock() && mo->m.locked();
  g.unlock();
  co_await other;
  co_return ok ? (r ? 1 : 0) : -1;
}

TEST(SyncConditionVariableTest, DueDeadlinesReturnFalseAtOnceWithoutReleasingTheMutex) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  monitor mo;
  for (due d :
       {due::zero, due::negative, due::most_negative, due::hours_min, due::earliest, due::past}) {
    EXPECT_EQ(rt.block_on(due_wait_keeps_the_mutex(&mo, d)), 0) << "form " << static_cast<int>(d);
  }
  EXPECT_FALSE(mo.m.locked());
}

// The largest limits must not wrap into the past (which would time out at once): each waiter is
// still queued when the notify comes, and returns true.
TEST(SyncConditionVariableTest, TheLargestDurationsAndDeadlinesNeverTimeOutEarly) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  using steady = std::chrono::steady_clock;
  monitor mo;
  std::vector<coreio::join_handle<timed_result>> hs;
  hs.push_back(rt.spawn(timed_wait_for(&mo, steady::duration::max())));
  hs.push_back(rt.spawn(timed_wait_for(&mo, std::chrono::hours::max())));
  hs.push_back(rt.spawn(timed_wait_for(&mo, std::chrono::nanoseconds::max())));
  hs.push_back(rt.spawn(timed_wait_for(&mo, std::chrono::duration<double>::max())));
  hs.push_back(rt.spawn(timed_wait_until(&mo, steady::time_point::max())));
  ASSERT_TRUE(wait_until([&] { return mo.cv.waiting() == hs.size(); }))
      << "a waiter timed out at once: its deadline overflowed";
  EXPECT_EQ(mo.cv.notify(hs.size()), hs.size());
  for (auto& h : hs) {
    const timed_result r = h.get();
    EXPECT_EQ(r.value, 1);
    EXPECT_TRUE(r.held);
  }
}

TEST(SyncConditionVariableTest, ANaNDurationIsRefused) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  monitor mo;
  const std::chrono::duration<double> nan{std::numeric_limits<double>::quiet_NaN()};
  EXPECT_THROW((void)rt.block_on(timed_wait_for(&mo, nan)), std::invalid_argument);
  EXPECT_FALSE(mo.m.locked());
}

coreio::task<bool> timed_wait_with_an_empty_guard(monitor* mo) {
  coreio::mutex_guard empty;
  try {
    (void)co_await mo->cv.wait_for(empty, 1s);
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST(SyncConditionVariableTest, TimedWaitWithoutOwningTheMutexIsAUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  monitor mo;
  EXPECT_TRUE(rt.block_on(timed_wait_with_an_empty_guard(&mo)));
}

/// The predicate form: ready > 0 within d. Returns pred()'s result, or -1 if the mutex is not held.
template <class D>
coreio::task<int> wait_for_ready_within(monitor* mo, D d) {
  auto g = co_await mo->m.lock();
  mo->waiting.fetch_add(1);
  const bool r = co_await mo->cv.wait_for(g, d, [mo] { return mo->ready > 0; });
  if (!g.owns_lock() || !mo->m.locked()) co_return -1;
  co_return r ? 1 : 0;
}

TEST(SyncConditionVariableTest, ThePredicateFormReturnsThePredicate) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  monitor mo;
  // Timed out with the predicate false.
  EXPECT_EQ(rt.block_on(wait_for_ready_within(&mo, 5ms)), 0);
  EXPECT_EQ(rt.block_on(wait_for_ready_within(&mo, 0ms)), 0);
  // Notified with the predicate still false, then made true: true, before the deadline.
  auto h = rt.spawn(wait_for_ready_within(&mo, 1h));
  ASSERT_TRUE(wait_until([&] { return mo.cv.waiting() == 1; }));
  EXPECT_EQ(mo.cv.notify(1), 1u);  // spurious from its view: it waits again
  ASSERT_TRUE(wait_until([&] { return mo.cv.waiting() == 1; }));
  rt.block_on(make_ready(&mo, 3));
  EXPECT_EQ(h.get(), 1);
  // True at once, even with a due deadline: the predicate is checked first.
  EXPECT_EQ(rt.block_on(wait_for_ready_within(&mo, -1s)), 1);
  EXPECT_EQ(rt.block_on(wait_for_ready_within(&mo, std::chrono::hours::max())), 1);
  EXPECT_FALSE(mo.m.locked());
}

/// Takes the mutex, then waits for `go` before its timed wait (so another task can queue on the
/// mutex first and be handed it when the wait releases it).
coreio::task<timed_result> timed_wait_after(monitor* mo, coreio::event* go,
                                            std::chrono::milliseconds d) {
  auto g = co_await mo->m.lock();
  mo->waiting.fetch_add(1);
  co_await go->wait();
  timed_result r;
  const bool notified = co_await mo->cv.wait_for(g, d);
  r.value = notified ? 1 : 0;
  r.held = g.owns_lock() && mo->m.locked();
  co_return r;
}

/// Takes the mutex and holds it until `release` is set.
coreio::task<void> hold_until(monitor* mo, std::atomic<bool>* holding, coreio::event* release) {
  auto g = co_await mo->m.lock();
  holding->store(true);
  co_await release->wait();
}

TEST(SyncConditionVariableTest, ATimeoutWhileTheMutexIsHeldElsewhereWaitsForTheMutex) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  monitor mo;
  coreio::event go, release;
  std::atomic<bool> holding{false};
  auto a = rt.spawn(timed_wait_after(&mo, &go, 5ms));
  ASSERT_TRUE(wait_until([&] { return mo.waiting.load() == 1; }));  // a holds the mutex
  auto b = rt.spawn(hold_until(&mo, &holding, &release));
  ASSERT_TRUE(wait_until(
      [&] { return coreio::dump_tasks(rt).find("waiting on lock") != std::string::npos; }));
  // b is queued on the mutex, so a's wait hands the mutex to b when it releases it: b holds it
  // before a's timer can fire, whatever the scheduling (a wall-clock race otherwise).
  go.set();
  ASSERT_TRUE(wait_until([&] { return holding.load(); }));
  // The timeout unlinks a from the cv; without the mutex a cannot return.
  ASSERT_TRUE(wait_until([&] { return mo.cv.waiting() == 0; }));
  EXPECT_FALSE(a.done()) << "the timed-out waiter must re-acquire the mutex before it returns";
  release.set();
  b.get();
  const timed_result r = a.get();
  EXPECT_EQ(r.value, 0);
  EXPECT_TRUE(r.held);
  EXPECT_FALSE(mo.m.locked());
}

TEST(SyncConditionVariableTest, ACancelledTimedWaiterHoldsTheMutexAgainAndPassesTheNotifyOn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  monitor mo;
  auto a = rt.spawn(timed_wait_for(&mo, 1h));
  ASSERT_TRUE(wait_until([&] { return mo.cv.waiting() == 1; }));
  auto b = rt.spawn(timed_wait_for(&mo, 1h));
  ASSERT_TRUE(wait_until([&] { return mo.cv.waiting() == 2; }));
  a.cancel();
  const timed_result ra = a.get();
  EXPECT_EQ(ra.value, 2);
  EXPECT_TRUE(ra.held);
  EXPECT_EQ(mo.cv.notify(1), 1u);  // a is gone: the notify goes to b
  const timed_result rb = b.get();
  EXPECT_EQ(rb.value, 1);
  EXPECT_TRUE(rb.held);
  EXPECT_FALSE(mo.m.locked());
}

// A timed waiter A (first in line) races its timeout against notify(1) from a plain thread, with an
// untimed waiter B behind it. The one notify must reach exactly one of them: A returns true (then B
// is still waiting), or A timed out and B is woken by that same notify. A false return that
// consumed the notify would leave B waiting: a lost notify.
TEST(SyncConditionVariableTest, ATimeoutRacingANotifyLosesNoNotify) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300);
  rng r(21);
  int a_notified = 0, a_timed_out = 0;
  for (int i = 0; i < rounds; ++i) {
    monitor mo;
    auto a = rt->spawn(timed_wait_for(&mo, std::chrono::microseconds(r.below(100))));
    // A queued, or already timed out (a timeout of a few microseconds may beat the probe).
    while (mo.cv.waiting() == 0 && !a.done()) std::this_thread::yield();
    auto b = rt->spawn(wait_once(&mo, 1));
    while (mo.waiting.load() < 2) std::this_thread::yield();
    // B has the mutex and releases it only once queued on the cv; A takes it only to return. So
    // "someone queued and the mutex free" means B is queued (and A queued or done).
    while (mo.cv.waiting() == 0 || mo.m.locked()) std::this_thread::yield();
    const auto delay = std::chrono::microseconds(r.below(100));
    std::size_t woken = 0;
    std::thread notifier([&] {
      coreio_test::spin_for(delay);
      woken = mo.cv.notify(1);
    });
    notifier.join();
    ASSERT_EQ(woken, 1u) << "round " << i << ": B at least was waiting";
    if (!coreio_test::ends_within(a)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the timed waiter never ended";
    }
    const timed_result ra = a.get();
    ASSERT_TRUE(ra.held) << "round " << i;
    if (ra.value == 1) {
      ++a_notified;
      ASSERT_EQ(mo.cv.notify(1), 1u) << "round " << i << ": B must still be waiting";
    } else {
      ASSERT_EQ(ra.value, 0);
      ++a_timed_out;
    }
    if (!coreio_test::ends_within(b)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the notify was lost with the timed-out waiter";
    }
    ASSERT_EQ(b.get(), 1) << "round " << i;
    ASSERT_TRUE(wait_until([&] { return !mo.m.locked(); }));
    ASSERT_EQ(mo.cv.waiting(), 0u);
  }
  EXPECT_EQ(a_notified + a_timed_out, rounds);
  RecordProperty("a_notified", a_notified);
  RecordProperty("a_timed_out", a_timed_out);
}

// ---- randomized stress: timed waits against notify(n) -------------------------------------------

struct notify_race {
  coreio::mutex m;
  coreio::condition_variable cv;
  std::atomic<long> returned_true{0};
  std::atomic<long> returned_false{0};
  std::atomic<long> not_held{0};
  std::atomic<int> waiters_left{0};
};

/// ops timed waits with random timeouts (0 included: due at once).
coreio::task<void> timed_waiter(notify_race* st, int ops, std::uint64_t seed) {
  rng r(seed);
  for (int i = 0; i < ops; ++i) {
    auto g = co_await st->m.lock();
    const auto d = std::chrono::microseconds(r.below(150));
    // (The result goes through a local: g++ 12 miscompiles a co_await inside an if condition.)
    const bool notified = co_await st->cv.wait_for(g, d);
    (notified ? st->returned_true : st->returned_false).fetch_add(1);
    if (!g.owns_lock() || !st->m.locked()) st->not_held.fetch_add(1);
  }
  st->waiters_left.fetch_sub(1);
}

// Every notify(n) returns how many waiters it unlinked; each of them must return true from its
// timed wait, and no timed-out (false) wait may have consumed one. 100k timed waits on 2 workers
// against a plain thread notifying 1-3 at random moments: the totals must match exactly.
TEST(SyncConditionVariableTest, StressTimedWaitsAgainstNotifyAccountForEveryNotify) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  notify_race st;
  const int waiters = 8;
  const int ops = sanitized(100'000, 8'000) / waiters;
  st.waiters_left.store(waiters);
  std::vector<coreio::join_handle<void>> hs;
  for (int w = 0; w < waiters; ++w) hs.push_back(rt->spawn(timed_waiter(&st, ops, 100 + w)));
  long notified = 0;
  std::thread notifier([&] {
    rng r(99);
    while (st.waiters_left.load() > 0) {
      notified += static_cast<long>(st.cv.notify(1 + r.below(3)));
      coreio_test::spin_for(std::chrono::microseconds(r.below(40)));
    }
  });
  bool ended = true;
  for (auto& h : hs) ended = ended && coreio_test::ends_within(h, 120'000ms);
  if (!ended) {
    st.waiters_left.store(0);
    notifier.join();
    (void)rt.release();
    FAIL() << "a waiter never ended";
  }
  notifier.join();
  for (auto& h : hs) h.get();
  EXPECT_EQ(st.not_held.load(), 0);
  EXPECT_EQ(st.returned_true.load() + st.returned_false.load(), static_cast<long>(waiters) * ops);
  EXPECT_EQ(st.returned_true.load(), notified)
      << "every notified waiter returns true, and only they";
  EXPECT_EQ(st.cv.waiting(), 0u);
  EXPECT_FALSE(st.m.locked());
  RecordProperty("notified", static_cast<int>(notified));
  RecordProperty("timed_out", static_cast<int>(st.returned_false.load()));
}

}  // namespace
