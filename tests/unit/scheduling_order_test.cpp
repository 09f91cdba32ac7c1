// scheduling_order_test.cpp — on one worker, tasks run in asyncio's order: waiters woken together
// resume in the order they queued, separate wake-ups in the order they happened; spawned tasks run
// in spawn order before a yielder continues; a yield goes behind everything already ready; gather
// starts its children in argument order; a yield inside a gather child lets its siblings run. On
// two workers no order is promised: the same scenarios only have to complete.
//
// Set-up without sleeps: a waiter bumps a counter just before its first suspension point, and the
// main task yields until the counter says it is there. On one worker the waiter cannot be between
// the bump and its suspension when the main task looks (nothing else runs meanwhile), so spawning
// the waiters one at a time, each after the previous one is queued, fixes the queue order to
// 1, 2, 3, ... whatever order spawned tasks start in.
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

coreio::runtime_options one_worker() { return coreio::runtime_options{.workers = 1}; }
coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }

/// The order in which tasks reached a point. Locked, so that the two-worker tests may share it.
class recorder {
 public:
  void add(int v) {
    std::lock_guard<std::mutex> g(m_);
    order_.push_back(v);
  }
  std::vector<int> order() const {
    std::lock_guard<std::mutex> g(m_);
    return order_;
  }
  std::vector<int> sorted() const {
    std::vector<int> v = order();
    std::sort(v.begin(), v.end());
    return v;
  }

 private:
  mutable std::mutex m_;
  std::vector<int> order_;
};

/// Yields until *n reaches `target`, or 10 s pass (then false: the caller fails the test instead of
/// hanging it).
coreio::task<bool> yield_until_count(const std::atomic<int>* n, int target) {
  const auto deadline = steady::now() + 10s;
  while (n->load() < target) {
    if (steady::now() >= deadline) co_return false;
    co_await coreio::yield_now();
  }
  co_return true;
}

