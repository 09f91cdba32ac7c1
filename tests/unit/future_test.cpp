// future_test.cpp — coreio/future.hpp: promise<T> / future<T> across threads: values, void and
// references; exceptions; broken promises; single use; get() only off the workers; a cancelled
// awaiter stops waiting at once; set_value racing the await and the cancel. shared_future<T>:
// copyable; many tasks and plain threads get the same object; a cancelled awaiter disturbs no
// other; a broken promise or an exception reaches every waiter; share() of an empty or consumed
// future; a single-flight cache in which N tasks ask for one key and one computes it; set_value
// racing many awaits and cancels.
#include <coreio/future.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/mutex.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::count_suspension;
using coreio_test::prompt;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;

static_assert(!std::is_copy_constructible_v<coreio::promise<int>>);
static_assert(!std::is_copy_constructible_v<coreio::future<int>>);
static_assert(std::is_nothrow_move_constructible_v<coreio::promise<int>>);
static_assert(std::is_nothrow_move_constructible_v<coreio::future<int>>);
static_assert(std::is_copy_constructible_v<coreio::shared_future<int>>);
static_assert(std::is_copy_assignable_v<coreio::shared_future<int>>);
static_assert(std::is_nothrow_move_constructible_v<coreio::shared_future<int>>);
static_assert(std::is_same_v<coreio::shared_future<int>::result_type, const int&>);
static_assert(std::is_same_v<coreio::shared_future<int&>::result_type, int&>);
static_assert(std::is_same_v<coreio::shared_future<void>::result_type, void>);
static_assert(std::is_convertible_v<coreio::future<int>&&, coreio::shared_future<int>>,
              "as std::shared_future(std::future&&)");

template <class T>
coreio::task<T> await_future(coreio::future<T> f, std::atomic<bool>* waiting) {
  waiting->store(true);
  co_return co_await f;
}

struct payload {
  int a = 0;
  std::string b;
};

/// Sets *waiting once suspended on f.
coreio::task<bool> await_payload(coreio::future<payload*> f, std::atomic<bool>* waiting) {
  payload* p = co_await count_suspension(f, waiting);
  // Written by the producer before set_value, read here without other synchronisation: the
  // future's happens-before edge (checked by ThreadSanitizer).
  co_return p->a == 5 && p->b == "five";
}

TEST(FutureTest, SetValueFromAPlainThreadWakesTheAwaitingTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<payload*> p;
  std::atomic<bool> waiting{false};
  auto h = rt.spawn(await_payload(p.get_future(), &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load(); }));  // suspended on the future
  payload data;
  std::thread producer([&] {
    data.a = 5;
    data.b = "five";
    p.set_value(&data);
  });
  EXPECT_TRUE(h.get());
  producer.join();
}

/// Sets the value once the consumer is suspended on the future (*waiting).
coreio::task<void> set_from_task(coreio::promise<int>* p, int v, const std::atomic<bool>* waiting) {
  co_await coreio_test::yield_until(waiting);
  p->set_value(v);
}

/// Sets *waiting once suspended on f.
coreio::task<int> await_int(coreio::future<int> f, std::atomic<bool>* waiting) {
  co_return co_await count_suspension(f, waiting);
}

coreio::task<int> producer_and_consumer_on_workers() {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  std::atomic<bool> waiting{false};
  auto h = coreio::spawn(set_from_task(&p, 31, &waiting));
  const int v = co_await count_suspension(f, &waiting);
  co_await h;
  co_return v;
}

TEST(FutureTest, SetValueFromAnotherWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(rt.block_on(producer_and_consumer_on_workers()), 31);
}

TEST(FutureTest, SetValueFromATaskOnAnotherRuntime) {
  coreio::runtime consumer{coreio::runtime_options{.workers = 1}};
  coreio::runtime producer{coreio::runtime_options{.workers = 1}};
  coreio::promise<int> p;
  std::atomic<bool> waiting{false};
  auto h = consumer.spawn(await_int(p.get_future(), &waiting));
  producer.block_on(set_from_task(&p, 17, &waiting));
  EXPECT_EQ(h.get(), 17);
}

coreio::task<int> await_and_catch(coreio::future<int> f) {
  try {
    co_return co_await f;
  } catch (const test_error& e) {
    co_return -e.value;
  }
}

