// join_handle_test.cpp — coreio/join_handle.hpp: co_await / get() for the result or exception,
// once; cancel(); done(); dropping detaches; cancelling an awaiter forwards the cancel to the task
// it awaits and waits for it to end (asyncio semantics).
#include <coreio/join_handle.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::gate;
using coreio_test::prompt;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;

static_assert(!std::is_copy_constructible_v<coreio::join_handle<int>>);
static_assert(std::is_nothrow_move_constructible_v<coreio::join_handle<int>>);

coreio::task<int> value_later(int v) {
  co_await coreio::sleep_for(1ms);
  co_return v;
}

coreio::task<int> fail_later(int v) {
  co_await coreio::sleep_for(1ms);
  throw test_error(v);
}

struct sleeper_probe {
  std::atomic<bool> started{false};
  std::atomic<bool> cancelled{false};
  std::atomic<bool> finished{false};
};

coreio::task<int> sleep_long(sleeper_probe* p, std::chrono::milliseconds d) {
  p->started.store(true);
  try {
    co_await coreio::sleep_for(d);
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    throw;
  }
  p->finished.store(true);
  co_return 1;
}

// ---- results ----------------------------------------------------------------------------------

coreio::task<int> spawn_and_await(int v) {
  auto h = coreio::spawn(value_later(v));
  co_return co_await h;
}

TEST(JoinHandleTest, AwaitingGivesTheResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(spawn_and_await(5)), 5);
}

coreio::task<int> spawn_and_catch(int v) {
  auto h = coreio::spawn(fail_later(v));
  try {
    co_await h;
  } catch (const test_error& e) {
    co_return e.value;
  }
  co_return -1;
}

TEST(JoinHandleTest, AwaitingRethrowsTheTaskException) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(spawn_and_catch(6)), 6);
}

TEST(JoinHandleTest, GetFromAPlainThreadBlocksForTheResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto ok = rt.spawn(value_later(3));
  auto bad = rt.spawn(fail_later(4));
  EXPECT_EQ(ok.get(), 3);
  try {
    bad.get();
    FAIL() << "expected test_error";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 4);
  }
}

TEST(JoinHandleTest, GetFromAnotherPlainThreadThanTheSpawner) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto h = rt.spawn(value_later(12));
  int got = 0;
  std::thread([&] { got = h.get(); }).join();
  EXPECT_EQ(got, 12);
}

coreio::task<std::string> get_on_a_worker() {
  auto h = coreio::spawn(value_later(1));
  std::string what;
  try {
    (void)h.get();
    what = "no error";
  } catch (const coreio::usage_error& e) {
    what = e.what();
  }
  // The handle is still good: the failed get() retrieved nothing.
  const int v = co_await h;
  co_return v == 1 ? what : "lost result";
}

TEST(JoinHandleTest, GetOnAWorkerThreadThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const std::string what = rt.block_on(get_on_a_worker());
  EXPECT_NE(what, "no error");
  EXPECT_NE(what, "lost result");
}