std::vector<int> one_to(int n) {
  std::vector<int> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

// ---- waiters woken together resume in queue order ----------------------------------------------

coreio::task<void> event_waiter(coreio::event* e, std::atomic<int>* queued, recorder* r, int id) {
  queued->fetch_add(1);
  co_await e->wait();
  r->add(id);
}

/// Queues waiters 1..n on an event one at a time, sets it, joins them. False if a waiter never
/// queued.
coreio::task<bool> event_scenario(recorder* r, int n) {
  coreio::event e;
  std::atomic<int> queued{0};
  std::vector<coreio::join_handle<void>> hs;
  bool ok = true;
  for (int id = 1; id <= n && ok; ++id) {
    hs.push_back(coreio::spawn(event_waiter(&e, &queued, r, id)));
    ok = co_await yield_until_count(&queued, id);
  }
  e.set();
  for (auto& h : hs) co_await h;
  co_return ok;
}

TEST(SchedulingOrderTest, EventWaitersResumeInQueueOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  ASSERT_TRUE(rt.block_on(event_scenario(&r, 4)));
  EXPECT_EQ(r.order(), one_to(4));
}

coreio::task<void> semaphore_waiter(coreio::semaphore* s, std::atomic<int>* queued, recorder* r,
                                    int id) {
  queued->fetch_add(1);
  auto permit = co_await s->acquire();
  r->add(id);
}

coreio::task<bool> semaphore_scenario(recorder* r) {
  coreio::semaphore s{0};
  std::atomic<int> queued{0};
  std::vector<coreio::join_handle<void>> hs;
  bool ok = true;
  for (int id = 1; id <= 2 && ok; ++id) {
    hs.push_back(coreio::spawn(semaphore_waiter(&s, &queued, r, id)));
    ok = co_await yield_until_count(&queued, id);
  }
  s.release();
  s.release();
  for (auto& h : hs) co_await h;
  co_return ok;
}

TEST(SchedulingOrderTest, BackToBackSemaphoreReleasesResumeWaitersInQueueOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  ASSERT_TRUE(rt.block_on(semaphore_scenario(&r)));
  EXPECT_EQ(r.order(), one_to(2));
}

coreio::task<void> cv_waiter(coreio::mutex* m, coreio::condition_variable* cv,
                             std::atomic<int>* queued, recorder* r, int id) {
  auto lock = co_await m->lock();
  queued->fetch_add(1);
  co_await cv->wait(lock);
  r->add(id);
}

coreio::task<bool> cv_scenario(recorder* r) {
  coreio::mutex m;
  coreio::condition_variable cv;
  std::atomic<int> queued{0};
  std::vector<coreio::join_handle<void>> hs;
  bool ok = true;
  for (int id = 1; id <= 4 && ok; ++id) {
    hs.push_back(coreio::spawn(cv_waiter(&m, &cv, &queued, r, id)));
    ok = co_await yield_until_count(&queued, id);
  }
  {
    auto lock = co_await m.lock();
    cv.notify_all();
  }
  for (auto& h : hs) co_await h;
  co_return ok;
}

TEST(SchedulingOrderTest, NotifyAllResumesWaitersInQueueOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  ASSERT_TRUE(rt.block_on(cv_scenario(&r)));
  EXPECT_EQ(r.order(), one_to(4));
}

/// Records id when its get throws queue_closed, 100 + the item if it got one.
coreio::task<void> shut_down_getter(coreio::queue<int>* q, std::atomic<int>* queued, recorder* r,
                                    int id) {
  queued->fetch_add(1);
  try {
    const int item = co_await q->get();
    r->add(100 + item);
  } catch (const coreio::queue_closed&) {
    r->add(id);
  }
}

coreio::task<bool> shutdown_scenario(recorder* r) {
  coreio::queue<int> q{4};
  std::atomic<int> queued{0};
  std::vector<coreio::join_handle<void>> hs;
  bool ok = true;
  for (int id = 1; id <= 4 && ok; ++id) {
    hs.push_back(coreio::spawn(shut_down_getter(&q, &queued, r, id)));
    ok = co_await yield_until_count(&queued, id);
  }
  q.shutdown();
  for (auto& h : hs) co_await h;
  co_return ok;
}

TEST(SchedulingOrderTest, ShutdownWakesBlockedGettersInQueueOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  ASSERT_TRUE(rt.block_on(shutdown_scenario(&r)));
  EXPECT_EQ(r.order(), one_to(4));
}

coreio::task<void> barrier_waiter(coreio::barrier* b, std::atomic<int>* queued, recorder* r, int id,
                                  std::size_t* index) {
  queued->fetch_add(1);
  *index = co_await b->arrive_and_wait();
  r->add(id);
}

/// Waiters 1..3 arrive one at a time; the main task is the last arrival (0), which does not
/// suspend, so it records first; then the waiters resume in arrival order.
coreio::task<bool> barrier_scenario(recorder* r, std::vector<std::size_t>* indices) {
  coreio::barrier b{4};
  std::atomic<int> queued{0};
  std::vector<coreio::join_handle<void>> hs;
  indices->assign(4, 99);
  bool ok = true;
  for (int id = 1; id <= 3 && ok; ++id) {
    hs.push_back(coreio::spawn(
        barrier_waiter(&b, &queued, r, id, &(*indices)[static_cast<std::size_t>(id)])));
    ok = co_await yield_until_count(&queued, id);
  }
  if (!ok) {
    for (auto& h : hs) h.cancel();  // the barrier would never trip
  } else {
    (*indices)[0] = co_await b.arrive_and_wait();
    r->add(0);
  }
  for (auto& h : hs) {
    try {
      co_await h;
    } catch (const coreio::cancelled_error&) {
    }
  }
  co_return ok;
}

TEST(SchedulingOrderTest, ABarrierTripResumesTheWaitersInArrivalOrderAfterTheLastArrival) {
  coreio::runtime rt{one_worker()};
  recorder r;
  std::vector<std::size_t> indices;
  ASSERT_TRUE(rt.block_on(barrier_scenario(&r, &indices)));
  EXPECT_EQ(r.order(), (std::vector<int>{0, 1, 2, 3}));
  // Arrival indices: waiters 1..3 got 0..2, the last arrival 3.
  EXPECT_EQ(indices, (std::vector<std::size_t>{3, 0, 1, 2}));
}

coreio::task<void> latch_waiter(coreio::latch* l, std::atomic<int>* queued, recorder* r, int id) {
  queued->fetch_add(1);
  co_await l->wait();
  r->add(id);
}

coreio::task<bool> latch_scenario(recorder* r) {
  coreio::latch l{1};
  std::atomic<int> queued{0};
  std::vector<coreio::join_handle<void>> hs;
  bool ok = true;
  for (int id = 1; id <= 4 && ok; ++id) {
    hs.push_back(coreio::spawn(latch_waiter(&l, &queued, r, id)));
    ok = co_await yield_until_count(&queued, id);
  }
  l.count_down();
  for (auto& h : hs) co_await h;
  co_return ok;
}

TEST(SchedulingOrderTest, ALatchReachingZeroResumesWaitersInQueueOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  ASSERT_TRUE(rt.block_on(latch_scenario(&r)));
  EXPECT_EQ(r.order(), one_to(4));
}

coreio::task<void> lock_waiter(coreio::mutex* m, std::atomic<int>* queued, recorder* r, int id) {
  queued->fetch_add(1);
  auto lock = co_await m->lock();
  r->add(id);
}  // unlock: hands the mutex to the next waiter

coreio::task<bool> mutex_scenario(recorder* r) {
  coreio::mutex m;
  auto lock = co_await m.lock();
  std::atomic<int> queued{0};
  std::vector<coreio::join_handle<void>> hs;
  bool ok = true;
  for (int id = 1; id <= 4 && ok; ++id) {
    hs.push_back(coreio::spawn(lock_waiter(&m, &queued, r, id)));
    ok = co_await yield_until_count(&queued, id);
  }
  lock.unlock();
  for (auto& h : hs) co_await h;
  co_return ok;
}

TEST(SchedulingOrderTest, AMutexIsHandedOverInQueueOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  ASSERT_TRUE(rt.block_on(mutex_scenario(&r)));
  EXPECT_EQ(r.order(), one_to(4));
}

// ---- separate wake-ups resume in the order they happened ---------------------------------------

coreio::task<void> future_waiter(coreio::future<void>* f, std::atomic<int>* queued, recorder* r,
                                 int id) {
  queued->fetch_add(1);
  co_await *f;
  r->add(id);
}

/// The waiter on f2 suspends first, the waiter on f1 second; p1 is set before p2.
coreio::task<bool> futures_scenario(recorder* r) {
  coreio::promise<void> p1, p2;
  auto f1 = p1.get_future();
  auto f2 = p2.get_future();
  std::atomic<int> queued{0};
  auto h2 = coreio::spawn(future_waiter(&f2, &queued, r, 2));
  bool ok = co_await yield_until_count(&queued, 1);
  auto h1 = coreio::spawn(future_waiter(&f1, &queued, r, 1));
  ok = co_await yield_until_count(&queued, 2) && ok;
  p1.set_value();
  p2.set_value();
  co_await h1;
  co_await h2;
  co_return ok;
}

TEST(SchedulingOrderTest, SeparateWakeUpsResumeInTheOrderTheyHappened) {
  coreio::runtime rt{one_worker()};
  recorder r;
  ASSERT_TRUE(rt.block_on(futures_scenario(&r)));
  EXPECT_EQ(r.order(), (std::vector<int>{1, 2}));
}

// ---- spawned tasks run in spawn order, before the yielder continues ----------------------------

coreio::task<void> record(recorder* r, int id) {
  r->add(id);
  co_return;
}

coreio::task<void> spawn_three_then_yield(recorder* r) {
  auto h1 = coreio::spawn(record(r, 1));
  auto h2 = coreio::spawn(record(r, 2));
  auto h3 = coreio::spawn(record(r, 3));
  co_await coreio::yield_now();
  r->add(0);
  co_await h1;
  co_await h2;
  co_await h3;
}

TEST(SchedulingOrderTest, SpawnedTasksRunInSpawnOrderBeforeTheYielderContinues) {
  coreio::runtime rt{one_worker()};
  recorder r;
  rt.block_on(spawn_three_then_yield(&r));
  EXPECT_EQ(r.order(), (std::vector<int>{1, 2, 3, 0}));
}

// More spawns than the run queue holds: the overflow moves its older half to the global queue, and
// the worker takes those back before its run queue, so the order is still spawn order. (Taken one
// every global_queue_interval polls, they ran last: 193-200 and the yielder first, then 1-192.)
coreio::task<void> spawn_many_then_yield(recorder* r, int n) {
  std::vector<coreio::join_handle<void>> hs;
  hs.reserve(static_cast<std::size_t>(n));
  for (int i = 1; i <= n; ++i) hs.push_back(coreio::spawn(record(r, i)));
  co_await coreio::yield_now();
  r->add(0);
  for (auto& h : hs) co_await h;
}

TEST(SchedulingOrderTest, SpawnsBeyondTheRunQueuesCapacityStillRunInSpawnOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1, .local_queue_capacity = 16}};
  recorder r;
  rt.block_on(spawn_many_then_yield(&r, 200));
  std::vector<int> want;
  for (int i = 1; i <= 200; ++i) want.push_back(i);
  want.push_back(0);
  EXPECT_EQ(r.order(), want);
  EXPECT_GT(rt.metrics().workers.at(0).overflows, 0u) << "the run queue never overflowed";
}