TEST(FutureTest, SetExceptionIsRethrownByTheAwaiter) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> p;
  auto h = rt.spawn(await_and_catch(p.get_future()));
  std::thread([&] { p.set_exception(std::make_exception_ptr(test_error(3))); }).join();
  EXPECT_EQ(h.get(), -3);
}

TEST(FutureTest, GetOnAPlainThreadBlocksForTheValue) {
  coreio::promise<std::string> p;
  coreio::future<std::string> f = p.get_future();
  EXPECT_TRUE(f.valid());
  EXPECT_FALSE(f.ready());
  std::thread producer([&] {
    std::this_thread::sleep_for(5ms);
    p.set_value("later");
  });
  EXPECT_EQ(f.get(), "later");
  producer.join();
}

TEST(FutureTest, GetOnAPlainThreadRethrowsTheException) {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  p.set_exception(std::make_exception_ptr(test_error(8)));
  EXPECT_TRUE(f.ready());
  try {
    (void)f.get();
    FAIL() << "expected test_error";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 8);
  }
}

TEST(FutureTest, GetAndSetWorkWithoutAnyRuntime) {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  p.set_value(4);
  EXPECT_EQ(f.get(), 4);
}

coreio::task<std::string> get_on_a_worker(coreio::future<int> f) {
  try {
    (void)f.get();
  } catch (const coreio::usage_error& e) {
    co_return e.what();
  }
  co_return "no error";
}

TEST(FutureTest, GetOnAWorkerThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::promise<int> p;
  auto h = rt.spawn(get_on_a_worker(p.get_future()));
  std::string what;
  const bool ended = wait_until([&] { return h.done(); }, 5000ms);
  if (!ended)
    p.set_value(0);  // unblock a worker stuck in get() so the test fails instead of hanging
  what = h.get();
  EXPECT_TRUE(ended);
  EXPECT_NE(what, "no error");
}

TEST(FutureTest, APromiseDestroyedWithoutAValueBreaksTheFuture) {
  coreio::future<int> f;
  {
    coreio::promise<int> p;
    f = p.get_future();
  }
  EXPECT_TRUE(f.ready());
  EXPECT_THROW((void)f.get(), coreio::broken_promise);
}

/// Sets *waiting once suspended on f.
coreio::task<bool> await_broken(coreio::future<int> f, std::atomic<bool>* waiting) {
  try {
    (void)co_await count_suspension(f, waiting);
  } catch (const coreio::broken_promise&) {
    co_return true;
  }
  co_return false;
}

TEST(FutureTest, AnAwaiterOfABrokenPromiseGetsBrokenPromise) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto p = std::make_unique<coreio::promise<int>>();
  std::atomic<bool> waiting{false};
  auto h = rt.spawn(await_broken(p->get_future(), &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load(); }));
  std::thread([&] { p.reset(); }).join();
  EXPECT_TRUE(h.get());
}

TEST(FutureTest, SetValueTwiceThrowsUsageError) {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  p.set_value(1);
  EXPECT_THROW(p.set_value(2), coreio::usage_error);
  EXPECT_THROW(p.set_exception(std::make_exception_ptr(test_error())), coreio::usage_error);
  EXPECT_EQ(f.get(), 1) << "the first value stands";
}

TEST(FutureTest, SetExceptionThenSetValueThrowsUsageError) {
  coreio::promise<void> p;
  coreio::future<void> f = p.get_future();
  p.set_exception(std::make_exception_ptr(test_error(2)));
  EXPECT_THROW(p.set_value(), coreio::usage_error);
  EXPECT_THROW(f.get(), test_error);
}

TEST(FutureTest, GetFutureTwiceThrowsUsageError) {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  EXPECT_THROW((void)p.get_future(), coreio::usage_error);
  p.set_value(3);
  EXPECT_EQ(f.get(), 3);
}

TEST(FutureTest, RetrievingTheValueTwiceThrowsUsageError) {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  p.set_value(3);
  EXPECT_EQ(f.get(), 3);
  EXPECT_THROW((void)f.get(), coreio::usage_error);
}

coreio::task<bool> await_twice(coreio::future<int> f) {
  const int v = co_await f;
  try {
    (void)co_await f;
  } catch (const coreio::usage_error&) {
    co_return v == 6;
  }
  co_return false;
}

TEST(FutureTest, AwaitingTheValueTwiceThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::promise<int> p;
  p.set_value(6);
  EXPECT_TRUE(rt.block_on(await_twice(p.get_future())));
}

