// sync_queue_test.cpp — coreio/sync/queue.hpp: put / get / try_put / try_get, backpressure, FIFO
// order of waiting getters and putters, unbounded queues, shutdown semantics (drain then
// queue_closed, put on a shut-down queue, waiting getters and putters woken), move-only items,
// priority and lifo order, many producers and consumers on four workers, cancellation of a waiting
// getter and putter, and put / get racing cancel with exact item accounting; task_done() / join();
// shutdown(true): the stored items dropped (destroyed outside the queue's lock) and counted as done
// for join(), every waiter woken; and a randomized stress of shutdown (immediate or not) racing
// puts and gets that accounts for every item.
#include <coreio/sync/queue.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
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

TEST(SyncQueueTest, TryPutAndTryGetRespectCapacityAndOrder) {
  coreio::queue<int> q{2};
  EXPECT_EQ(q.capacity(), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.try_get().has_value());
  EXPECT_TRUE(q.try_put(1));
  EXPECT_TRUE(q.try_put(2));
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.try_put(3));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.try_get(), std::optional<int>(1));
  EXPECT_EQ(q.try_get(), std::optional<int>(2));
  EXPECT_TRUE(q.empty());
}

TEST(SyncQueueTest, CapacityZeroIsUnbounded) {
  coreio::queue<int> q{0};
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(q.try_put(i));
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.size(), 10'000u);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(q.try_get(), std::optional<int>(i));
}

TEST(SyncQueueTest, TryPutOfAMoveOnlyItemMovesOnlyOnSuccess) {
  coreio::queue<std::unique_ptr<int>> q{1};
  auto a = std::make_unique<int>(1);
  auto b = std::make_unique<int>(2);
  EXPECT_TRUE(q.try_put(std::move(a)));
  EXPECT_EQ(a, nullptr);
  EXPECT_FALSE(q.try_put(std::move(b)));
  ASSERT_NE(b, nullptr) << "a failed try_put must leave the item with the caller";
  EXPECT_EQ(*b, 2);
  auto got = q.try_get();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, 1);
}

TEST(SyncQueueTest, PriorityQueueGivesTheSmallestFirst) {
  coreio::priority_queue<int> q;
  for (int v : {5, 1, 4, 2, 3}) ASSERT_TRUE(q.try_put(v));
  std::vector<int> out;
  while (auto v = q.try_get()) out.push_back(*v);
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3, 4, 5}));
  coreio::priority_queue<int, std::greater<int>> g;
  for (int v : {5, 1, 4}) ASSERT_TRUE(g.try_put(v));
  EXPECT_EQ(g.try_get(), std::optional<int>(5));
}

TEST(SyncQueueTest, PriorityQueueWorksWithMoveOnlyItems) {
  using item = std::pair<int, std::unique_ptr<std::string>>;
  struct by_priority {
    bool operator()(const item& a, const item& b) const { return a.first < b.first; }
  };
  coreio::priority_queue<item, by_priority> q;
  ASSERT_TRUE(q.try_put(item{3, std::make_unique<std::string>("c")}));
  ASSERT_TRUE(q.try_put(item{1, std::make_unique<std::string>("a")}));
  ASSERT_TRUE(q.try_put(item{2, std::make_unique<std::string>("b")}));
  std::string out;
  while (auto v = q.try_get()) out += *v->second;
  EXPECT_EQ(out, "abc");
}

TEST(SyncQueueTest, LifoQueueGivesTheNewestFirst) {
  coreio::lifo_queue<int> q{3};
  for (int v : {1, 2, 3}) ASSERT_TRUE(q.try_put(v));
  EXPECT_FALSE(q.try_put(4));
  EXPECT_EQ(q.try_get(), std::optional<int>(3));
  EXPECT_EQ(q.try_get(), std::optional<int>(2));
  EXPECT_EQ(q.try_get(), std::optional<int>(1));
}

coreio::task<std::unique_ptr<int>> get_one(coreio::queue<std::unique_ptr<int>>* q,
                                           std::atomic<int>* queued) {
  co_return co_await count_suspension(q->get(), queued);
}

