// time_test.cpp — coreio/time.hpp: sleep_for / sleep_until sleep at least as long as asked, a zero
// or past deadline does not suspend, "forever" does not overflow and stays cancellable, many
// sleeps complete, and a cancel racing the timer never hangs, crashes or loses a task.
#include <coreio/time.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::prompt;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::wait_until;
using steady = std::chrono::steady_clock;

coreio::task<steady::duration> timed_sleep_for(steady::duration d) {
  const auto start = steady::now();
  co_await coreio::sleep_for(d);
  co_return steady::now() - start;
}

coreio::task<steady::time_point> timed_sleep_until(steady::time_point deadline) {
  co_await coreio::sleep_until(deadline);
  co_return steady::now();
}

TEST(TimeTest, SleepForSleepsAtLeastTheDuration) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (auto d : {1ms, 5ms, 20ms}) {
    EXPECT_GE(rt.block_on(timed_sleep_for(d)), d);
  }
  // Other duration types are rounded up, never down.
  EXPECT_GE(rt.block_on(timed_sleep_for(std::chrono::microseconds(1500))), 1500us);
}

coreio::task<steady::duration> sleep_fractional_seconds() {
  const auto start = steady::now();
  co_await coreio::sleep_for(std::chrono::duration<double>(0.01));
  co_return steady::now() - start;
}

TEST(TimeTest, SleepForAcceptsFloatingPointDurations) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_GE(rt.block_on(sleep_fractional_seconds()), 10ms);
}

TEST(TimeTest, SleepUntilReturnsNoEarlierThanTheDeadline) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const auto deadline = steady::now() + 15ms;
  EXPECT_GE(rt.block_on(timed_sleep_until(deadline)), deadline);
}

coreio::task<void> set_flag(std::atomic<bool>* f) {
  f->store(true);
  co_return;
}

// On one worker: a task spawned by the caller can run only if the caller suspends. A deadline
// already due is asyncio.sleep(0): the caller goes behind the ready task once.
coreio::task<int> yielding_sleeps() {
  std::atomic<bool> other_ran{false};
  auto h = coreio::spawn(set_flag(&other_ran));
  int suspended = 0;
  co_await coreio::sleep_for(0ms);
  suspended += other_ran.load() ? 1 : 0;
  co_await coreio::sleep_for(-5ms);
  suspended += other_ran.load() ? 1 : 0;
  co_await coreio::sleep_until(steady::now() - 1s);
  suspended += other_ran.load() ? 1 : 0;
  co_await coreio::sleep_until(steady::time_point::min());
  suspended += other_ran.load() ? 1 : 0;
  co_await h;
  co_return suspended;
}

TEST(TimeTest, AZeroNegativeOrPastDeadlineYieldsOnceLikeAsyncioSleepZero) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(yielding_sleeps()), 4);
}

coreio::task<int> sleep_most_negative() {
  co_await coreio::sleep_for(std::chrono::hours::min());
  co_await coreio::sleep_for(std::chrono::nanoseconds::min());
  co_return 1;
}

// The mirror image of sleep_for(hours::max()): converting hours::min() to the clock's nanoseconds
// must saturate, not overflow (an overflowed deadline may lie far in the future: a sleep "forever").
TEST(TimeTest, TheMostNegativeDurationDoesNotOverflowAndReturnsAtOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  auto h = rt.spawn(sleep_most_negative());
  const bool ended = wait_until([&] { return h.done(); }, std::chrono::milliseconds(5000));
  if (!ended) h.cancel();  // do not hang the suite on failure
  EXPECT_TRUE(ended) << "sleep_for(hours::min()) did not return at once";
  if (ended) {
    EXPECT_EQ(h.get(), 1);
  }
}

struct forever_probe {
  std::atomic<bool> started{false};
  std::atomic<bool> cancelled{false};
};

coreio::task<void> sleep_for_max(forever_probe* p) {
  p->started.store(true);
  try {
    co_await coreio::sleep_for(std::chrono::hours::max());
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    throw;
  }
}

coreio::task<void> sleep_until_max(forever_probe* p) {
  p->started.store(true);
  try {
    co_await coreio::sleep_until(steady::time_point::max());
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    throw;
  }
}