TEST(FutureTest, AnEmptyFutureThrowsUsageError) {
  coreio::future<int> f;
  EXPECT_FALSE(f.valid());
  EXPECT_FALSE(f.ready());
  EXPECT_THROW((void)f.get(), coreio::usage_error);
  coreio::promise<int> p;
  coreio::future<int> g = p.get_future();
  coreio::future<int> moved = std::move(g);
  EXPECT_FALSE(g.valid());
  EXPECT_THROW((void)g.get(), coreio::usage_error);
  p.set_value(1);
  EXPECT_EQ(moved.get(), 1);
}

TEST(FutureTest, AMovedFromPromiseThrowsUsageError) {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  coreio::promise<int> q = std::move(p);
  EXPECT_THROW(p.set_value(1), coreio::usage_error);
  EXPECT_THROW((void)p.get_future(), coreio::usage_error);
  q.set_value(2);
  EXPECT_EQ(f.get(), 2);
}

TEST(FutureTest, MoveAssigningOverAPromiseBreaksItsFuture) {
  coreio::promise<int> a, b;
  coreio::future<int> fa = a.get_future();
  coreio::future<int> fb = b.get_future();
  a = std::move(b);  // the old state of `a` is abandoned
  EXPECT_THROW((void)fa.get(), coreio::broken_promise);
  a.set_value(5);
  EXPECT_EQ(fb.get(), 5);
}

// Run under AddressSanitizer (LeakSanitizer): every shared state here must be freed.
TEST(FutureTest, PromisesAndFuturesDoNotLeakHoweverTheyEnd) {
  {
    coreio::promise<int> never_taken;
  }
  {
    coreio::promise<int> set_never_taken;
    set_never_taken.set_value(1);
  }
  {
    coreio::promise<std::string> p;
    auto f = p.get_future();
    p.set_value("value nobody reads");
  }
  {
    coreio::future<int> outlives;
    {
      coreio::promise<int> p;
      outlives = p.get_future();
    }
  }
  {
    coreio::promise<int> p;
    {
      auto f = p.get_future();
    }  // future first
    p.set_exception(std::make_exception_ptr(test_error(1)));
  }
  SUCCEED();
}

// ---- cancellation -----------------------------------------------------------------------------

struct waiter_probe {
  std::atomic<bool> waiting{false};
  std::atomic<bool> cancelled{false};
};

/// Sets p->waiting once suspended on f.
coreio::task<int> await_until_cancelled(coreio::future<int> f, waiter_probe* p) {
  try {
    co_return co_await count_suspension(f, &p->waiting);
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    throw;
  }
}

TEST(FutureTest, CancellingTheAwaiterThrowsPromptlyAndThePromiseCanStillBeSet) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> p;
  waiter_probe probe;
  auto h = rt.spawn(await_until_cancelled(p.get_future(), &probe));
  ASSERT_TRUE(wait_until([&] { return probe.waiting.load(); }));  // suspended on the future
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(probe.cancelled.load());
  p.set_value(1);  // nobody waits; must not crash or resume anything
  h = {};          // frees the task (and its future) after the set
}

TEST(FutureTest, ThePromiseMayBeDestroyedAfterTheAwaiterWasCancelled) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto p = std::make_unique<coreio::promise<int>>();
  waiter_probe probe;
  auto h = rt.spawn(await_until_cancelled(p->get_future(), &probe));
  ASSERT_TRUE(wait_until([&] { return probe.waiting.load(); }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  h = {};
  p.reset();  // the promise is the last owner of the state
}

// set_value from a plain thread races cancel() from another plain thread. Exactly one wins: the
// task returns the value or throws cancelled_error, and always ends.
TEST(FutureTest, SetValueRacesCancelWithoutHangsOrCrashes) {
  // Every round's probe outlives the runtime: the suspension probe stores to it after the awaiter
  // has suspended, which may be after the task has already been resumed, ended and been seen done
  // (tests/support/suspension_probe.hpp), so a probe reused next round would race that store.
  std::deque<waiter_probe> probes;
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = 2000;
  rng r(11);
  int got_value = 0, got_cancel = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::promise<int> p;
    waiter_probe& probe = probes.emplace_back();
    auto h = rt->spawn(await_until_cancelled(p.get_future(), &probe));
    const auto set_delay = std::chrono::microseconds(r.below(50));
    const auto cancel_delay = std::chrono::microseconds(r.below(50));
    std::thread setter([&] {
      coreio_test::spin_for(set_delay);
      p.set_value(i);
    });
    coreio_test::spin_for(cancel_delay);
    h.cancel();
    setter.join();
    if (!coreio_test::ends_within(h)) {
      (void)rt.release();  // a lost task: destroying the runtime would wait for it forever
      FAIL() << "round " << i << ": the task never ended (lost wake-up)";
    }
    try {
      EXPECT_EQ(h.get(), i);
      ++got_value;
    } catch (const coreio::cancelled_error&) {
      ++got_cancel;
    }
  }
  EXPECT_EQ(got_value + got_cancel, rounds);
  RecordProperty("got_value", got_value);
  RecordProperty("got_cancel", got_cancel);
}