coreio::task<int> move_only_round_trip(coreio::queue<std::unique_ptr<int>>* q) {
  std::atomic<int> queued{0};
  auto getter = coreio::spawn(get_one(q, &queued));  // waits on the empty queue
  co_await yield_until(&queued, 1);
  co_await q->put(std::make_unique<int>(7));  // handed straight to the getter
  auto got = co_await getter;
  co_await q->put(std::make_unique<int>(8));  // stored
  auto again = co_await q->get();
  co_return *got * 10 + *again;
}

TEST(SyncQueueTest, MoveOnlyItemsGoThroughPutAndGet) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::queue<std::unique_ptr<int>> q{1};
  EXPECT_EQ(rt.block_on(move_only_round_trip(&q)), 78);
}

coreio::task<void> put_and_record(coreio::queue<int>* q, int v, std::atomic<int>* queued) {
  co_await count_suspension(q->put(v), queued);
}

coreio::task<std::vector<int>> backpressure_scenario(coreio::queue<int>* q) {
  std::vector<coreio::join_handle<void>> puts;
  std::atomic<int> queued{0};
  co_await q->put(0);
  co_await q->put(1);  // full now (capacity 2)
  for (int v = 2; v < 6; ++v) {
    puts.push_back(coreio::spawn(put_and_record(q, v, &queued)));
    co_await yield_until(&queued, v - 1);  // each putter queues in turn
  }
  std::vector<int> out;
  if (q->size() != 2) co_return out;  // putters must be waiting, not storing
  for (int i = 0; i < 6; ++i) out.push_back(co_await q->get());
  for (auto& h : puts) co_await h;
  co_return out;
}

TEST(SyncQueueTest, PutWaitsWhileFullAndWaitingPuttersAreServedInOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::queue<int> q{2};
  EXPECT_EQ(rt.block_on(backpressure_scenario(&q)), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(q.empty());
}

coreio::task<void> get_and_record(coreio::queue<int>* q, std::vector<int>* who, int id,
                                  std::atomic<int>* queued) {
  const int v = co_await count_suspension(q->get(), queued);
  who->push_back(id * 100 + v);
}

coreio::task<std::vector<int>> getters_fifo_scenario(coreio::queue<int>* q) {
  std::vector<int> who;
  std::vector<coreio::join_handle<void>> gets;
  std::atomic<int> queued{0};
  for (int id = 0; id < 4; ++id) {
    gets.push_back(coreio::spawn(get_and_record(q, &who, id, &queued)));
    co_await yield_until(&queued, id + 1);
  }
  for (int v = 0; v < 4; ++v) co_await q->put(v);  // each hands its item to the first getter
  for (auto& h : gets) co_await h;
  std::sort(who.begin(), who.end());  // they may run in any order; who got what is the point
  co_return who;
}

TEST(SyncQueueTest, WaitingGettersAreServedInOrder) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::queue<int> q{8};
  EXPECT_EQ(rt.block_on(getters_fifo_scenario(&q)), (std::vector<int>{0, 101, 202, 303}));
}

coreio::task<std::vector<int>> drain_until_shut_down(coreio::queue<int>* q) {
  std::vector<int> out;
  try {
    for (;;) out.push_back(co_await q->get());
  } catch (const coreio::queue_closed&) {
    out.push_back(-1);
  }
  co_return out;
}

TEST(SyncQueueTest, ShutdownLetsGetDrainThenThrowsAndRejectsPuts) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::queue<int> q{4};
  ASSERT_TRUE(q.try_put(1));
  ASSERT_TRUE(q.try_put(2));
  q.shutdown();
  q.shutdown();  // idempotent
  EXPECT_TRUE(q.closed());
  EXPECT_THROW(q.try_put(3), coreio::queue_closed);
  EXPECT_EQ(rt.block_on(drain_until_shut_down(&q)), (std::vector<int>{1, 2, -1}));
  EXPECT_THROW((void)q.try_get(), coreio::queue_closed);
}

/// Bumps *waiting once suspended in put().
coreio::task<int> put_expecting_closed(coreio::queue<int>* q, std::atomic<int>* waiting, int v) {
  try {
    co_await count_suspension(q->put(v), waiting);
  } catch (const coreio::queue_closed&) {
    co_return 1;
  }
  co_return 0;
}

