// composability_test.cpp — every awaitable the library returns can be handed by value to every
// combinator and entry point (wait_for, wait_until, shield, uncancellable, when_any, gather,
// gather_settled, runtime::block_on, coreio::run, runtime::spawn, coreio::spawn) and behaves as if
// awaited directly; a timeout withdraws the waiter and loses nothing. Awaitables are movable until
// first awaited (static_asserts below); tests/compile_fail keeps the lvalue cases that must not
// compile.
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <type_traits>
#include <utility>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;

// ---- movable until first awaited ------------------------------------------------------------

template <class A>
constexpr bool movable = std::is_move_constructible_v<std::remove_cvref_t<A>>;

coreio::task<int> one() { co_return 1; }

static_assert(movable<decltype(std::declval<coreio::queue<int>&>().get())>);
static_assert(movable<decltype(std::declval<coreio::queue<int>&>().put(1))>);
static_assert(movable<decltype(std::declval<coreio::event&>().wait())>);
static_assert(movable<decltype(std::declval<coreio::mutex&>().lock())>);
static_assert(movable<decltype(std::declval<coreio::semaphore&>().acquire())>);
static_assert(movable<decltype(std::declval<coreio::latch&>().wait())>);
static_assert(movable<decltype(std::declval<coreio::barrier&>().arrive_and_wait())>);
static_assert(movable<decltype(coreio::sleep_for(1ms))>);
static_assert(movable<decltype(coreio::yield_now())>);
static_assert(movable<decltype(coreio::gather(one(), one()))>);
static_assert(movable<decltype(coreio::when_any(one(), one()))>);
static_assert(movable<decltype(coreio::gather_settled(one(), one()))>);
static_assert(movable<decltype(coreio::wait_for(one(), 1s))>);
static_assert(movable<decltype(coreio::uncancellable(one()))>);

// ---- wait_for around each awaitable: in time, and timing out without losing anything ----------

coreio::task<int> queue_get_in_time_and_timed_out(coreio::queue<int>* q) {
  q->try_put(7);
  int got = co_await coreio::wait_for(q->get(), 1h);
  bool timed_out = false;
  try {
    (void)co_await coreio::wait_for(q->get(), 10ms);
  } catch (const coreio::timeout_error&) {
    timed_out = true;
  }
  // The timed-out getter was withdrawn: the next item goes to the next get, not to a ghost.
  q->try_put(8);
  int next = co_await coreio::wait_for(q->get(), 1h);
  co_return timed_out ? got * 10 + next : -1;
}

TEST(ComposabilityTest, WaitForAroundAQueueGetReturnsTheItemOrTimesOutLosingNothing) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> q{4};
  EXPECT_EQ(rt.block_on(queue_get_in_time_and_timed_out(&q)), 78);
  EXPECT_EQ(q.size(), 0u);
}

coreio::task<bool> queue_put_timed_out(coreio::queue<int>* q) {
  q->try_put(1);  // capacity 1: full
  bool timed_out = false;
  try {
    co_await coreio::wait_for(q->put(2), 10ms);
  } catch (const coreio::timeout_error&) {
    timed_out = true;
  }
  // The withdrawn put left nothing behind: exactly the first item is there.
  auto a = q->try_get();
  auto b = q->try_get();
  co_return timed_out&& a == 1 && !b.has_value();
}

TEST(ComposabilityTest, WaitForAroundAQueuePutTimesOutWithoutPuttingTheItem) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::queue<int> q{1};
  EXPECT_TRUE(rt.block_on(queue_put_timed_out(&q)));
}