// ---- a yield goes behind everything already ready ----------------------------------------------

/// Records 1, yields, records 3.
coreio::task<void> record_yield_record(recorder* r) {
  r->add(1);
  co_await coreio::yield_now();
  r->add(3);
}

// asyncio: ready = [a, b]; main yields -> [a, b, main]; a records 1 and yields -> [b, main, a];
// b records 2; main records 0; a records 3.
coreio::task<void> spawn_two_then_yield(recorder* r) {
  auto a = coreio::spawn(record_yield_record(r));
  auto b = coreio::spawn(record(r, 2));
  co_await coreio::yield_now();
  r->add(0);
  co_await a;
  co_await b;
}

TEST(SchedulingOrderTest, AYieldGoesBehindEverythingAlreadyReady) {
  coreio::runtime rt{one_worker()};
  recorder r;
  rt.block_on(spawn_two_then_yield(&r));
  EXPECT_EQ(r.order(), (std::vector<int>{1, 2, 0, 3}));
}

constexpr long max_spins = 1'000'000;

/// X: wakes Y (its first iteration), then yields until Y has set the flag. False if it never did.
coreio::task<bool> wake_then_yield_until_flag(coreio::event* wake, const std::atomic<bool>* flag) {
  wake->set();
  for (long i = 0; i < max_spins; ++i) {
    if (flag->load()) co_return true;
    co_await coreio::yield_now();
  }
  co_return flag->load();
}