/// Bumps *waiting once suspended in get().
coreio::task<int> get_expecting_closed(coreio::queue<int>* q, std::atomic<int>* waiting) {
  try {
    (void)co_await count_suspension(q->get(), waiting);
  } catch (const coreio::queue_closed&) {
    co_return 1;
  }
  co_return 0;
}

TEST(SyncQueueTest, ShutdownWakesWaitingGettersAndPuttersWithQueueShutDown) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> empty{1};
  std::atomic<int> waiting{0};
  auto g = rt.spawn(get_expecting_closed(&empty, &waiting));
  coreio::queue<int> full{1};
  ASSERT_TRUE(full.try_put(0));
  auto p = rt.spawn(put_expecting_closed(&full, &waiting, 1));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));  // both suspended
  empty.close();
  full.close();
  EXPECT_EQ(g.get(), 1);
  EXPECT_EQ(p.get(), 1);
  EXPECT_EQ(full.size(), 1u) << "the refused put did not store its item";
  EXPECT_EQ(full.try_get(), std::optional<int>(0));
}

coreio::task<void> producer(coreio::queue<std::uint64_t>* q, std::uint64_t from, std::uint64_t n) {
  for (std::uint64_t i = from; i < from + n; ++i) co_await q->put(i);
}

coreio::task<std::uint64_t> consumer(coreio::queue<std::uint64_t>* q) {
  std::uint64_t sum = 0;
  try {
    for (;;) sum += co_await q->get();
  } catch (const coreio::queue_closed&) {
  }
  co_return sum;
}

TEST(SyncQueueTest, ManyProducersAndConsumersOnFourWorkersAreExact) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  coreio::queue<std::uint64_t> q{8};
  const std::uint64_t per = sanitized<std::uint64_t>(20'000, 3'000), producers = 4;
  std::vector<coreio::join_handle<void>> ps;
  std::vector<coreio::join_handle<std::uint64_t>> cs;
  for (std::uint64_t k = 0; k < 4; ++k) cs.push_back(rt.spawn(consumer(&q)));
  for (std::uint64_t p = 0; p < producers; ++p) ps.push_back(rt.spawn(producer(&q, p * per, per)));
  for (auto& h : ps) h.get();
  q.shutdown();
  std::uint64_t sum = 0;
  for (auto& h : cs) sum += h.get();
  const std::uint64_t total = producers * per;
  EXPECT_EQ(sum, total * (total - 1) / 2);
}

/// 1 = got an item (returned in *out), 0 = cancelled. Bumps *waiting once suspended in get().
coreio::task<int> get_or_cancel(coreio::queue<int>* q, std::atomic<int>* waiting, int* out) {
  try {
    *out = co_await count_suspension(q->get(), waiting);
    co_return 1;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

/// Bumps *waiting once suspended in put().
coreio::task<int> put_or_cancel(coreio::queue<int>* q, std::atomic<int>* waiting, int v) {
  try {
    co_await count_suspension(q->put(v), waiting);
    co_return 1;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

TEST(SyncQueueTest, ACancelledGetterTakesNoItemAndTheNextGetterGetsIt) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> q{1};
  std::atomic<int> waiting{0};
  int a_out = -1, b_out = -1;
  auto a = rt.spawn(get_or_cancel(&q, &waiting, &a_out));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 1; }));  // a is queued, then b behind it
  auto b = rt.spawn(get_or_cancel(&q, &waiting, &b_out));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));
  a.cancel();
  EXPECT_EQ(a.get(), 0);
  ASSERT_TRUE(q.try_put(5));
  EXPECT_EQ(b.get(), 1);
  EXPECT_EQ(b_out, 5);
  EXPECT_EQ(a_out, -1);
}

TEST(SyncQueueTest, ACancelledPutterStoresNothingAndTheNextPutterGoesIn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> q{1};
  ASSERT_TRUE(q.try_put(0));
  std::atomic<int> waiting{0};
  auto a = rt.spawn(put_or_cancel(&q, &waiting, 1));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 1; }));  // a is queued, then b behind it
  auto b = rt.spawn(put_or_cancel(&q, &waiting, 2));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));
  a.cancel();
  EXPECT_EQ(a.get(), 0);
  EXPECT_EQ(q.try_get(), std::optional<int>(0));  // makes room: b's item moves in
  EXPECT_EQ(b.get(), 1);
  EXPECT_EQ(q.try_get(), std::optional<int>(2));
  EXPECT_TRUE(q.empty());
}