// set_value from a plain thread races the awaiter registering itself: the producer may complete
// the future while the consumer is still inside await_suspend, and another worker may resume the
// task, run it to its end and free its frame at once. Nothing of the awaiter (which lives in that
// frame) may be touched once the waiter is published (ThreadSanitizer checks it here).
TEST(FutureTest, SetValueRacesTheAwaitOnAnotherWorker) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 1000);
  rng r(5);
  long sum = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::promise<int> p;
    std::atomic<bool> waiting{false};
    auto h = rt->spawn(await_future(p.get_future(), &waiting));
    const auto delay = std::chrono::microseconds(r.below(30));
    while (!waiting.load()) {
    }
    coreio_test::spin_for(delay);
    p.set_value(i);
    if (!coreio_test::ends_within(h)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the task never ended (lost wake-up)";
    }
    sum += h.get();
  }
  EXPECT_EQ(sum, static_cast<long>(rounds) * (rounds - 1) / 2);
}

// ---- value categories -------------------------------------------------------------------------

coreio::task<int> await_void_then(coreio::future<void> f) {
  co_await f;
  co_return 1;
}

TEST(FutureTest, VoidPromiseSignalsCompletion) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<void> p;
  auto h = rt.spawn(await_void_then(p.get_future()));
  std::thread([&] { p.set_value(); }).join();
  EXPECT_EQ(h.get(), 1);
}

coreio::task<bool> await_reference(coreio::future<int&> f, int* expected) {
  int& r = co_await f;
  r += 1;
  co_return &r == expected;
}

TEST(FutureTest, ReferencePromiseHandsOverTheSameObject) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  int x = 41;
  coreio::promise<int&> p;
  auto h = rt.spawn(await_reference(p.get_future(), &x));
  std::thread([&] { p.set_value(x); }).join();
  EXPECT_TRUE(h.get());
  EXPECT_EQ(x, 42);

  coreio::promise<int&> q;
  auto f = q.get_future();
  q.set_value(x);
  EXPECT_EQ(&f.get(), &x);
}

TEST(FutureTest, MoveOnlyValuesAreMovedOut) {
  coreio::promise<std::unique_ptr<int>> p;
  auto f = p.get_future();
  p.set_value(std::make_unique<int>(12));
  std::unique_ptr<int> v = f.get();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 12);
}

TEST(FutureTest, SetValueConstructsInPlace) {
  coreio::promise<std::string> p;
  auto f = p.get_future();
  p.set_value(3, 'x');
  EXPECT_EQ(f.get(), "xxx");
}

coreio::task<int> await_ready_future(coreio::future<int> f) {
  // Already satisfied: no suspension, and a task spawned just before cannot have run on 1 worker.
  std::atomic<bool> other_ran{false};
  auto h = coreio::spawn([](std::atomic<bool>* flag) -> coreio::task<void> {
    flag->store(true);
    co_return;
  }(&other_ran));
  const int v = co_await f;
  const bool suspended = other_ran.load();
  co_await h;
  co_return suspended ? -1 : v;
}

TEST(FutureTest, AwaitingAReadyFutureDoesNotSuspend) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::promise<int> p;
  auto f = p.get_future();
  p.set_value(9);
  EXPECT_EQ(rt.block_on(await_ready_future(std::move(f))), 9);
}

// ---- shared_future ------------------------------------------------------------------------------

/// Awaits its own copy of sf; returns the value and where it lives (all awaiters share one object).
struct seen {
  int value = -1;
  const int* where = nullptr;
};

coreio::task<seen> await_shared(coreio::shared_future<int> sf, std::atomic<int>* waiting) {
  waiting->fetch_add(1);
  const int& v = co_await sf;
  co_return seen{v, &v};
}

