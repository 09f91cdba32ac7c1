// Synchronisation primitives under load, with exact results: a bounded queue (capacity 64) carrying
// 1,000,000 items from 4 producers to 4 consumers on every worker; a mutex-protected counter bumped
// 100,000 times by each of 8 tasks on 4 workers; a semaphore of 3 permits shared by 16 tasks, some
// of them cancelled while they wait, with the permit count reconciled at the end.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>
#include <coreio/sync.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "stress_support.hpp"

namespace {

coreio::task<void> produce(coreio::queue<std::uint64_t>* q, std::uint64_t from, std::uint64_t n) {
  for (std::uint64_t i = from; i < from + n; ++i) co_await q->put(i);
}

coreio::task<std::uint64_t> consume(coreio::queue<std::uint64_t>* q, std::uint64_t* count) {
  std::uint64_t sum = 0;
  try {
    for (;;) {
      sum += co_await q->get();
      ++*count;
    }
  } catch (const coreio::queue_closed&) {
  }
  co_return sum;
}

coreio::task<std::uint64_t> pipeline(std::uint64_t total, std::uint64_t* count) {
  coreio::queue<std::uint64_t> q{64};
  const std::uint64_t producers = 4, consumers = 4, per = total / producers;
  std::vector<std::uint64_t> counts(consumers, 0);
  std::vector<coreio::join_handle<void>> ps;
  std::vector<coreio::join_handle<std::uint64_t>> cs;
  for (std::uint64_t c = 0; c < consumers; ++c)
    cs.push_back(coreio::spawn(consume(&q, &counts[c])));
  for (std::uint64_t p = 0; p < producers; ++p)
    ps.push_back(coreio::spawn(produce(&q, p * per, per)));
  for (auto& h : ps) co_await h;
  q.shutdown();
  std::uint64_t sum = 0;
  for (auto& h : cs) sum += co_await h;
  for (std::uint64_t c : counts) *count += c;
  co_return sum;
}

TEST(SyncStress, AMillionItemsThroughABoundedQueueAreExact) {
  const std::uint64_t total = 1'000'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 0}};
  std::uint64_t count = 0;
  EXPECT_EQ(rt.block_on(pipeline(total, &count)), coreio_stress::triangle(total));
  EXPECT_EQ(count, total);
}

struct counter {
  coreio::mutex m;
  std::uint64_t value = 0;  // guarded by m, deliberately not atomic
};

coreio::task<void> bump(counter* c, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    auto lock = co_await c->m.lock();
    ++c->value;
    if (i % 1024 == 0) co_await coreio::yield_now();  // hold it across a suspension now and then
  }
}

TEST(SyncStress, AMutexCounterIsExactUnderEightTasksOnFourWorkers) {
  const std::uint64_t tasks = 8, n = 100'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  counter c;
  std::vector<coreio::join_handle<void>> hs;
  for (std::uint64_t t = 0; t < tasks; ++t) hs.push_back(rt.spawn(bump(&c, n)));
  for (auto& h : hs) h.get();
  EXPECT_EQ(c.value, tasks * n);
  EXPECT_FALSE(c.m.locked());
}

struct limited {
  coreio::semaphore s{3};
  std::atomic<int> inside{0};
  std::atomic<bool> over{false};
  std::atomic<std::uint64_t> completed{0};  // acquisitions that ran their critical section
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::uint64_t> started{0};
};

coreio::task<void> use_permits(limited* l, std::uint64_t n) {
  l->started.fetch_add(1, std::memory_order_relaxed);
  try {
    for (std::uint64_t i = 0; i < n; ++i) {
      auto permit = co_await l->s.acquire();
      // Leaves the critical section however it ends: a cancel makes the yield below throw while
      // the permit is held (the permit is then returned by its destructor, after this guard's).
      struct inside_guard {
        std::atomic<int>* n;
        ~inside_guard() { n->fetch_sub(1, std::memory_order_relaxed); }
      };
      if (l->inside.fetch_add(1, std::memory_order_relaxed) >= 3) l->over.store(true);
      inside_guard g{&l->inside};
      if (i % 16 == 0) co_await coreio::yield_now();
      l->completed.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (const coreio::cancelled_error&) {
    l->cancelled.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
}

TEST(SyncStress, ASemaphoreUnderLoadAndCancelsKeepsEveryPermit) {
  const std::uint64_t tasks = 16, n = 20'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  limited l;
  std::vector<coreio::join_handle<void>> hs;
  for (std::uint64_t t = 0; t < tasks; ++t) hs.push_back(rt.spawn(use_permits(&l, n)));
  // Cancel every fourth task once the load is under way and every task has started (one cancelled
  // before it first ran would never run its body, so its catch block would not count it).
  while (l.completed.load() < n || l.started.load() < tasks) std::this_thread::yield();
  for (std::uint64_t t = 0; t < tasks; t += 4) hs[t].cancel();
  std::uint64_t ended_cancelled = 0;
  for (auto& h : hs) {
    try {
      h.get();
    } catch (const coreio::cancelled_error&) {
      ++ended_cancelled;
    }
  }
  EXPECT_FALSE(l.over.load());
  EXPECT_EQ(l.s.available(), 3u) << "a permit was lost or duplicated";
  EXPECT_EQ(ended_cancelled, l.cancelled.load());
  EXPECT_GE(l.completed.load(), (tasks - ended_cancelled) * n);
}

}  // namespace