// try_put from a plain thread races cancels of waiting getters. Every item put is either in a
// getter's hands or still in the queue: nothing lost, nothing duplicated.
TEST(SyncQueueTest, PutRacingGetterCancelLosesNoItem) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300), n = 3;
  rng r(9);
  for (int i = 0; i < rounds; ++i) {
    coreio::queue<int> q{0};
    std::atomic<int> waiting{0};
    std::vector<int> outs(n, -1);
    std::vector<coreio::join_handle<int>> hs;
    for (int k = 0; k < n; ++k) hs.push_back(rt->spawn(get_or_cancel(&q, &waiting, &outs[k])));
    while (waiting.load() < n) std::this_thread::yield();
    const int items = 1 + static_cast<int>(r.below(n));
    const auto delay = std::chrono::microseconds(r.below(30));
    std::thread putter([&] {
      coreio_test::spin_for(delay);
      for (int k = 0; k < items; ++k) EXPECT_TRUE(q.try_put(k + 1));
    });
    hs[r.below(n)].cancel();
    putter.join();
    for (auto& h : hs) h.cancel();  // end the getters left waiting
    long seen = 0;
    int got = 0;
    for (int k = 0; k < n; ++k) {
      if (!coreio_test::ends_within(hs[k])) {
        (void)rt.release();
        FAIL() << "round " << i << ": a getter never ended";
      }
      if (hs[k].get() == 1) {
        ++got;
        seen += outs[k];
      }
    }
    while (auto v = q.try_get()) {
      ++got;
      seen += *v;
    }
    ASSERT_EQ(got, items) << "round " << i;
    ASSERT_EQ(seen, static_cast<long>(items) * (items + 1) / 2) << "round " << i;
  }
}

// try_get from a plain thread races cancels of waiting putters on a full queue. Every item a
// putter reported as put is got exactly once; a cancelled putter's item is nowhere.
TEST(SyncQueueTest, GetRacingPutterCancelLosesNoItem) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300), n = 3;
  rng r(10);
  for (int i = 0; i < rounds; ++i) {
    coreio::queue<int> q{1};
    ASSERT_TRUE(q.try_put(8));
    std::atomic<int> waiting{0};
    std::vector<coreio::join_handle<int>> hs;
    // Distinct bits, so the sum of what comes out names exactly which items did.
    for (int k = 0; k < n; ++k) hs.push_back(rt->spawn(put_or_cancel(&q, &waiting, 1 << k)));
    while (waiting.load() < n) std::this_thread::yield();
    const int gets = 1 + static_cast<int>(r.below(n));
    const auto delay = std::chrono::microseconds(r.below(30));
    std::vector<int> got_items;
    std::thread getter([&] {
      coreio_test::spin_for(delay);
      for (int k = 0; k < gets; ++k) {
        if (auto v = q.try_get()) got_items.push_back(*v);
      }
    });
    hs[r.below(n)].cancel();
    getter.join();
    for (auto& h : hs) h.cancel();
    long expected = 8;
    std::size_t count = 1;
    for (int k = 0; k < n; ++k) {
      if (!coreio_test::ends_within(hs[k])) {
        (void)rt.release();
        FAIL() << "round " << i << ": a putter never ended";
      }
      if (hs[k].get() == 1) {
        expected += 1 << k;
        ++count;
      }
    }
    while (auto v = q.try_get()) got_items.push_back(*v);
    long seen = 0;
    for (int v : got_items) seen += v;
    ASSERT_EQ(got_items.size(), count) << "round " << i;
    ASSERT_EQ(seen, expected) << "round " << i;
  }
}

// ---- task_done / join ----------------------------------------------------------------------------

TEST(SyncQueueTest, TaskDoneCountsEveryItemThatEnteredAndRejectsOneTooMany) {
  coreio::queue<int> q{4};
  EXPECT_EQ(q.unfinished(), 0u);
  ASSERT_TRUE(q.try_put(1));
  ASSERT_TRUE(q.try_put(2));
  EXPECT_EQ(q.unfinished(), 2u);
  EXPECT_EQ(q.try_get(), std::optional<int>(1));
  EXPECT_EQ(q.unfinished(), 2u);  // got, not yet done
  q.task_done();
  q.task_done();
  EXPECT_EQ(q.unfinished(), 0u);
  EXPECT_THROW(q.task_done(), coreio::usage_error);
  EXPECT_EQ(q.unfinished(), 0u);
}