/// Y: waits to be woken, then sets the flag.
coreio::task<void> set_flag_when_woken(coreio::event* wake, std::atomic<int>* queued,
                                       std::atomic<bool>* flag) {
  queued->fetch_add(1);
  co_await wake->wait();
  flag->store(true);
}

coreio::task<bool> yielder_and_woken_task() {
  coreio::event wake;
  std::atomic<int> queued{0};
  std::atomic<bool> flag{false};
  auto y = coreio::spawn(set_flag_when_woken(&wake, &queued, &flag));
  const bool queued_ok = co_await yield_until_count(&queued, 1);
  auto x = coreio::spawn(wake_then_yield_until_flag(&wake, &flag));
  const bool x_saw_flag = co_await x;
  wake.set();
  co_await y;
  co_return queued_ok&& x_saw_flag;
}

TEST(SchedulingOrderTest, ATaskYieldingInALoopDoesNotStarveATaskWokenAfterIt) {
  coreio::runtime rt{one_worker()};
  EXPECT_TRUE(rt.block_on(yielder_and_woken_task()));
}

// ---- gather starts its children in argument order ----------------------------------------------

coreio::task<int> record_start(recorder* r, int i) {
  r->add(i);
  co_await coreio::yield_now();
  co_return i;
}

coreio::task<int> gather_four(recorder* r) {
  auto [a, b, c, d] = co_await coreio::gather(record_start(r, 0), record_start(r, 1),
                                              record_start(r, 2), record_start(r, 3));
  co_return a * 1000 + b * 100 + c * 10 + d;
}