coreio::task<bool> await_twice() {
  auto h = coreio::spawn(value_later(1));
  (void)co_await h;
  try {
    (void)co_await h;
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST(JoinHandleTest, AwaitingTwiceThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_TRUE(rt.block_on(await_twice()));
}

TEST(JoinHandleTest, GetTwiceThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto h = rt.spawn(value_later(1));
  EXPECT_EQ(h.get(), 1);
  EXPECT_THROW(h.get(), coreio::usage_error);
}

TEST(JoinHandleTest, GetAfterAnExceptionWasRetrievedThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto h = rt.spawn(fail_later(1));
  EXPECT_THROW(h.get(), test_error);
  EXPECT_THROW(h.get(), coreio::usage_error);
}

TEST(JoinHandleTest, AnEmptyHandleThrowsUsageError) {
  coreio::join_handle<int> h;
  EXPECT_FALSE(h.valid());
  EXPECT_FALSE(h.done());
  h.cancel();  // a no-op
  EXPECT_THROW(h.get(), coreio::usage_error);
}

TEST(JoinHandleTest, MovingTheHandleMovesTheTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto a = rt.spawn(value_later(9));
  coreio::join_handle<int> b = std::move(a);
  EXPECT_FALSE(a.valid());
  EXPECT_TRUE(b.valid());
  EXPECT_THROW(a.get(), coreio::usage_error);
  coreio::join_handle<int> c;
  c = std::move(b);
  EXPECT_EQ(c.get(), 9);
}

// ---- a finished task's frame ------------------------------------------------------------------

/// Holds `held` (a parameter, as a stream moved into a task would be) and returns or throws.
coreio::task<int> hold_then_end(std::shared_ptr<int> held, bool fail) {
  co_await coreio::sleep_for(1ms);
  if (fail) throw test_error(*held);
  co_return *held;
}

/// Awaits h (kept in scope after), and reports whether `watch` expired by then.
coreio::task<bool> await_and_look(coreio::join_handle<int>* h, std::weak_ptr<int> watch) {
  try {
    (void)co_await *h;
  } catch (const test_error&) {
  }
  co_return watch.expired();
}

TEST(JoinHandleTest, RetrievingTheResultFreesTheTasksParametersWhileTheHandleLives) {
  // A task that has ended keeps its frame for its result; once the result is retrieved (awaited,
  // get(), with a value or an exception), its parameters go, though the handle is still in scope:
  // a probe's peers waited for the close of streams moved into tasks that had long ended and been
  // awaited, whose handles were kept (asyncio and Tokio free a finished task's state).
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (const bool fail : {false, true}) {
    auto held = std::make_shared<int>(7);
    std::weak_ptr<int> watch = held;
    auto h = rt.spawn(hold_then_end(std::move(held), fail));
    EXPECT_TRUE(rt.block_on(await_and_look(&h, watch))) << (fail ? "failed" : "returned");
    EXPECT_TRUE(h.done());
    EXPECT_FALSE(h.valid());
    EXPECT_THROW(h.get(), coreio::usage_error);  // retrieved already, as before
  }
  auto held = std::make_shared<int>(8);
  std::weak_ptr<int> watch = held;
  auto h = rt.spawn(hold_then_end(std::move(held), false));
  EXPECT_EQ(h.get(), 8);
  EXPECT_TRUE(watch.expired());
  EXPECT_TRUE(h.done());
}

// ---- done / detach ----------------------------------------------------------------------------

/// Sets *waiting once suspended on f.
coreio::task<int> wait_for_release(coreio::future<int> f, std::atomic<bool>* waiting) {
  co_return co_await coreio_test::count_suspension(f, waiting);
}

TEST(JoinHandleTest, DoneBecomesTrueWhenTheTaskEnds) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> release;
  std::atomic<bool> waiting{false};
  auto h = rt.spawn(wait_for_release(release.get_future(), &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load(); }));
  EXPECT_FALSE(h.done()) << "the task waits for `release`";
  release.set_value(1);
  ASSERT_TRUE(wait_until([&] { return h.done(); }));
  EXPECT_EQ(h.get(), 1);
  EXPECT_TRUE(h.done()) << "still done after the result was taken";
}

/// Fulfils *out once `go` is set: the test sets it after dropping (or detaching) the handle, so the
/// task certainly runs on without one.
coreio::task<void> fulfil_after_go(coreio::future<void> go, std::promise<int>* out,
                                   std::shared_ptr<int> token) {
  co_await go;
  co_await coreio::yield_now();
  out->set_value(*token);
}

TEST(JoinHandleTest, DroppingTheHandleDetachesAndTheTaskRunsToCompletion) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::promise<int> out;
  auto f = out.get_future();
  auto token = std::make_shared<int>(77);
  coreio::promise<void> go;
  {
    auto h = rt.spawn(fulfil_after_go(go.get_future(), &out, token));
  }  // dropped at once
  go.set_value();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), 77);
  // The detached frame (and its copy of token) is freed when the task ends.
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }));
}