struct join_probe {
  std::atomic<int> processed{0};
  std::atomic<bool> joined{false};
  std::atomic<int> processed_when_joined{-1};
};

coreio::task<void> done_worker(coreio::queue<int>* q, join_probe* p) {
  try {
    for (;;) {
      const int v = co_await q->get();
      if (v % 3 == 0) co_await coreio::sleep_for(std::chrono::microseconds(50));
      p->processed.fetch_add(1);
      q->task_done();
    }
  } catch (const coreio::queue_closed&) {
  }
}

coreio::task<int> produce_then_join(coreio::queue<int>* q, join_probe* p, int n) {
  co_await q->join();  // nothing put yet: at once
  for (int i = 0; i < n; ++i) co_await q->put(i);
  co_await q->join();
  p->processed_when_joined.store(p->processed.load());
  p->joined.store(true);
  q->shutdown();
  co_return 0;
}

TEST(SyncQueueTest, JoinWaitsUntilEveryItemWasMarkedDone) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  coreio::queue<int> q{8};
  join_probe p;
  const int n = sanitized(5'000, 1'000);
  std::vector<coreio::join_handle<void>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(rt.spawn(done_worker(&q, &p)));
  EXPECT_EQ(rt.block_on(produce_then_join(&q, &p, n)), 0);
  for (auto& w : workers) w.get();
  EXPECT_EQ(p.processed_when_joined.load(), n);
  EXPECT_EQ(q.unfinished(), 0u);
}

/// Bumps *waiting once suspended in join().
coreio::task<int> join_and_report(coreio::queue<int>* q, std::atomic<int>* waiting) {
  try {
    co_await count_suspension(q->join(), waiting);
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
  co_return 1;
}

TEST(SyncQueueTest, ACancelledJoinThrowsAndTheOtherJoinersStillWake) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> q{4};
  ASSERT_TRUE(q.try_put(7));
  std::atomic<int> waiting{0};
  auto a = rt.spawn(join_and_report(&q, &waiting));
  auto b = rt.spawn(join_and_report(&q, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));  // both suspended in join()
  a.cancel();
  EXPECT_EQ(a.get(), 0);
  EXPECT_FALSE(b.done());
  EXPECT_EQ(q.try_get(), std::optional<int>(7));
  q.task_done();
  EXPECT_EQ(b.get(), 1);
}

// ---- shutdown(immediate) ------------------------------------------------------------------------

TEST(SyncQueueTest, ShutdownImmediateDropsTheStoredItemsAndEveryOperationThrows) {
  coreio::queue<int> q{4};
  ASSERT_TRUE(q.try_put(1));
  ASSERT_TRUE(q.try_put(2));
  q.shutdown(true);
  EXPECT_TRUE(q.closed());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.unfinished(), 0u) << "dropped items count as done";
  EXPECT_THROW((void)q.try_get(), coreio::queue_closed);
  EXPECT_THROW(q.try_put(3), coreio::queue_closed);
  q.shutdown(true);  // idempotent
  q.shutdown();
  EXPECT_TRUE(q.closed());
}

TEST(SyncQueueTest, ShutdownImmediateAfterAPlainShutdownDropsWhatIsLeft) {
  coreio::queue<int> q{4};
  ASSERT_TRUE(q.try_put(1));
  ASSERT_TRUE(q.try_put(2));
  q.shutdown();
  EXPECT_EQ(q.try_get(), std::optional<int>(1));
  q.shutdown(true);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.unfinished(), 1u) << "the item already taken is still unfinished";
  EXPECT_THROW((void)q.try_get(), coreio::queue_closed);
  q.task_done();
  EXPECT_EQ(q.unfinished(), 0u);
}

TEST(SyncQueueTest, ShutdownImmediateDoesNotWrapAnUnfinishedCountMarkedAhead) {
  coreio::queue<int> q;
  ASSERT_TRUE(q.try_put(1));
  ASSERT_TRUE(q.try_put(2));
  q.task_done();  // asyncio allows marking ahead of the gets
  q.task_done();
  q.shutdown(true);
  EXPECT_EQ(q.unfinished(), 0u);
  EXPECT_THROW(q.task_done(), coreio::usage_error);
}

