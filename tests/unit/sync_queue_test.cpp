// sync_queue_test.cpp — coreio/sync/queue.hpp: put / get / try_put / try_get, backpressure, FIFO
// order of waiting getters and putters, unbounded queues, close semantics (drain then queue_closed,
// put on a closed queue, waiting getters and putters woken), move-only items, priority and lifo
// order, many producers and consumers on four workers, cancellation of a waiting getter and putter,
// and put / get racing cancel with exact item accounting; task_done() / join().
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

coreio::task<std::vector<int>> drain_until_closed(coreio::queue<int>* q) {
  std::vector<int> out;
  try {
    for (;;) out.push_back(co_await q->get());
  } catch (const coreio::queue_closed&) {
    out.push_back(-1);
  }
  co_return out;
}

TEST(SyncQueueTest, CloseLetsGetDrainThenThrowsAndRejectsPuts) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::queue<int> q{4};
  ASSERT_TRUE(q.try_put(1));
  ASSERT_TRUE(q.try_put(2));
  q.close();
  q.close();  // idempotent
  EXPECT_TRUE(q.closed());
  EXPECT_THROW(q.try_put(3), coreio::queue_closed);
  EXPECT_EQ(rt.block_on(drain_until_closed(&q)), (std::vector<int>{1, 2, -1}));
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

TEST(SyncQueueTest, CloseWakesWaitingGettersAndPuttersWithQueueClosed) {
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
  EXPECT_EQ(full.size(), 1u) << "the closed put did not store its item";
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
  q.close();
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
  q->close();
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

}  // namespace
