// run_queue_test.cpp — src/sched/run_queue.hpp: a worker's FIFO of ready tasks. The owner pushes at
// the tail and pops the oldest, thieves take the older half in order, a full ring refuses pushes,
// indices wrap around the ring, and under contention every item is taken exactly once.
#include "sched/run_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace {

using coreio::detail::run_queue;

/// One ring with both of its ends, so that a test can play the owner and the thieves.
struct test_ring {
  explicit test_ring(std::uint32_t capacity) : q(capacity) {}
  run_queue q;
  run_queue::owner owner{q};
  run_queue::stealer thief{q};
};

void* item(std::uintptr_t i) { return reinterpret_cast<void*>(i + 1); }
std::uintptr_t index_of(void* p) { return reinterpret_cast<std::uintptr_t>(p) - 1; }

TEST(RunQueueTest, StartsEmpty) {
  test_ring r(8);
  EXPECT_EQ(r.q.capacity(), 8u);
  EXPECT_TRUE(r.owner.empty());
  EXPECT_EQ(r.owner.pop(), nullptr);
  std::array<void*, 8> out{};
  EXPECT_EQ(r.thief.steal_half(out.data(), out.size()), 0u);
}

TEST(RunQueueTest, OwnerPopsFirstInFirstOut) {
  test_ring r(8);
  for (std::uintptr_t i = 0; i < 6; ++i) ASSERT_TRUE(r.owner.push(item(i)));
  EXPECT_EQ(r.owner.size(), 6u);
  for (std::uintptr_t i = 0; i < 6; ++i) EXPECT_EQ(r.owner.pop(), item(i));
  EXPECT_EQ(r.owner.pop(), nullptr);
}

TEST(RunQueueTest, AThiefTakesTheOlderHalfInOrder) {
  test_ring r(16);
  for (std::uintptr_t i = 0; i < 7; ++i) ASSERT_TRUE(r.owner.push(item(i)));
  std::array<void*, 16> out{};
  ASSERT_EQ(r.thief.steal_half(out.data(), out.size()), 4u);  // 7 - 7/2
  for (std::uintptr_t i = 0; i < 4; ++i) EXPECT_EQ(out[i], item(i));
  for (std::uintptr_t i = 4; i < 7; ++i) EXPECT_EQ(r.owner.pop(), item(i));
  // A single item is stolen whole; a bound on the batch is respected.
  ASSERT_TRUE(r.owner.push(item(9)));
  ASSERT_EQ(r.thief.steal_half(out.data(), out.size()), 1u);
  EXPECT_EQ(out[0], item(9));
  for (std::uintptr_t i = 0; i < 10; ++i) ASSERT_TRUE(r.owner.push(item(i)));
  EXPECT_EQ(r.thief.steal_half(out.data(), 2), 2u);
  EXPECT_EQ(r.owner.pop(), item(2));
}

TEST(RunQueueTest, AFullRingRefusesAPushUntilSomethingIsTaken) {
  test_ring r(4);
  for (std::uintptr_t i = 0; i < 4; ++i) ASSERT_TRUE(r.owner.push(item(i)));
  EXPECT_FALSE(r.owner.push(item(99)));
  EXPECT_EQ(r.owner.pop(), item(0));
  EXPECT_TRUE(r.owner.push(item(4)));
  std::array<void*, 4> out{};
  EXPECT_EQ(r.owner.pop_oldest(out.data(), 2), 2u);
  EXPECT_EQ(out[0], item(1));
  EXPECT_EQ(out[1], item(2));
}

TEST(RunQueueTest, WrapsAroundTheRingManyTimes) {
  test_ring r(4);
  std::uintptr_t next_in = 0, next_out = 0;
  std::array<void*, 4> out{};
  for (int round = 0; round < 20'000; ++round) {
    while (r.owner.push(item(next_in))) ++next_in;
    if (round % 2 == 0) {
      const std::size_t n = r.thief.steal_half(out.data(), out.size());
      for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(out[k], item(next_out++));
    } else {
      ASSERT_EQ(r.owner.pop(), item(next_out++));
    }
  }
  while (void* p = r.owner.pop()) ASSERT_EQ(p, item(next_out++));
  EXPECT_EQ(next_out, next_in);
  EXPECT_GT(next_in, 20'000u);
}

// The owner pushes 1,000,000 items and pops some itself while two thieves steal halves; every item
// is taken exactly once, and each thief sees the items of one batch in push order.
TEST(RunQueueTest, EveryItemIsTakenExactlyOnceUnderConcurrentPopsAndSteals) {
  constexpr std::uintptr_t n = 1'000'000;
  for (std::uint32_t capacity : {4u, 256u}) {
    test_ring r(capacity);
    std::unique_ptr<std::atomic<std::uint8_t>[]> taken(new std::atomic<std::uint8_t>[n]);
    for (std::uintptr_t i = 0; i < n; ++i) taken[i].store(0, std::memory_order_relaxed);
    std::atomic<bool> owner_done{false};
    std::atomic<bool> out_of_order{false};
    auto take = [&](void* p) { taken[index_of(p)].fetch_add(1, std::memory_order_relaxed); };
    auto thief = [&] {
      std::array<void*, 128> out{};
      for (;;) {
        const bool done = owner_done.load(std::memory_order_acquire);
        const std::size_t got = r.thief.steal_half(out.data(), out.size());
        for (std::size_t k = 0; k < got; ++k) {
          take(out[k]);
          if (k > 0 && index_of(out[k]) != index_of(out[k - 1]) + 1) out_of_order.store(true);
        }
        if (got == 0 && done && r.q.size() == 0) break;
      }
    };
    std::thread t1(thief), t2(thief);
    coreio_test::rng rnd(capacity);
    for (std::uintptr_t i = 0; i < n;) {
      if (r.owner.push(item(i))) {
        ++i;
      } else if (void* p = r.owner.pop()) {
        take(p);
      }
      if (rnd.next() % 4 == 0) {
        if (void* p = r.owner.pop()) take(p);
      }
    }
    owner_done.store(true, std::memory_order_release);
    while (void* p = r.owner.pop()) take(p);
    t1.join();
    t2.join();
    std::uintptr_t wrong = 0;
    for (std::uintptr_t i = 0; i < n; ++i) wrong += taken[i].load() == 1 ? 0 : 1;
    EXPECT_EQ(wrong, 0u) << "items taken zero or several times, capacity " << capacity;
    EXPECT_FALSE(out_of_order.load()) << "a stolen batch was not in push order";
  }
}

}  // namespace