TEST(JoinHandleTest, DetachLetsTheTaskRunOn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::promise<int> out;
  auto f = out.get_future();
  coreio::promise<void> go;
  auto h = rt.spawn(fulfil_after_go(go.get_future(), &out, std::make_shared<int>(5)));
  h.detach();
  EXPECT_FALSE(h.valid());
  go.set_value();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), 5);
}

// ---- cancel -----------------------------------------------------------------------------------

TEST(JoinHandleTest, CancelInterruptsASleepPromptly) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sleeper_probe p;
  auto h = rt.spawn(sleep_long(&p, 10s));
  ASSERT_TRUE(wait_until([&] { return p.started.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt) << "the 10 s sleep must end at the cancel, not at its deadline";
  EXPECT_TRUE(p.cancelled.load());
  EXPECT_FALSE(p.finished.load());
}

coreio::task<void> block_worker(gate* g, std::atomic<bool>* blocking) {
  blocking->store(true);
  g->wait();  // holds the only worker on purpose
  co_return;
}

struct start_probe {
  std::atomic<bool> body_started{false};
  std::atomic<bool> passed_first_suspension{false};
};

coreio::task<int> record_start(start_probe* p) {
  p->body_started.store(true);
  co_await coreio::yield_now();
  p->passed_first_suspension.store(true);
  co_return 1;
}

TEST(JoinHandleTest, CancelBeforeTheTaskStartsNeverRunsItsBody) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  gate g;
  std::atomic<bool> blocking{false};
  auto blocker = rt.spawn(block_worker(&g, &blocking));
  ASSERT_TRUE(wait_until([&] { return blocking.load(); }));
  start_probe p;
  auto h = rt.spawn(record_start(&p));  // queued behind the blocked worker: cannot start yet
  h.cancel();
  EXPECT_FALSE(h.done());
  g.open();
  blocker.get();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  // As asyncio: a task cancelled before its first step raises there, before its first statement.
  EXPECT_FALSE(p.body_started.load());
  EXPECT_FALSE(p.passed_first_suspension.load());
}

coreio::task<int> no_suspension_points() { co_return 8; }

TEST(JoinHandleTest, ATaskWithoutSuspensionPointsIsCancelledTooIfCancelledBeforeItStarts) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  gate g;
  std::atomic<bool> blocking{false};
  auto blocker = rt.spawn(block_worker(&g, &blocking));
  ASSERT_TRUE(wait_until([&] { return blocking.load(); }));
  auto h = rt.spawn(no_suspension_points());
  h.cancel();
  g.open();
  blocker.get();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
}

TEST(JoinHandleTest, CancelIsIdempotentAndANoOpAfterTheTaskEnded) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto done_first = rt.spawn(value_later(3));
  ASSERT_TRUE(wait_until([&] { return done_first.done(); }));
  done_first.cancel();
  done_first.cancel();
  EXPECT_EQ(done_first.get(), 3) << "cancelling an ended task does not change its result";

  sleeper_probe p;
  auto h = rt.spawn(sleep_long(&p, 10s));
  ASSERT_TRUE(wait_until([&] { return p.started.load(); }));
  h.cancel();
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  h.cancel();  // after the result was taken: still a no-op
}

TEST(JoinHandleTest, CancelFromManyThreadsAtOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const int rounds = sanitized(200, 50);
  for (int r = 0; r < rounds; ++r) {
    sleeper_probe p;
    auto h = rt.spawn(sleep_long(&p, 10s));
    std::thread t1([&] { h.cancel(); });
    std::thread t2([&] { h.cancel(); });
    h.cancel();
    t1.join();
    t2.join();
    EXPECT_THROW(h.get(), coreio::cancelled_error);
  }
}

coreio::task<int> catch_cancel_and_return(sleeper_probe* p) {
  p->started.store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    p->cancelled.store(true);
    co_return 123;  // clean up (nothing to suspend on) and return a value
  }
  co_return 0;
}

