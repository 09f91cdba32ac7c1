// wait_for around every kind of waiting awaitable, timed out at random points 100,000 times each,
// loses and duplicates nothing: no queue item (get and put), no semaphore permit, no mutex
// ownership, no future value, no join handle result (awaited through shield, which withdraws the
// wait and leaves the task running; a bare wait_for cancels the task, as asyncio's does). Limits
// are drawn from 0 (due at once: the awaitable is cancelled before it starts, asyncio 3.12's
// wait_for) to a few tens of microseconds (it times out while queued, or races the grant), on 2
// workers, so that every outcome happens: completed in time, withdrawn before the grant, and the
// grant racing the timeout. Each test checks that both timeouts and completions occurred, so a run
// in which nothing timed out fails instead of passing without having tested anything.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>
#include <coreio/sync.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "stress_support.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t operations = 100'000;

/// A time limit for one wait: 0 a quarter of the time, else 1-40 us.
std::chrono::microseconds random_limit(std::mt19937_64& rng) {
  const auto r = rng() % 44;
  return std::chrono::microseconds(r < 4 ? 0 : r - 3);
}

struct tally {
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> timed_out{0};
};

// ---- queue: every item put exactly once and got exactly once ----------------------------------

coreio::task<void> put_all(coreio::queue<std::uint64_t>* q, std::uint64_t from, std::uint64_t n,
                           std::uint64_t seed, tally* t) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = from; i < from + n;) {
    try {
      co_await coreio::wait_for(q->put(i), random_limit(rng));
      t->completed.fetch_add(1, std::memory_order_relaxed);
      ++i;  // put: next item; timed out: the same item again (it must not have gone in)
    } catch (const coreio::timeout_error&) {
      t->timed_out.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

coreio::task<void> get_until(coreio::queue<std::uint64_t>* q, std::vector<std::uint64_t>* got,
                             std::atomic<std::uint64_t>* remaining, std::uint64_t seed, tally* t) {
  std::mt19937_64 rng(seed);
  while (remaining->load(std::memory_order_relaxed) > 0) {
    try {
      got->push_back(co_await coreio::wait_for(q->get(), random_limit(rng)));
      remaining->fetch_sub(1, std::memory_order_relaxed);
      t->completed.fetch_add(1, std::memory_order_relaxed);
    } catch (const coreio::timeout_error&) {
      t->timed_out.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

TEST(WaitForStress, QueueGetAndPutTimedOutAtRandomLoseAndDuplicateNoItem) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<std::uint64_t> q{2};
  constexpr std::uint64_t producers = 2, consumers = 3, per = operations / producers;
  std::atomic<std::uint64_t> remaining{operations};
  std::vector<std::vector<std::uint64_t>> got(consumers);
  tally puts, gets;
  rt.block_on([&]() -> coreio::task<void> {
    std::vector<coreio::join_handle<void>> hs;
    for (std::uint64_t c = 0; c < consumers; ++c)
      hs.push_back(coreio::spawn(get_until(&q, &got[c], &remaining, 100 + c, &gets)));
    for (std::uint64_t p = 0; p < producers; ++p)
      hs.push_back(coreio::spawn(put_all(&q, p * per, per, 200 + p, &puts)));
    for (auto& h : hs) co_await h;
  }());
  std::vector<std::uint64_t> all;
  for (auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), operations);
  for (std::uint64_t i = 0; i < operations; ++i) ASSERT_EQ(all[i], i) << "item lost or duplicated";
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(puts.completed.load(), operations);
  EXPECT_GT(puts.timed_out.load(), 0u);
  EXPECT_GT(gets.timed_out.load(), 0u);
}

// ---- semaphore and mutex: a timed-out acquire holds nothing, a granted one is held once ---------

coreio::task<void> hold_permits(coreio::semaphore* sem, std::atomic<int>* holders,
                                std::atomic<int>* max_seen, std::uint64_t n, std::uint64_t seed,
                                tally* t) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < n; ++i) {
    try {
      auto permit = co_await coreio::wait_for(sem->acquire(), random_limit(rng));
      const int now = holders->fetch_add(1, std::memory_order_relaxed) + 1;
      // Relaxed: a statistic, read after block_on has joined every task.
      int seen = max_seen->load(std::memory_order_relaxed);
      while (now > seen && !max_seen->compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
      }
      if (rng() % 4 == 0) co_await coreio::yield_now();
      holders->fetch_sub(1, std::memory_order_relaxed);
      t->completed.fetch_add(1, std::memory_order_relaxed);
    } catch (const coreio::timeout_error&) {
      t->timed_out.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

TEST(WaitForStress, SemaphoreAcquireTimedOutAtRandomLosesAndDuplicatesNoPermit) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  constexpr int permits = 3;
  constexpr std::uint64_t tasks = 8, per = operations / tasks;
  coreio::semaphore sem{permits};
  std::atomic<int> holders{0};
  std::atomic<int> max_seen{0};
  tally t;
  rt.block_on([&]() -> coreio::task<void> {
    std::vector<coreio::join_handle<void>> hs;
    for (std::uint64_t k = 0; k < tasks; ++k)
      hs.push_back(coreio::spawn(hold_permits(&sem, &holders, &max_seen, per, k, &t)));
    for (auto& h : hs) co_await h;
  }());
  EXPECT_EQ(sem.available(), static_cast<std::size_t>(permits)) << "a permit was lost or made";
  EXPECT_LE(max_seen.load(), permits);
  EXPECT_EQ(t.completed.load() + t.timed_out.load(), tasks * per);
  EXPECT_GT(t.completed.load(), 0u);
  EXPECT_GT(t.timed_out.load(), 0u);
}

coreio::task<void> bump_under_lock(coreio::mutex* m, std::uint64_t* counter, std::uint64_t n,
                                   std::uint64_t seed, tally* t) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < n; ++i) {
    try {
      auto g = co_await coreio::wait_for(m->lock(), random_limit(rng));
      const std::uint64_t before = *counter;
      if (rng() % 4 == 0) co_await coreio::yield_now();
      *counter = before + 1;  // a second owner would lose an increment
      t->completed.fetch_add(1, std::memory_order_relaxed);
    } catch (const coreio::timeout_error&) {
      t->timed_out.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

TEST(WaitForStress, MutexLockTimedOutAtRandomNeverLeavesItHeldOrSharesIt) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  constexpr std::uint64_t tasks = 8, per = operations / tasks;
  coreio::mutex m;
  std::uint64_t counter = 0;
  tally t;
  rt.block_on([&]() -> coreio::task<void> {
    std::vector<coreio::join_handle<void>> hs;
    for (std::uint64_t k = 0; k < tasks; ++k)
      hs.push_back(coreio::spawn(bump_under_lock(&m, &counter, per, k, &t)));
    for (auto& h : hs) co_await h;
  }());
  EXPECT_FALSE(m.locked());
  EXPECT_EQ(counter, t.completed.load());
  EXPECT_EQ(t.completed.load() + t.timed_out.load(), tasks * per);
  EXPECT_GT(t.completed.load(), 0u);
  EXPECT_GT(t.timed_out.load(), 0u);
}

// ---- future and join handle: a timed-out wait leaves the value for the next one -----------------

/// Sets p after a random number of yields, so the waiter's limits race the value.
coreio::task<void> set_later(coreio::promise<std::uint64_t> p, std::uint64_t v, unsigned yields) {
  for (unsigned i = 0; i < yields; ++i) co_await coreio::yield_now();
  p.set_value(v);
}

coreio::task<std::uint64_t> value_later(std::uint64_t v, unsigned yields) {
  for (unsigned i = 0; i < yields; ++i) co_await coreio::yield_now();
  co_return v;
}

coreio::task<void> await_values(std::uint64_t n, std::uint64_t seed, std::uint64_t* sum, tally* t) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < n; ++i) {
    coreio::promise<std::uint64_t> p;
    auto f = p.get_future();
    auto setter = coreio::spawn(set_later(std::move(p), i, static_cast<unsigned>(rng() % 8)));
    auto h = coreio::spawn(value_later(i, static_cast<unsigned>(rng() % 8)));
    // Each is awaited under a random limit until its value arrives: exactly once, never lost.
    for (;;) {
      try {
        *sum += co_await coreio::wait_for(f, random_limit(rng));
        t->completed.fetch_add(1, std::memory_order_relaxed);
        break;
      } catch (const coreio::timeout_error&) {
        t->timed_out.fetch_add(1, std::memory_order_relaxed);
      }
    }
    for (;;) {
      try {
        // shield: as asyncio.wait_for(task), a bare wait_for(h) cancels the task when it times
        // out; wait_for(shield(h)) withdraws only the wait, so the value stays for the next one.
        *sum += co_await coreio::wait_for(coreio::shield(h), random_limit(rng));
        t->completed.fetch_add(1, std::memory_order_relaxed);
        break;
      } catch (const coreio::timeout_error&) {
        t->timed_out.fetch_add(1, std::memory_order_relaxed);
      }
    }
    co_await setter;
  }
}

TEST(WaitForStress, FutureAndJoinHandleWaitsTimedOutAtRandomKeepTheValueForTheNextWait) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  constexpr std::uint64_t tasks = 4, per = operations / 2 / tasks;
  std::vector<std::uint64_t> sums(tasks, 0);
  std::vector<tally> tallies(tasks);
  rt.block_on([&]() -> coreio::task<void> {
    std::vector<coreio::join_handle<void>> hs;
    for (std::uint64_t k = 0; k < tasks; ++k)
      hs.push_back(coreio::spawn(await_values(per, k, &sums[k], &tallies[k])));
    for (auto& h : hs) co_await h;
  }());
  std::uint64_t completed = 0, timed_out = 0;
  for (std::uint64_t k = 0; k < tasks; ++k) {
    EXPECT_EQ(sums[k], 2 * coreio_stress::triangle(per)) << "task " << k;
    completed += tallies[k].completed.load();
    timed_out += tallies[k].timed_out.load();
  }
  EXPECT_EQ(completed, 2 * tasks * per);
  EXPECT_GT(timed_out, 0u);
}

}  // namespace