/// An item whose destructor takes the queue's lock (through size()): it would deadlock if an item
/// were destroyed under that lock. Counts its destructions (of non-moved-from objects).
struct lock_taking_item {
  coreio::queue<lock_taking_item>* q = nullptr;
  std::atomic<int>* destroyed = nullptr;
  lock_taking_item(coreio::queue<lock_taking_item>* queue, std::atomic<int>* d)
      : q(queue), destroyed(d) {}
  lock_taking_item(lock_taking_item&& o) noexcept
      : q(std::exchange(o.q, nullptr)), destroyed(std::exchange(o.destroyed, nullptr)) {}
  lock_taking_item& operator=(lock_taking_item&&) = delete;
  ~lock_taking_item() {
    if (q != nullptr) {
      (void)q->size();
      destroyed->fetch_add(1);
    }
  }
};

TEST(SyncQueueTest, ShutdownImmediateDestroysTheDroppedItemsOutsideTheQueuesLock) {
  std::atomic<int> destroyed{0};
  coreio::queue<lock_taking_item> q;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.try_put(lock_taking_item(&q, &destroyed)));
  EXPECT_EQ(destroyed.load(), 0);
  q.shutdown(true);
  EXPECT_EQ(destroyed.load(), 3) << "destroyed before shutdown returns";
}

coreio::task<int> get_expecting_shut_down(coreio::queue<int>* q, std::atomic<int>* waiting) {
  waiting->fetch_add(1);
  try {
    (void)co_await q->get();
  } catch (const coreio::queue_closed&) {
    co_return 1;
  }
  co_return 0;
}

TEST(SyncQueueTest, ShutdownImmediateWakesWaitingGettersPuttersAndJoiners) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> empty{1};
  coreio::queue<int> full{2};
  ASSERT_TRUE(full.try_put(1));
  ASSERT_TRUE(full.try_put(2));
  std::atomic<int> waiting{0};
  auto g = rt.spawn(get_expecting_shut_down(&empty, &waiting));
  auto p = rt.spawn(put_expecting_closed(&full, &waiting, 3));
  auto j = rt.spawn(join_and_report(&full, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 3; }));
  empty.shutdown(true);
  full.shutdown(true);
  EXPECT_EQ(g.get(), 1);
  EXPECT_EQ(p.get(), 1);
  EXPECT_EQ(j.get(), 1) << "every unfinished item was dropped: join returns";
  EXPECT_EQ(full.size(), 0u);
  EXPECT_EQ(full.unfinished(), 0u);
}

coreio::task<int> take_one_then_join(coreio::queue<int>* q, std::atomic<int>* stage) {
  const int v = co_await q->get();  // taken, not yet done
  stage->store(1);
  co_await q->join();
  co_return v;
}

TEST(SyncQueueTest, AfterShutdownImmediateJoinStillWaitsForTheItemsAlreadyTaken) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> q;
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(q.try_put(i));
  std::atomic<int> stage{0};
  std::atomic<int> waiting{0};
  auto t = rt.spawn(take_one_then_join(&q, &stage));
  ASSERT_TRUE(wait_until([&] { return stage.load() == 1; }));
  q.shutdown(true);  // drops 2 and 3
  EXPECT_EQ(q.unfinished(), 1u);
  auto other = rt.spawn(join_and_report(&q, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 1; }));
  EXPECT_FALSE(t.done());
  EXPECT_FALSE(other.done());
  q.task_done();  // the item the task took
  EXPECT_EQ(t.get(), 1);
  EXPECT_EQ(other.get(), 1);
}