TEST(SharedFutureTest, ManyTasksAwaitOneValueAndAllSeeTheSameObject) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  coreio::promise<int> p;
  coreio::shared_future<int> sf = p.get_future().share();
  std::atomic<int> waiting{0};
  const int n = 16;
  std::vector<coreio::join_handle<seen>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(await_shared(sf, &waiting)));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == n; }));
  EXPECT_FALSE(sf.ready());
  std::thread([&] { p.set_value(77); }).join();
  const int* where = nullptr;
  for (auto& h : hs) {
    const seen s = h.get();
    EXPECT_EQ(s.value, 77);
    if (where == nullptr) where = s.where;
    EXPECT_EQ(s.where, where) << "every awaiter gets a reference to the one value";
  }
  EXPECT_TRUE(sf.ready());
  EXPECT_EQ(&sf.get(), where);
  EXPECT_EQ(sf.get(), 77) << "get() may be called again, from any thread";
}

TEST(SharedFutureTest, PlainThreadsBlockInGetAndAllWake) {
  coreio::promise<std::string> p;
  coreio::shared_future<std::string> sf = p.get_future().share();
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([sf, &ok] {  // each thread its own copy
      if (sf.get() == "done") ok.fetch_add(1);
    });
  }
  p.set_value("done");
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 4);
}

/// 1 with the value, 0 if cancelled.
coreio::task<int> await_shared_or_cancel(coreio::shared_future<int> sf, std::atomic<int>* waiting) {
  waiting->fetch_add(1);
  try {
    const int& v = co_await sf;
    co_return v == 5 ? 1 : -1;
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
}

TEST(SharedFutureTest, CancellingOneAwaiterDisturbsNoOther) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> p;
  auto sf = p.get_future().share();
  std::atomic<int> waiting{0};
  auto a = rt.spawn(await_shared_or_cancel(sf, &waiting));
  auto b = rt.spawn(await_shared_or_cancel(sf, &waiting));
  auto c = rt.spawn(await_shared_or_cancel(sf, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 3; }));
  b.cancel();
  EXPECT_EQ(b.get(), 0);
  p.set_value(5);
  EXPECT_EQ(a.get(), 1);
  EXPECT_EQ(c.get(), 1);
}

/// 1 if the await threw broken_promise, 2 test_error, 0 otherwise.
coreio::task<int> await_shared_error(coreio::shared_future<int> sf, std::atomic<int>* waiting) {
  waiting->fetch_add(1);
  try {
    (void)co_await sf;
  } catch (const coreio::broken_promise&) {
    co_return 1;
  } catch (const test_error&) {
    co_return 2;
  }
  co_return 0;
}

TEST(SharedFutureTest, ABrokenPromiseReachesEveryWaiter) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto p = std::make_unique<coreio::promise<int>>();
  auto sf = p->get_future().share();
  std::atomic<int> waiting{0};
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(rt.spawn(await_shared_error(sf, &waiting)));
  std::atomic<int> thread_saw{0};
  std::thread blocked([sf, &thread_saw] {
    try {
      (void)sf.get();
    } catch (const coreio::broken_promise&) {
      thread_saw.store(1);
    }
  });
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 5; }));
  p.reset();  // dropped without a value
  for (auto& h : hs) EXPECT_EQ(h.get(), 1);
  blocked.join();
  EXPECT_EQ(thread_saw.load(), 1);
  EXPECT_THROW((void)sf.get(), coreio::broken_promise);
}

TEST(SharedFutureTest, AnExceptionReachesEveryWaiter) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> p;
  auto sf = p.get_future().share();
  std::atomic<int> waiting{0};
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(rt.spawn(await_shared_error(sf, &waiting)));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 5; }));
  std::thread([&] { p.set_exception(std::make_exception_ptr(test_error(4))); }).join();
  for (auto& h : hs) EXPECT_EQ(h.get(), 2);
  // A late awaiter finds it ready.
  EXPECT_EQ(rt.block_on(await_shared_error(sf, &waiting)), 2);
}