TEST(JoinHandleTest, ACancelledTaskMayCatchAndReturnAValueThatTheHandleYields) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  sleeper_probe p;
  auto h = rt.spawn(catch_cancel_and_return(&p));
  ASSERT_TRUE(wait_until([&] { return p.started.load(); }));
  h.cancel();
  EXPECT_EQ(h.get(), 123);
  EXPECT_TRUE(p.cancelled.load());
}

// ---- cancelling an awaiter --------------------------------------------------------------------

struct chain_probe {
  sleeper_probe child;
  std::atomic<bool> parent_started{false};
  std::atomic<bool> parent_saw_child_cancelled{false};
  std::atomic<bool> parent_got_cancelled_error{false};
};

coreio::task<int> await_sleeping_child(chain_probe* p) {
  auto h = coreio::spawn(sleep_long(&p->child, 10s));
  p->parent_started.store(true);
  try {
    co_return co_await h;
  } catch (const coreio::cancelled_error&) {
    // The child has ended (cancelled) by the time the awaiter resumes.
    p->parent_saw_child_cancelled.store(p->child.cancelled.load());
    p->parent_got_cancelled_error.store(true);
    throw;
  }
}

TEST(JoinHandleTest, CancellingTheAwaiterCancelsTheAwaitedTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  chain_probe p;
  auto h = rt.spawn(await_sleeping_child(&p));
  ASSERT_TRUE(wait_until([&] { return p.parent_started.load() && p.child.started.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(p.child.cancelled.load()) << "the cancel was forwarded to the awaited task";
  EXPECT_TRUE(p.parent_got_cancelled_error.load());
  EXPECT_TRUE(p.parent_saw_child_cancelled.load()) << "the awaiter waited for the child to end";
}

struct slow_cleanup_probe {
  std::atomic<bool> child_started{false};
  std::atomic<bool> child_cleanup_done{false};
  std::atomic<int> parent_saw{-1};
  std::atomic<bool> parent_next_suspension_threw{false};
};

coreio::task<int> child_with_slow_cleanup(slow_cleanup_probe* p) {
  p->child_started.store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    coreio_test::spin_for(30ms);  // non-suspending cleanup that takes a while
    p->child_cleanup_done.store(true);
    co_return 7;
  }
  co_return 0;
}

coreio::task<int> parent_of_slow_child(slow_cleanup_probe* p) {
  auto h = coreio::spawn(child_with_slow_cleanup(p));
  const int v = co_await h;  // cancelled while here: forwards, waits, then gets the child's 7
  p->parent_saw.store(p->child_cleanup_done.load() ? v : -2);
  try {
    co_await coreio::yield_now();  // sticky: the parent itself is still cancelled
  } catch (const coreio::cancelled_error&) {
    p->parent_next_suspension_threw.store(true);
    throw;
  }
  co_return v;
}

TEST(JoinHandleTest, TheCancelledAwaiterWaitsForTheAwaitedTaskToEnd) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  slow_cleanup_probe p;
  auto h = rt.spawn(parent_of_slow_child(&p));
  ASSERT_TRUE(wait_until([&] { return p.child_started.load(); }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.parent_saw.load(), 7)
      << "the awaiter resumed only after the child's cleanup, with its value";
  EXPECT_TRUE(p.parent_next_suspension_threw.load());
}

coreio::task<int> already_cancelled_awaits_child(chain_probe* p) {
  auto h = coreio::spawn(sleep_long(&p->child, 10s));
  p->parent_started.store(true);
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
  }
  // Already cancelled: awaiting the child forwards the cancel to it and waits for it.
  co_return co_await h;
}

TEST(JoinHandleTest, AwaitingAHandleFromAnAlreadyCancelledTaskCancelsTheChild) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  chain_probe p;
  auto h = rt.spawn(already_cancelled_awaits_child(&p));
  ASSERT_TRUE(wait_until([&] { return p.parent_started.load() && p.child.started.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(p.child.cancelled.load());
}

coreio::task<int> get_done_child() {
  auto h = coreio::spawn(value_later(4));
  while (!h.done()) co_await coreio::yield_now();
  co_return co_await h;  // ready: no suspension
}

TEST(JoinHandleTest, AwaitingAFinishedTaskReturnsAtOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(get_done_child()), 4);
}

// ---- lifetime ---------------------------------------------------------------------------------

coreio::task<int> hold_token(std::shared_ptr<int> token, int v) {
  co_await coreio::yield_now();
  co_return v + *token;
}

TEST(JoinHandleTest, DroppingHandlesWhileTasksEndFreesEveryFrame) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto token = std::make_shared<int>(0);
  const int n = sanitized(2000, 500);
  for (int i = 0; i < n; ++i) {
    auto h = rt.spawn(hold_token(token, i));
    if (i % 3 == 0) std::this_thread::yield();  // vary who drops the last reference
  }  // each handle dropped at once, racing the task's own end
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }))
      << token.use_count() - 1 << " task frame(s) never freed";
}