/// 1 = got an item, 2 = queue_closed, 0 = cancelled.
coreio::task<int> get_or_outcome(coreio::queue<int>* q, std::atomic<int>* waiting, int* out) {
  waiting->fetch_add(1);
  try {
    *out = co_await q->get();
    co_return 1;
  } catch (const coreio::queue_closed&) {
    co_return 2;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

/// 1 = put, 2 = queue_closed, 0 = cancelled.
coreio::task<int> put_or_outcome(coreio::queue<int>* q, std::atomic<int>* waiting, int v) {
  waiting->fetch_add(1);
  try {
    co_await q->put(v);
    co_return 1;
  } catch (const coreio::queue_closed&) {
    co_return 2;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

// shutdown (immediate or not) from a plain thread races the cancel of a waiting getter (on an empty
// queue) and of a waiting putter (on a full one). The lock decides each race: every waiter ends with
// cancelled_error or queue_closed, none is left queued, and no item appears or vanishes: the
// full queue keeps its item after a plain shutdown and drops it after an immediate one.
TEST(SyncQueueTest, ShutdownRacingCancelLeavesEveryWaiterEndedAndNoItemLost) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(1000, 200);
  rng r(33);
  int cancelled = 0, shut = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::queue<int> empty{1};
    coreio::queue<int> full{1};
    ASSERT_TRUE(full.try_put(10));
    std::atomic<int> waiting{0};
    int out = -1;
    auto g = rt->spawn(get_or_outcome(&empty, &waiting, &out));
    auto p = rt->spawn(put_or_outcome(&full, &waiting, 20));
    while (waiting.load() < 2) std::this_thread::yield();
    const bool immediate = r.below(2) == 0;
    const auto delay = std::chrono::microseconds(r.below(30));
    std::thread closer([&] {
      coreio_test::spin_for(delay);
      empty.shutdown(immediate);
      full.shutdown(immediate);
    });
    g.cancel();
    p.cancel();
    closer.join();
    if (!coreio_test::ends_within(g) || !coreio_test::ends_within(p)) {
      (void)rt.release();
      FAIL() << "round " << i << ": a waiter never ended";
    }
    const int vg = g.get(), vp = p.get();
    ASSERT_TRUE(vg == 0 || vg == 2) << "round " << i << ": the getter got " << out;
    ASSERT_TRUE(vp == 0 || vp == 2) << "round " << i << ": the put of a full queue went in";
    (vg == 0 ? cancelled : shut) += 1;
    (vp == 0 ? cancelled : shut) += 1;
    ASSERT_EQ(full.size(), immediate ? 0u : 1u) << "round " << i;
    ASSERT_EQ(full.unfinished(), immediate ? 0u : 1u) << "round " << i;
    if (!immediate) {
      ASSERT_EQ(full.try_get(), std::optional<int>(10));
    }
    ASSERT_THROW((void)full.try_get(), coreio::queue_closed);
  }
  EXPECT_EQ(cancelled + shut, 2 * rounds);
  RecordProperty("cancelled", cancelled);
  RecordProperty("shut_down", shut);
}

// ---- randomized stress: shutdown racing puts and gets -------------------------------------------

/// What happened to every item of a round. Each id ends in exactly one terminal state: got by a
/// consumer, or destroyed without being got (dropped by shutdown(true), or the item of a put that
/// threw). A second terminal event for an id is an error (an item duplicated).
struct ledger {
  explicit ledger(std::size_t n) : state(n) {}
  enum : int { none = 0, got = 1, destroyed = 2 };
  std::vector<std::atomic<int>> state;
  std::atomic<int> errors{0};
  void mark(int id, int s) {
    int expected = none;
    if (!state[static_cast<std::size_t>(id)].compare_exchange_strong(expected, s))
      errors.fetch_add(1);
  }
};

/// A move-only item that reports its end to the ledger: taken by a consumer, or destroyed untaken.
class tracked {
 public:
  tracked(int id, ledger* l) noexcept : id_(id), l_(l) {}
  tracked(tracked&& o) noexcept : id_(o.id_), l_(std::exchange(o.l_, nullptr)) {}
  tracked& operator=(tracked&&) = delete;
  ~tracked() {
    if (l_ != nullptr) l_->mark(id_, ledger::destroyed);
  }
  int take() {
    std::exchange(l_, nullptr)->mark(id_, ledger::got);
    return id_;
  }

 private:
  int id_;
  ledger* l_;
};

struct shutdown_round {
  coreio::queue<tracked>* q;
  ledger* l;
  std::vector<std::atomic<int>>* put_ok;  // per id: 1 if its put returned normally, 2 if it threw
  std::chrono::nanoseconds work{};        // a consumer's busy time per item (lets items pile up)
  std::atomic<long> got{0};
};

coreio::task<void> tracked_producer(shutdown_round* r, int from, int n) {
  for (int id = from; id < from + n; ++id) {
    try {
      co_await r->q->put(tracked(id, r->l));
      (*r->put_ok)[static_cast<std::size_t>(id)].store(1);
    } catch (const coreio::queue_closed&) {
      (*r->put_ok)[static_cast<std::size_t>(id)].store(2);
      co_return;  // the ids after this one are never made
    }
  }
}

coreio::task<void> tracked_consumer(shutdown_round* r) {
  try {
    for (;;) {
      tracked item = co_await r->q->get();
      (void)item.take();
      coreio_test::spin_for(r->work);
      r->got.fetch_add(1);
      if ((r->got.load() & 7) == 0) co_await coreio::yield_now();
      r->q->task_done();
    }
  } catch (const coreio::queue_closed&) {
  }
}

coreio::task<int> tracked_joiner(coreio::queue<tracked>* q) {
  co_await q->join();
  co_return 1;
}

// Producers and consumers on 2 workers; a plain thread shuts the queue down (immediate or not) at a
// random moment. Every item that was made ends exactly once: got, or destroyed untaken; an item
// whose put threw is never got; with immediate = false every item put is got; the unfinished count
// returns to zero and join() returns.
TEST(SyncQueueTest, StressShutdownRacingPutsAndGetsAccountsForEveryItem) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(200, 30);
  const int producers = 3, consumers = 2, per = 200;
  const int n = producers * per;
  rng r(31);
  long total_got = 0, total_dropped = 0, total_refused = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::size_t capacities[] = {0, 1, 4, 64};
    coreio::queue<tracked> q{capacities[r.below(4)]};
    ledger l(static_cast<std::size_t>(n));
    std::vector<std::atomic<int>> put_ok(static_cast<std::size_t>(n));
    shutdown_round st{&q, &l, &put_ok, std::chrono::nanoseconds(r.below(2) * 3000)};
    const bool immediate = r.below(2) == 0;
    std::vector<coreio::join_handle<void>> hs;
    for (int c = 0; c < consumers; ++c) hs.push_back(rt->spawn(tracked_consumer(&st)));
    auto joiner = rt->spawn(tracked_joiner(&q));
    for (int p = 0; p < producers; ++p)
      hs.push_back(rt->spawn(tracked_producer(&st, p * per, per)));
    const auto delay = std::chrono::microseconds(r.below(sanitized(400, 2000)));
    coreio_test::spin_for(delay);
    q.shutdown(immediate);
    bool ended = true;
    for (auto& h : hs) ended = ended && coreio_test::ends_within(h);
    ended = ended && coreio_test::ends_within(joiner);
    if (!ended) {
      (void)rt.release();
      FAIL() << "round " << round << ": a producer, consumer or joiner never ended";
    }
    for (auto& h : hs) h.get();
    ASSERT_EQ(joiner.get(), 1);
    ASSERT_EQ(l.errors.load(), 0) << "round " << round << ": an item ended twice";
    long got = 0, dropped = 0, refused = 0;
    for (int id = 0; id < n; ++id) {
      const int s = l.state[static_cast<std::size_t>(id)].load();
      const int put = put_ok[static_cast<std::size_t>(id)].load();
      if (put == 0) {
        ASSERT_EQ(s, ledger::none) << "round " << round << ": id " << id << " was never made";
      } else if (put == 2) {
        ASSERT_EQ(s, ledger::destroyed) << "round " << round << ": a refused put's item was got";
        ++refused;
      } else if (s == ledger::got) {
        ++got;
      } else {
        ASSERT_EQ(s, ledger::destroyed) << "round " << round << ": id " << id << " was lost";
        ASSERT_TRUE(immediate) << "round " << round
                               << ": shutdown() without immediate dropped an item";
        ++dropped;
      }
    }
    ASSERT_EQ(got, st.got.load()) << "round " << round;
    ASSERT_EQ(q.size(), 0u);
    ASSERT_EQ(q.unfinished(), 0u);
    total_got += got;
    total_dropped += dropped;
    total_refused += refused;
  }
  RecordProperty("got", static_cast<int>(total_got));
  RecordProperty("dropped", static_cast<int>(total_dropped));
  RecordProperty("refused", static_cast<int>(total_refused));
}

}  // namespace