TEST(SharedFutureTest, SharingMovesTheStateAndRefusesAConsumedFuture) {
  coreio::promise<int> p;
  coreio::future<int> f = p.get_future();
  coreio::shared_future<int> sf = f.share();
  EXPECT_FALSE(f.valid()) << "share() empties the future";
  EXPECT_TRUE(sf.valid());
  coreio::promise<int> via_constructor;
  coreio::future<int> fc = via_constructor.get_future();
  coreio::shared_future<int> converted = std::move(fc);  // std::shared_future(std::future&&)
  EXPECT_FALSE(fc.valid());
  via_constructor.set_value(3);
  EXPECT_EQ(converted.get(), 3);
  // An empty future gives an empty shared_future, which refuses get().
  coreio::future<int> empty;
  coreio::shared_future<int> from_empty = empty.share();
  EXPECT_FALSE(from_empty.valid());
  EXPECT_FALSE(from_empty.ready());
  EXPECT_THROW((void)from_empty.get(), coreio::usage_error);
  coreio::shared_future<int> by_default;
  EXPECT_THROW((void)by_default.get(), coreio::usage_error);
  // A future whose value was already taken cannot be shared.
  coreio::promise<int> q;
  coreio::future<int> g = q.get_future();
  q.set_value(1);
  EXPECT_EQ(g.get(), 1);
  EXPECT_THROW((void)g.share(), coreio::usage_error);
  p.set_value(2);
  EXPECT_EQ(sf.get(), 2);
}

TEST(SharedFutureTest, CopiesAndAssignmentsShareOneStateAndFreeIt) {
  coreio::promise<std::string> p;
  coreio::shared_future<std::string> a = p.get_future().share();
  coreio::shared_future<std::string> b = a;
  coreio::shared_future<std::string> c;
  c = b;
  coreio::shared_future<std::string>& alias = c;
  c = alias;  // self-assignment keeps the state
  coreio::shared_future<std::string> d = std::move(b);
  EXPECT_FALSE(b.valid());
  EXPECT_TRUE(c.valid());
  p.set_value("one");
  EXPECT_EQ(&a.get(), &c.get());
  EXPECT_EQ(&a.get(), &d.get());
  a = coreio::shared_future<std::string>();  // drops one reference
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(d.get(), "one");
  // Run under LeakSanitizer: the state is freed by the last of p, c, d.
}

coreio::task<int> await_void_shared(coreio::shared_future<void> sf) {
  co_await sf;
  co_return 1;
}

coreio::task<bool> await_ref_shared(coreio::shared_future<int&> sf, int* expected) {
  int& r = co_await sf;
  co_return &r == expected;
}

TEST(SharedFutureTest, VoidAndReferenceValues) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<void> pv;
  auto sv = pv.get_future().share();
  auto h1 = rt.spawn(await_void_shared(sv));
  auto h2 = rt.spawn(await_void_shared(sv));
  std::thread([&] { pv.set_value(); }).join();
  EXPECT_EQ(h1.get() + h2.get(), 2);
  sv.get();

  int x = 3;
  coreio::promise<int&> pr;
  auto sr = pr.get_future().share();
  auto h3 = rt.spawn(await_ref_shared(sr, &x));
  pr.set_value(x);
  EXPECT_TRUE(h3.get());
  EXPECT_EQ(&sr.get(), &x);
}

coreio::task<std::string> get_shared_on_a_worker(coreio::shared_future<int> sf) {
  try {
    (void)sf.get();
  } catch (const coreio::usage_error& e) {
    co_return e.what();
  }
  co_return "no error";
}

TEST(SharedFutureTest, GetOnAWorkerThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::promise<int> p;
  p.set_value(1);  // even a ready one: get() is for plain threads
  EXPECT_NE(rt.block_on(get_shared_on_a_worker(p.get_future().share())), "no error");
}