coreio::task<int> fail_detached(std::shared_ptr<int> token) {
  co_await coreio::yield_now();
  throw test_error(*token);
}

TEST(JoinHandleTest, ADetachedTaskThatThrowsIsDiscardedQuietly) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto token = std::make_shared<int>(1);
  for (int i = 0; i < 10; ++i) rt.spawn(fail_detached(token)).detach();
  EXPECT_TRUE(wait_until([&] { return token.use_count() == 1; }));
  EXPECT_EQ(rt.block_on(value_later(2)), 2) << "the runtime goes on";
}

coreio::task<std::thread::id> spawn_on_other_and_await(coreio::runtime* other) {
  const std::thread::id before = std::this_thread::get_id();
  auto h = other->spawn(value_later(1));  // a task of the other runtime
  (void)co_await h;
  const std::thread::id after = std::this_thread::get_id();
  co_return before == after ? std::thread::id{} : after;
}

// A task awaiting the handle of a task that runs on another runtime must go on running on its own
// runtime (here: its only worker thread), not on the other runtime's worker that ended the awaited
// task. Otherwise its later sleeps and spawns land on the other runtime, whose shutdown knows
// nothing of it.
TEST(JoinHandleTest, AwaitingAHandleOfAnotherRuntimeResumesOnTheAwaitersRuntime) {
  coreio::runtime a{coreio::runtime_options{.workers = 1}};
  coreio::runtime b{coreio::runtime_options{.workers = 1}};
  int moved = 0;
  for (int i = 0; i < 20; ++i) {
    if (a.block_on(spawn_on_other_and_await(&b)) != std::thread::id{}) ++moved;
  }
  EXPECT_EQ(moved, 0) << "the awaiter resumed on the other runtime's worker " << moved
                      << " of 20 times";
}

// Each task spawns the next and awaits its handle. When the deepest one ends, completion cascades
// up the chain by symmetric transfer (a task ending resumes its awaiter directly): 100,000 levels
// must unwind without growing the worker's stack.
coreio::task<std::uint64_t> spawn_chain(std::uint64_t depth) {
  if (depth == 0) {
    co_await coreio::yield_now();
    co_return 0;
  }
  auto h = coreio::spawn(spawn_chain(depth - 1));
  co_return 1 + co_await h;
}

TEST(JoinHandleTest, ADeepChainOfTasksAwaitingEachOtherUnwindsWithoutGrowingTheStack) {
#if defined(__GNUC__) && !defined(__OPTIMIZE__)
  GTEST_SKIP() << "unoptimised build: symmetric transfer is not a tail call here";
#endif
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  const std::uint64_t depth = sanitized<std::uint64_t>(100'000, 20'000);
  EXPECT_EQ(rt.block_on(spawn_chain(depth)), depth);
}

}  // namespace