coreio::task<void> sleep_for_max_nanoseconds(forever_probe* p) {
  p->started.store(true);
  try {
    co_await coreio::sleep_for(std::chrono::nanoseconds::max());
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    throw;
  }
}

TEST(TimeTest, SleepForTheLargestDurationDoesNotOverflowAndIsCancellable) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (auto make : {&sleep_for_max, &sleep_until_max, &sleep_for_max_nanoseconds}) {
    forever_probe p;
    auto h = rt.spawn(make(&p));
    ASSERT_TRUE(wait_until([&] { return p.started.load(); }));
    // An overflowed deadline would lie in the past and end the sleep at once.
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(h.done()) << "a sleep of the largest duration ended by itself: overflow";
    stopwatch sw;
    h.cancel();
    EXPECT_THROW(h.get(), coreio::cancelled_error);
    EXPECT_LT(sw.elapsed(), prompt);
    EXPECT_TRUE(p.cancelled.load());
  }
}

coreio::task<int> sleep_and_count(std::chrono::microseconds d, std::atomic<int>* done) {
  const auto start = steady::now();
  co_await coreio::sleep_for(d);
  const bool long_enough = steady::now() - start >= d;
  done->fetch_add(1);
  co_return long_enough ? 1 : 0;
}

coreio::task<int> many_sleeps(int n, std::atomic<int>* done) {
  rng r(42);
  std::vector<coreio::join_handle<int>> hs;
  hs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    hs.push_back(coreio::spawn(sleep_and_count(std::chrono::microseconds(r.below(5000)), done)));
  }
  int long_enough = 0;
  for (auto& h : hs) long_enough += co_await h;
  co_return long_enough;
}

TEST(TimeTest, TenThousandConcurrentSleepsAllComplete) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  constexpr int n = 10'000;
  std::atomic<int> done{0};
  EXPECT_EQ(rt.block_on(many_sleeps(n, &done)), n) << "every sleep lasted at least its duration";
  EXPECT_EQ(done.load(), n);
}

coreio::task<void> cancel_other(coreio::join_handle<void>* h) {
  // One worker: the sleeper set `started` just before its sleep and is not preempted, so it is
  // suspended in the sleep by the time this task runs.
  h->cancel();  // on the same worker as the sleeper: the in-thread cancel path
  co_return;
}

TEST(TimeTest, CancelFromATaskOnTheSameWorkerEndsTheSleep) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  forever_probe p;
  auto h = rt.spawn(sleep_for_max(&p));
  ASSERT_TRUE(wait_until([&] { return p.started.load(); }));
  stopwatch sw;
  rt.block_on(cancel_other(&h));
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(p.cancelled.load());
}

coreio::task<int> sleep_briefly(std::chrono::microseconds d, std::atomic<int>* started) {
  started->fetch_add(1);
  co_await coreio::sleep_for(d);
  co_return 1;
}

// Races a cancel from a plain thread against the timer firing on the worker: sleep 0-2 ms, cancel
// after a random 0-2 ms. Either outcome is fine; a hang, a crash or a lost task is not.
TEST(TimeTest, CancelFromAPlainThreadRacesTheTimerWithoutHangsOrLostTasks) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  constexpr int races = 2000;
  constexpr int per_round = 8;  // concurrent races per round, so 2000 races stay quick
  rng r(7);
  int completed = 0, cancelled = 0;
  std::atomic<int> started{0};
  for (int round = 0; round < races / per_round; ++round) {
    std::vector<coreio::join_handle<int>> hs;
    std::vector<std::chrono::microseconds> cancel_at;
    for (int i = 0; i < per_round; ++i) {
      hs.push_back(rt->spawn(sleep_briefly(std::chrono::microseconds(r.below(2001)), &started)));
      cancel_at.push_back(std::chrono::microseconds(r.below(2001)));
    }
    std::vector<int> order(per_round);
    for (int i = 0; i < per_round; ++i) order[static_cast<std::size_t>(i)] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      return cancel_at[static_cast<std::size_t>(a)] < cancel_at[static_cast<std::size_t>(b)];
    });
    const auto t0 = steady::now();
    for (int i : order) {
      coreio_test::spin_for(t0 + cancel_at[static_cast<std::size_t>(i)] - steady::now());
      hs[static_cast<std::size_t>(i)].cancel();
    }
    for (auto& h : hs) {
      if (!coreio_test::ends_within(h)) {
        (void)rt.release();  // a lost task: destroying the runtime would wait for it forever
        FAIL() << "round " << round << ": a sleeping task never ended (lost wake-up)";
      }
      try {
        completed += h.get();
      } catch (const coreio::cancelled_error&) {
        ++cancelled;
      }
    }
  }
  EXPECT_EQ(completed + cancelled, races);
  RecordProperty("completed", completed);
  RecordProperty("cancelled", cancelled);
}