coreio::task<bool> await_empty_shared() {
  coreio::shared_future<int> empty;
  try {
    (void)co_await empty;
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST(SharedFutureTest, AwaitingAnEmptySharedFutureIsAUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_TRUE(rt.block_on(await_empty_shared()));
}

coreio::task<int> await_ready_shared(coreio::shared_future<int> sf) {
  std::atomic<bool> other_ran{false};
  auto h = coreio::spawn([](std::atomic<bool>* flag) -> coreio::task<void> {
    flag->store(true);
    co_return;
  }(&other_ran));
  const int& v = co_await sf;
  const int& again = co_await sf;  // as often as wanted
  const bool suspended = other_ran.load();
  co_await h;
  co_return suspended || &v != &again ? -1 : v;
}

TEST(SharedFutureTest, AwaitingAReadySharedFutureDoesNotSuspend) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  coreio::promise<int> p;
  auto sf = p.get_future().share();
  p.set_value(9);
  EXPECT_EQ(rt.block_on(await_ready_shared(sf)), 9);
}

// ---- single flight ------------------------------------------------------------------------------

/// A cache in which the first task to ask for a key computes it and every other asker awaits the
/// same shared_future (Go's singleflight, asyncio's "store the Future in the dict" idiom).
struct flight_cache {
  coreio::mutex m;
  std::map<int, coreio::shared_future<std::string>> entries;  // guarded by m
  std::atomic<int> computations{0};
};

coreio::task<std::string> compute_value(int key) {
  co_await coreio::sleep_for(2ms);  // long enough for every other asker to arrive and wait
  co_return "value-" + std::to_string(key);
}

coreio::task<std::string> cached(flight_cache* c, int key) {
  coreio::shared_future<std::string> f;
  std::optional<coreio::promise<std::string>> mine;
  {
    auto g = co_await c->m.lock();
    auto it = c->entries.find(key);
    if (it != c->entries.end()) {
      f = it->second;
    } else {
      mine.emplace();
      f = mine->get_future().share();
      c->entries.emplace(key, f);
    }
  }
  if (mine) {
    c->computations.fetch_add(1);
    std::exception_ptr failed;
    try {
      mine->set_value(co_await compute_value(key));
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed) mine->set_exception(failed);
  }
  const std::string& v = co_await f;
  co_return v;  // a copy: the reference lives only as long as the cache entry
}

TEST(SharedFutureTest, SingleFlightCacheComputesEachKeyOnceForManyAskers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  flight_cache c;
  const int askers = 32;
  std::vector<coreio::join_handle<std::string>> hs;
  for (int i = 0; i < askers; ++i) hs.push_back(rt.spawn(cached(&c, i % 2 == 0 ? 7 : 8)));
  for (int i = 0; i < askers; ++i) {
    EXPECT_EQ(hs[static_cast<std::size_t>(i)].get(), i % 2 == 0 ? "value-7" : "value-8");
  }
  EXPECT_EQ(c.computations.load(), 2) << "one computation per key";
  EXPECT_EQ(rt.block_on(cached(&c, 7)), "value-7");
  EXPECT_EQ(c.computations.load(), 2) << "a later asker finds it cached";
}

// set_value from a plain thread races many awaiters, some of them cancelled at random moments.
// Every awaiter ends; one that was not cancelled gets the value; a cancelled one gets the value
// (if the set won) or cancelled_error (also when the cancel came before it first ran). Nobody hangs, nothing is touched after it is freed (TSan and
// ASan check the awaiters' frames, which the producer wakes).
TEST(SharedFutureTest, SetValueRacingManyAwaitsAndCancelsEndsEveryAwaiter) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(500, 100), n = 6;
  rng r(17);
  int values = 0, cancels = 0;
  for (int i = 0; i < rounds; ++i) {
    auto p = std::make_unique<coreio::promise<int>>();
    std::atomic<int> waiting{0};
    std::vector<coreio::join_handle<int>> hs;
    {
      auto sf = p->get_future().share();
      for (int k = 0; k < n; ++k) hs.push_back(rt->spawn(await_shared_or_cancel(sf, &waiting)));
    }  // only the awaiters' copies keep the state alive now (and the promise)
    const auto delay = std::chrono::microseconds(r.below(40));
    std::thread setter([&] {
      coreio_test::spin_for(delay);
      p->set_value(5);
      p.reset();
    });
    const std::size_t victim = r.below(n);
    hs[victim].cancel();
    setter.join();
    for (int k = 0; k < n; ++k) {
      if (!coreio_test::ends_within(hs[static_cast<std::size_t>(k)])) {
        (void)rt.release();
        FAIL() << "round " << i << ": an awaiter never ended";
      }
      int v = 0;  // the victim, cancelled before it first ran, ends with cancelled_error
      try {
        v = hs[static_cast<std::size_t>(k)].get();
      } catch (const coreio::cancelled_error&) {
        ASSERT_EQ(static_cast<std::size_t>(k), victim) << "round " << i;
      }
      if (static_cast<std::size_t>(k) != victim) {
        ASSERT_EQ(v, 1) << "round " << i;
      } else {
        ASSERT_TRUE(v == 0 || v == 1) << "round " << i;
        (v == 1 ? values : cancels) += 1;
      }
    }
  }
  EXPECT_EQ(values + cancels, rounds);
  RecordProperty("victim_got_value", values);
  RecordProperty("victim_cancelled", cancels);
}

}  // namespace