coreio::task<int> primitives_under_wait_for() {
  int ok = 0;
  coreio::event ev;
  try {
    co_await coreio::wait_for(ev.wait(), 5ms);
  } catch (const coreio::timeout_error&) {
    ++ok;
  }
  ev.set();
  co_await coreio::wait_for(ev.wait(), 1h);
  ++ok;

  coreio::mutex m;
  {
    auto g = co_await coreio::wait_for(m.lock(), 1h);
    ++ok;
    try {
      auto g2 = co_await coreio::wait_for(m.lock(), 5ms);
    } catch (const coreio::timeout_error&) {
      ++ok;
    }
  }
  {
    auto g = co_await coreio::wait_for(m.lock(), 1h);  // the timed-out waiter did not keep it
    ++ok;
  }

  coreio::semaphore s{1};
  {
    auto p = co_await coreio::wait_for(s.acquire(), 1h);
    try {
      auto p2 = co_await coreio::wait_for(s.acquire(), 5ms);
    } catch (const coreio::timeout_error&) {
      ++ok;
    }
  }
  if (s.available() == 1) ++ok;  // no permit leaked by the timeout

  coreio::latch l{1};
  try {
    co_await coreio::wait_for(l.wait(), 5ms);
  } catch (const coreio::timeout_error&) {
    ++ok;
  }
  l.count_down();
  co_await coreio::wait_for(l.wait(), 1h);
  ++ok;

  try {
    co_await coreio::wait_for(coreio::sleep_for(1h), 5ms);
  } catch (const coreio::timeout_error&) {
    ++ok;
  }
  co_await coreio::wait_for(coreio::yield_now(), 1h);
  ++ok;

  coreio::promise<int> pr;
  auto fut = pr.get_future();
  try {
    (void)co_await coreio::wait_for(fut, 5ms);
  } catch (const coreio::timeout_error&) {
    ++ok;
  }
  pr.set_value(5);
  if (co_await coreio::wait_for(fut, 1h) == 5) ++ok;  // the value waited for the next awaiter

  auto h = coreio::spawn(one());
  if (co_await coreio::wait_until(h, std::chrono::steady_clock::now() + 1h) == 1) ++ok;

  auto [a, b] = co_await coreio::wait_for(coreio::gather(one(), one()), 1h);
  ok += a + b;
  auto any = co_await coreio::wait_for(coreio::when_any(one(), coreio::sleep_for(1h)), 1h);
  if (any.index == 0) ++ok;
  co_return ok;
}

TEST(ComposabilityTest, EveryPrimitiveAwaitableComposesWithWaitFor) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(primitives_under_wait_for()), 17);
}

// ---- gather / when_any / shield / uncancellable of awaitables ---------------------------------

coreio::task<int> combinators_of_awaitables() {
  coreio::queue<int> q{4};
  q.try_put(3);
  coreio::promise<int> p;
  auto f = p.get_future();
  p.set_value(4);
  auto [a, b, c] = co_await coreio::gather(q.get(), std::move(f), one());
  coreio::event ev;
  ev.set();
  auto [x, y] = co_await coreio::gather(ev.wait(), coreio::yield_now());
  (void)x;
  (void)y;
  q.try_put(9);
  auto w = co_await coreio::when_any(q.get(), coreio::sleep_for(1h));
  const int from_any = w.index == 0 ? std::get<0>(w.value) : -100;
  q.try_put(11);
  const int shielded = co_await coreio::shield(q.get());
  q.try_put(13);
  const int unc = co_await coreio::uncancellable(q.get());
  auto settled = co_await coreio::gather_settled(coreio::sleep_for(0ms), one());
  const int s = std::get<1>(settled).value();
  co_return a + b + c + from_any + shielded + unc + s;
}

TEST(ComposabilityTest, GatherWhenAnyShieldAndUncancellableTakeAwaitables) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(combinators_of_awaitables()), 3 + 4 + 1 + 9 + 11 + 13 + 1);
}

// ---- entry points ---------------------------------------------------------------------------

coreio::task<int> slow_one() {
  co_await coreio::sleep_for(1h);
  co_return 1;
}

TEST(ComposabilityTest, BlockOnAndRunTakeCombinatorsLikeAsyncioRun) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto any = rt.block_on(coreio::when_any(one(), slow_one()));
  EXPECT_EQ(any.index, 0u);
  EXPECT_EQ(any.value, 1);
  EXPECT_EQ(rt.block_on(coreio::wait_for(one(), 1h)), 1);
  EXPECT_THROW(rt.block_on(coreio::wait_for(slow_one(), 10ms)), coreio::timeout_error);
  auto [a, b] = rt.block_on(coreio::gather(one(), one()));
  EXPECT_EQ(a + b, 2);
  EXPECT_EQ(coreio::run(coreio::wait_for(one(), 1h), coreio::runtime_options{.workers = 1}), 1);
  coreio::queue<int> q{1};
  q.try_put(5);
  EXPECT_EQ(rt.block_on(q.get()), 5);
}

coreio::task<int> spawn_an_awaitable(coreio::queue<int>* q) {
  auto h = coreio::spawn(q->get());  // the spawned task owns the getter
  q->try_put(21);
  co_return co_await h;
}

TEST(ComposabilityTest, SpawnTakesAnAwaitableByValue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::queue<int> q{1};
  EXPECT_EQ(rt.block_on(spawn_an_awaitable(&q)), 21);
  auto h = rt.spawn(coreio::wait_for(one(), 1h));
  EXPECT_EQ(h.get(), 1);
}

}  // namespace