coreio::task<int> sleep_then_migrate_then_sleep(int rounds) {
  int ok = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto start = steady::now();
    co_await coreio::sleep_for(std::chrono::microseconds(100 + (i % 5) * 100));
    co_await coreio::
        yield_now();  // may resume on another worker; the next sleep uses that one's heap
    if (steady::now() - start >= std::chrono::microseconds(100 + (i % 5) * 100)) ++ok;
  }
  co_return ok;
}

TEST(TimeTest, SleepsWorkAfterATaskMovesBetweenWorkers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < 16; ++i) hs.push_back(rt.spawn(sleep_then_migrate_then_sleep(20)));
  for (auto& h : hs) EXPECT_EQ(h.get(), 20);
}

// ---- a cancel posted to a worker whose timer comes due first ---------------------------------------

struct late_cancel {
  std::atomic<bool> sleeping{false};
  std::atomic<bool> returned_normally{false};
  std::atomic<bool> holding{false};
  coreio_test::gate release;
  std::optional<coreio::join_handle<void>> holder;  // set by the sleeper before `sleeping`
};

coreio::task<void> hold_the_worker(late_cancel* c) {
  c->holding.store(true);
  c->release.wait();  // blocks the only worker: the posted cancel and the due timer pile up
  co_return;
}

coreio::task<void> short_sleeper(late_cancel* c) {
  // Queued behind this task on the only worker, the holder runs as soon as the sleep suspends: the
  // worker takes it before it looks at its timers again (event_interval below), so the sleep's
  // timer cannot fire before the holder holds the worker, however slowly this thread runs.
  c->holder.emplace(coreio::spawn(hold_the_worker(c)));
  c->sleeping.store(true);
  co_await coreio::sleep_for(20ms);
  c->returned_normally.store(true);  // never: it is cancelled before its timer fires
}

TEST(TimeTest, ACancelPostedBeforeTheTimerFiresWinsEvenIfTheTimerIsDueWhenTheWorkerGetsToIt) {
  // One worker, held by a task blocked on a gate. The sleeper's cancel comes from this plain thread
  // meanwhile, so it wins the entry (the timer cannot fire on a held worker) and its removal is
  // posted; then the deadline passes. When the worker is let go, its due timer and the posted
  // removal are both pending; whichever it looks at first, the sleep must throw.
  // The worker checks its timers between polls only when it runs out of tasks (no monitor with one
  // worker, and no periodic check within a few billion polls).
  coreio::runtime rt{coreio::runtime_options{
      .workers = 1, .event_interval = std::numeric_limits<std::uint32_t>::max()}};
  for (int round = 0; round < 3; ++round) {
    late_cancel c;
    auto sleeper = rt.spawn(short_sleeper(&c));
    ASSERT_TRUE(wait_until([&] { return c.sleeping.load(); }));
    const auto deadline = std::chrono::steady_clock::now() + 20ms;  // no earlier than the sleep's
    ASSERT_TRUE(wait_until([&] { return c.holding.load(); }));
    sleeper.cancel();
    std::this_thread::sleep_until(deadline + 2ms);
    c.release.open();
    EXPECT_THROW(sleeper.get(), coreio::cancelled_error) << "round " << round;
    EXPECT_FALSE(c.returned_normally.load()) << "round " << round;
    c.holder->get();
  }
}

}  // namespace
