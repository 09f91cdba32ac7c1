// spawn_test.cpp — coreio/spawn.hpp: coreio::spawn (asyncio.create_task), yield_now
// (asyncio.sleep(0)) and current_worker.
#include <coreio/spawn.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/runtime.hpp>
#include <coreio/time.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::prompt;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::wait_until;

coreio::task<int> twice(int v) {
  co_await coreio::yield_now();
  co_return 2 * v;
}

coreio::task<int> spawn_and_await(int v) {
  auto h = coreio::spawn(twice(v));
  co_return co_await h;
}

TEST(SpawnTest, SpawnInsideARuntimeGivesAHandleToAwait) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(spawn_and_await(21)), 42);
}

TEST(SpawnTest, SpawnOutsideARuntimeThrowsUsageError) {
  EXPECT_THROW((void)coreio::spawn(twice(1)), coreio::usage_error);
}

TEST(SpawnTest, SpawnOnAPlainThreadWhileARuntimeExistsStillThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_THROW((void)coreio::spawn(twice(1)), coreio::usage_error)
      << "coreio::spawn finds its runtime from the calling worker, not from a global";
}

coreio::task<void> signal(std::promise<void>* p) {
  co_await coreio::yield_now();
  p->set_value();
}

coreio::task<void> spawn_detached(std::promise<void>* p) {
  coreio::spawn(signal(p)).detach();
  co_return;
}

TEST(SpawnTest, ASpawnedTaskRunsWithoutBeingAwaited) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::promise<void> p;
  auto f = p.get_future();
  rt.block_on(spawn_detached(&p));  // returns before (or after) the child ran; nobody awaits it
  EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
}

coreio::task<long> spawn_many(int n) {
  std::vector<coreio::join_handle<int>> hs;
  hs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) hs.push_back(coreio::spawn(twice(i)));
  long sum = 0;
  for (auto& h : hs) sum += co_await h;
  co_return sum;
}

TEST(SpawnTest, ManySpawnsFromATaskAllComplete) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const int n = sanitized(20'000, 2'000);
  EXPECT_EQ(rt.block_on(spawn_many(n)), static_cast<long>(n) * (n - 1));
}

// ---- current_worker ---------------------------------------------------------------------------

TEST(SpawnTest, CurrentWorkerIsMinusOneOutsideAWorker) {
  EXPECT_EQ(coreio::current_worker(), -1);
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(coreio::current_worker(), -1) << "the thread that built the runtime is not a worker";
  int from_thread = 0;
  std::thread([&] { from_thread = coreio::current_worker(); }).join();
  EXPECT_EQ(from_thread, -1);
}

coreio::task<std::vector<int>> record_workers(int rounds) {
  std::vector<int> seen;
  for (int i = 0; i < rounds; ++i) {
    seen.push_back(coreio::current_worker());
    co_await coreio::yield_now();
  }
  co_return seen;
}

TEST(SpawnTest, CurrentWorkerIsTheIndexOfTheRunningWorker) {
  constexpr int n = 3;
  coreio::runtime rt{coreio::runtime_options{.workers = n}};
  std::vector<coreio::join_handle<std::vector<int>>> hs;
  for (int i = 0; i < 8; ++i) hs.push_back(rt.spawn(record_workers(50)));
  for (auto& h : hs) {
    for (int w : h.get()) {
      EXPECT_GE(w, 0);
      EXPECT_LT(w, n);
    }
  }
}

// ---- yield_now --------------------------------------------------------------------------------

struct ping_pong {
  std::atomic<int> turn{0};  // even: ping's turn, odd: pong's
  std::atomic<bool> gave_up{false};
  std::string order;  // appended by whoever holds the turn
};

// Takes `rounds` turns; waits for its turn with yield_now only. On one worker this can only make
// progress if yield_now lets the other task run.
coreio::task<void> take_turns(ping_pong* s, int parity, int rounds, char tag) {
  for (int r = 0; r < rounds; ++r) {
    long spins = 0;
    while (s->turn.load() % 2 != parity) {
      if (++spins > 1'000'000 || s->gave_up.load()) {  // a bound instead of a hang
        s->gave_up.store(true);
        co_return;
      }
      co_await coreio::yield_now();
    }
    s->order.push_back(tag);
    s->turn.fetch_add(1);
  }
}