TEST(SchedulingOrderTest, GatherStartsItsChildrenInArgumentOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  EXPECT_EQ(rt.block_on(gather_four(&r)), 123);
  EXPECT_EQ(r.order(), (std::vector<int>{0, 1, 2, 3}));
}

coreio::task<std::vector<int>> gather_vector(recorder* r, int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(record_start(r, i));
  co_return co_await coreio::gather(std::move(ts));
}

TEST(SchedulingOrderTest, GatherOfAVectorStartsItsChildrenInOrder) {
  coreio::runtime rt{one_worker()};
  recorder r;
  const std::vector<int> expected{0, 1, 2, 3, 4, 5};
  EXPECT_EQ(rt.block_on(gather_vector(&r, 6)), expected);
  EXPECT_EQ(r.order(), expected);
}

// ---- a yield inside a gather child lets its siblings run ---------------------------------------

/// Yields until the flag is set; false if it never was (instead of spinning forever).
coreio::task<bool> spin_until_flag(const std::atomic<bool>* flag) {
  for (long i = 0; i < max_spins; ++i) {
    if (flag->load()) co_return true;
    co_await coreio::yield_now();
  }
  co_return flag->load();
}

coreio::task<void> set_flag(std::atomic<bool>* flag) {
  flag->store(true);
  co_return;
}

coreio::task<void> yield_then_set_flag(std::atomic<bool>* flag) {
  co_await coreio::yield_now();
  flag->store(true);
}

coreio::task<bool> gather_spinner_then_setter() {
  std::atomic<bool> flag{false};
  auto [saw, unit] = co_await coreio::gather(spin_until_flag(&flag), set_flag(&flag));
  (void)unit;
  co_return saw;
}

coreio::task<bool> gather_setter_then_spinner() {
  std::atomic<bool> flag{false};
  auto [unit, saw] = co_await coreio::gather(yield_then_set_flag(&flag), spin_until_flag(&flag));
  (void)unit;
  co_return saw;
}

TEST(SchedulingOrderTest, AYieldInsideAGatherChildLetsItsSiblingRun) {
  coreio::runtime rt{one_worker()};
  EXPECT_TRUE(rt.block_on(gather_spinner_then_setter()));
  EXPECT_TRUE(rt.block_on(gather_setter_then_spinner()));
}

// ---- two workers: no order is promised, everything completes -----------------------------------

TEST(SchedulingOrderTest, OnTwoWorkersEveryEventWaiterResumes) {
  coreio::runtime rt{two_workers()};
  for (int round = 0; round < 20; ++round) {
    recorder r;
    ASSERT_TRUE(rt.block_on(event_scenario(&r, 8)));
    EXPECT_EQ(r.sorted(), one_to(8));
  }
}

TEST(SchedulingOrderTest, OnTwoWorkersEverySpawnedTaskRuns) {
  coreio::runtime rt{two_workers()};
  for (int round = 0; round < 20; ++round) {
    recorder r;
    rt.block_on(spawn_three_then_yield(&r));
    EXPECT_EQ(r.sorted(), (std::vector<int>{0, 1, 2, 3}));
  }
}

TEST(SchedulingOrderTest, OnTwoWorkersEveryGatherChildStartsAndSiblingsAreNotStarved) {
  coreio::runtime rt{two_workers()};
  for (int round = 0; round < 20; ++round) {
    recorder r;
    EXPECT_EQ(rt.block_on(gather_vector(&r, 6)), (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(r.sorted(), (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_TRUE(rt.block_on(gather_spinner_then_setter()));
    EXPECT_TRUE(rt.block_on(gather_setter_then_spinner()));
  }
}

}  // namespace
