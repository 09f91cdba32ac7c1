// Focused races between a producer on one thread and a consumer on another: a result handed over
// at the instant it is awaited, a cancel right after a future resumed its waiter, a promise set by a
// plain thread while the runtime is being destroyed. Each loops the race many times and checks that
// the result is exact and nothing is left behind; under ThreadSanitizer each is also a data-race
// detector for its protocol (completion_cell, future's awaiter, runtime shutdown).
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "stress_support.hpp"

namespace {

using namespace std::chrono_literals;

coreio::task<std::string> make_string(std::uint64_t i) {
  // A heap-allocated result: a read that is not ordered after the write sees a torn string.
  co_return std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i);
}

TEST(RaceStress, GetRacingTaskCompletionSeesTheWholeResult) {
  // join_handle::get() called while the task is completing: every result must be complete.
  const std::uint64_t n = 100'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::vector<std::thread> ts;
  std::atomic<std::uint64_t> wrong{0};
  for (std::uint64_t t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      for (std::uint64_t i = t; i < n; i += 2) {
        std::string s = rt.spawn(make_string(i)).get();
        if (s != std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i))
          wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(wrong.load(), 0u);
}

TEST(RaceStress, AwaitRacingTaskCompletionSeesTheWholeResult) {
  // co_await on a join handle while the task is completing on the other worker.
  const std::uint64_t n = 200'000;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto root = [](std::uint64_t count) -> coreio::task<std::uint64_t> {
    std::uint64_t wrong = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      auto h = coreio::spawn(make_string(i));
      if (i % 2 == 0) co_await coreio::yield_now();  // sometimes let it finish first
      std::string s = co_await h;
      if (s != std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i)) ++wrong;
    }
    co_return wrong;
  };
  EXPECT_EQ(rt.block_on(root(n)), 0u);
}

TEST(RaceStress, CancelRightAfterAFutureResumedInterruptsTheNextSleep) {
  // A task awaits a future that a plain thread sets at about the same moment, then goes to sleep;
  // the sleep must be the suspension point that a cancel interrupts. (If the future's awaiter is
  // still being armed by the suspending thread after the producer resumed the task elsewhere, the
  // cancel finds a stale node instead and the 5 s sleep runs to its end.)
  const std::size_t rounds = 20'000;
  std::vector<coreio::promise<int>> ps(rounds);
  std::vector<coreio::future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  std::atomic<std::size_t> published{0};
  std::atomic<bool> past_future{false};

  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::thread setter([&] {
    for (std::size_t i = 0; i < rounds; ++i) {
      while (published.load(std::memory_order_acquire) <= i) std::this_thread::yield();
      ps[i].set_value(static_cast<int>(i));
    }
  });

  auto waiter = [&past_future](coreio::future<int> f, int expect) -> coreio::task<int> {
    const int v = co_await f;
    if (v != expect) co_return -1;
    past_future.store(true, std::memory_order_release);
    try {
      co_await coreio::sleep_for(5s);
    } catch (const coreio::cancelled_error&) {
      co_return 1;  // interrupted, as it must be
    }
    co_return 2;  // slept to the end: the cancel went elsewhere
  };

  std::size_t interrupted = 0, missed = 0, other = 0;
  for (std::size_t i = 0; i < rounds; ++i) {
    past_future.store(false, std::memory_order_relaxed);
    auto h = rt.spawn(waiter(std::move(fs[i]), static_cast<int>(i)));
    published.store(i + 1, std::memory_order_release);
    while (!past_future.load(std::memory_order_acquire) && !h.done()) std::this_thread::yield();
    h.cancel();
    int r = 0;
    try {
      r = h.get();
    } catch (const coreio::cancelled_error&) {
      r = 1;  // cancelled before the try block: also fine
    }
    if (r == 1) ++interrupted;
    else if (r == 2) ++missed;
    else ++other;
    if (missed + other > 0) {  // one is enough to show it; do not wait 5 s per round
      published.store(rounds, std::memory_order_release);  // let the setter finish
      break;
    }
  }
  setter.join();
  EXPECT_EQ(missed, 0u) << "a cancel after a future resumed its waiter did not interrupt the sleep";
  EXPECT_EQ(other, 0u);
  if (missed + other == 0) {
    EXPECT_EQ(interrupted, rounds);
  }
}

TEST(RaceStress, PlainThreadSetValueWhileTheRuntimeIsDestroyed) {
  // A plain thread fulfils the promise a task waits on; the main thread takes the result and
  // destroys the runtime at once. set_value must not touch the runtime after the task it woke can
  // have ended (the task's end lets ~runtime free the scheduler).
  const int iterations = 2'000;
  for (int it = 0; it < iterations; ++it) {
    coreio::promise<int> p;
    coreio::future<int> f = p.get_future();
    std::atomic<bool> waiting{false};
    std::thread setter;
    {
      auto rt = std::make_unique<coreio::runtime>(
          coreio::runtime_options{.workers = static_cast<std::size_t>(1 + it % 2)});
      auto h = rt->spawn([](coreio::future<int> fut, std::atomic<bool>& w) -> coreio::task<int> {
        w.store(true, std::memory_order_release);
        co_return co_await fut;
      }(std::move(f), waiting));
      while (!waiting.load(std::memory_order_acquire)) std::this_thread::yield();
      setter = std::thread([&p] { p.set_value(42); });
      EXPECT_EQ(h.get(), 42) << "iteration " << it;
      rt.reset();  // may run while `setter` is still inside set_value
    }
    setter.join();
  }
}

}  // namespace