coreio::task<void> play(ping_pong* s, int rounds) {
  auto a = coreio::spawn(take_turns(s, 0, rounds, 'a'));
  auto b = coreio::spawn(take_turns(s, 1, rounds, 'b'));
  co_await a;
  co_await b;
}

TEST(SpawnTest, YieldNowLetsTwoTasksInterleaveOnOneWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  ping_pong s;
  rt.block_on(play(&s, 20));
  EXPECT_FALSE(s.gave_up.load());
  std::string expected;
  for (int i = 0; i < 20; ++i) expected += "ab";
  EXPECT_EQ(s.order, expected);
}

coreio::task<void> count_forever(std::atomic<long>* counter) {
  for (;;) {
    counter->fetch_add(1);
    co_await coreio::yield_now();
  }
}

coreio::task<long> yield_while_other_counts(std::atomic<long>* counter) {
  auto h = coreio::spawn(count_forever(counter));
  const long before = counter->load();
  for (int i = 0; i < 10; ++i) co_await coreio::yield_now();
  const long after = counter->load();
  h.cancel();
  try {
    co_await h;
  } catch (const coreio::cancelled_error&) {
  }
  co_return after - before;
}

TEST(SpawnTest, YieldNowLetsAnotherReadyTaskRunOnOneWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  std::atomic<long> counter{0};
  EXPECT_GT(rt.block_on(yield_while_other_counts(&counter)), 0);
}

coreio::task<int> yield_until_cancelled(std::atomic<bool>* started) {
  started->store(true);
  for (int i = 0;; ++i) {
    try {
      co_await coreio::yield_now();
    } catch (const coreio::cancelled_error&) {
      co_return -1;
    }
    if (i > 100'000'000) co_return 0;
  }
}

TEST(SpawnTest, YieldNowThrowsCancelledErrorWhenTheTaskIsCancelled) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> started{false};
  auto h = rt.spawn(yield_until_cancelled(&started));
  ASSERT_TRUE(wait_until([&] { return started.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_EQ(h.get(), -1);
  EXPECT_LT(sw.elapsed(), prompt);
}

// ---- fairness ---------------------------------------------------------------------------------

struct ping_pong_chain {
  std::vector<coreio::promise<void>> to_a, to_b;
  std::vector<coreio::future<void>> for_a, for_b;
  explicit ping_pong_chain(int rounds)
      : to_a(static_cast<std::size_t>(rounds)), to_b(static_cast<std::size_t>(rounds)) {
    for (auto& p : to_a) for_a.push_back(p.get_future());
    for (auto& p : to_b) for_b.push_back(p.get_future());
  }
};

// A and B wake each other through futures (each wake-up goes to the LIFO slot and runs next).
coreio::task<void> ping(ping_pong_chain* c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    c->to_b[static_cast<std::size_t>(i)].set_value();
    co_await c->for_a[static_cast<std::size_t>(i)];
  }
}

coreio::task<void> pong(ping_pong_chain* c, int rounds, std::atomic<int>* bystander_progress,
                        int* progress_seen_at_end) {
  for (int i = 0; i < rounds; ++i) {
    co_await c->for_b[static_cast<std::size_t>(i)];
    c->to_a[static_cast<std::size_t>(i)].set_value();
  }
  *progress_seen_at_end = bystander_progress->load();
}

coreio::task<void> bystander(std::atomic<int>* progress, int yields) {
  for (int i = 0; i < yields; ++i) {
    co_await coreio::yield_now();
    progress->fetch_add(1);
  }
}

coreio::task<int> ping_pong_with_bystander(int rounds) {
  ping_pong_chain chain(rounds);
  std::atomic<int> progress{0};
  int seen = -1;
  auto c = coreio::spawn(bystander(&progress, 10));
  auto b = coreio::spawn(pong(&chain, rounds, &progress, &seen));
  auto a = coreio::spawn(ping(&chain, rounds));
  co_await a;
  co_await b;
  co_await c;
  co_return seen;
}

TEST(SpawnTest, TwoTasksWakingEachOtherDoNotStarveAThirdOnOneWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  // 10 yields of the bystander need a few hundred scheduler ticks at most; the ping-pong lasts
  // many thousands. A LIFO slot without a cap would run A and B alone until they finish.
  const int rounds = sanitized(20'000, 5'000);
  EXPECT_EQ(rt.block_on(ping_pong_with_bystander(rounds)), 10);
}

}  // namespace
