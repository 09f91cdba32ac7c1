// to_thread_test.cpp — coreio/to_thread.hpp: values, void, exceptions, move-only functions and
// results come back from the blocking pool; calls run off the workers; the pool never runs more
// than blocking_threads calls at once and shrinks after its keep-alive; a cancelled awaiter throws
// at once while its call runs to its end; runtime destruction drops queued calls, waits for the
// running one and joins the pool; to_thread outside a runtime and during shutdown is refused.
#include <coreio/to_thread.hpp>

#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <stdexcept>
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
using coreio_test::gate;
using coreio_test::prompt;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;

/// The ids of the process's threads now (/proc/self/task), to see that none is left behind.
std::set<std::string> process_thread_ids() {
  std::set<std::string> ids;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ids.insert(e->d_name);
    }
    closedir(d);
  }
  return ids;
}

/// process_thread_ids() before a test starts any thread of its own. A first thread is started and
/// joined beforehand: ThreadSanitizer starts a background thread of its own with the process's
/// first thread, which would otherwise count as one left behind.
std::set<std::string> threads_at_rest() {
  std::thread([] {}).join();
  return process_thread_ids();
}

/// Every thread a test started has left /proc/self/task: only threads of `before` are there. A
/// probe: a joined thread's entry goes a moment after its join returns (the kernel reaps it after
/// it wakes the joiner), and a thread that had just been joined when `before` was taken may be
/// listed there and gone since.
bool only_threads_of(const std::set<std::string>& before) {
  return wait_until([&] { return std::ranges::includes(before, process_thread_ids()); });
}

coreio::task<int> double_on_pool(int x) {
  co_return co_await coreio::to_thread([x] { return 2 * x; });
}

TEST(ToThreadTest, ReturnsTheValueOfTheCall) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(double_on_pool(21)), 42);
  // Counted by the pool thread just after it handed the result back: it may lag the awaiter.
  EXPECT_TRUE(wait_until([&] { return rt.metrics().blocking_jobs_completed == 1; }));
}

coreio::task<void> set_on_pool(std::atomic<int>* out) {
  co_await coreio::to_thread([out] { out->store(7); });
}

TEST(ToThreadTest, WorksForVoidCalls) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<int> out{0};
  rt.block_on(set_on_pool(&out));
  EXPECT_EQ(out.load(), 7);
}

coreio::task<int> throw_on_pool() {
  co_return co_await coreio::to_thread([]() -> int { throw test_error(5); });
}

TEST(ToThreadTest, RethrowsTheCallsException) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  try {
    rt.block_on(throw_on_pool());
    FAIL() << "expected test_error";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 5);
  }
  // Counted by the pool thread just after it handed the result back: it may lag the awaiter.
  EXPECT_TRUE(wait_until([&] { return rt.metrics().blocking_jobs_completed == 1; }));
}

/// A move-only callable with an rvalue-qualified call operator.
struct move_only_call {
  std::unique_ptr<std::string> text;
  std::unique_ptr<std::string> operator()() && {
    return std::make_unique<std::string>(*text + "!");
  }
};

coreio::task<std::string> move_only_on_pool() {
  move_only_call call{std::make_unique<std::string>("moved")};
  std::unique_ptr<std::string> r = co_await coreio::to_thread(std::move(call));
  co_return *r;
}

TEST(ToThreadTest, AcceptsMoveOnlyFunctionsAndResults) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(move_only_on_pool()), "moved!");
}

coreio::task<int> referenced_on_pool(int* target) {
  int& r = co_await coreio::to_thread([target]() -> int& { return *target; });
  r += 1;
  co_return *target;
}

TEST(ToThreadTest, ReturnsReferences) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  int target = 41;
  EXPECT_EQ(rt.block_on(referenced_on_pool(&target)), 42);
}

struct where {
  int worker_in_call = -2;
  bool nested_to_thread_refused = false;
  bool nested_spawn_refused = false;
  int worker_after = -2;
};

coreio::task<void> not_a_worker(where* w) {
  co_await coreio::to_thread([w] {
    w->worker_in_call = coreio::current_worker();
    try {
      (void)coreio::to_thread([] { return 0; });
    } catch (const coreio::usage_error&) {
      w->nested_to_thread_refused = true;
    }
  });
  w->worker_after = coreio::current_worker();
}

TEST(ToThreadTest, RunsTheCallOnAThreadThatIsNotAWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  where w;
  rt.block_on(not_a_worker(&w));
  EXPECT_EQ(w.worker_in_call, -1);
  EXPECT_TRUE(w.nested_to_thread_refused);
  // The awaiting task is back on a worker.
  EXPECT_GE(w.worker_after, 0);
}

TEST(ToThreadTest, OutsideARuntimeThrowsUsageError) {
  EXPECT_THROW((void)coreio::to_thread([] { return 1; }), coreio::usage_error);
  // Also on a plain thread while a runtime exists: it is not that runtime's worker.
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_THROW((void)coreio::to_thread([] {}), coreio::usage_error);
}

TEST(ToThreadTest, RejectsZeroBlockingThreads) {
  EXPECT_THROW((coreio::runtime{coreio::runtime_options{.workers = 1, .blocking_threads = 0}}),
               std::invalid_argument);
}

struct concurrency {
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
};

coreio::task<int> blocking_square(concurrency* c, int i) {
  co_return co_await coreio::to_thread([c, i] {
    const int now = c->running.fetch_add(1) + 1;
    int seen = c->max_running.load();
    while (now > seen && !c->max_running.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(20ms);
    c->running.fetch_sub(1);
    return i * i;
  });
}

coreio::task<bool> many_blocking_calls(concurrency* c, int n) {
  std::vector<coreio::join_handle<int>> hs;
  hs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) hs.push_back(coreio::spawn(blocking_square(c, i)));
  bool all_right = true;
  for (int i = 0; i < n; ++i) {
    const int r = co_await hs[static_cast<std::size_t>(i)];
    all_right = all_right && r == i * i;
  }
  co_return all_right;
}

TEST(ToThreadTest, NeverRunsMoreThanBlockingThreadsCallsAtOnce) {
  // 200 calls of 20 ms on 8 threads: about 0.5 s, sleeps only (the same under sanitizers).
  coreio::runtime rt{coreio::runtime_options{.workers = 2, .blocking_threads = 8}};
  concurrency c;
  std::atomic<bool> sampling{true};
  std::atomic<std::uint64_t> max_threads{0};
  std::thread sampler([&] {
    while (sampling.load()) {
      const std::uint64_t t = rt.metrics().blocking_threads;
      if (t > max_threads.load()) max_threads.store(t);
      std::this_thread::sleep_for(1ms);
    }
  });
  const bool all_right = rt.block_on(many_blocking_calls(&c, 200));
  sampling.store(false);
  sampler.join();
  EXPECT_TRUE(all_right);
  EXPECT_LE(c.max_running.load(), 8);
  EXPECT_GE(c.max_running.load(), 2) << "the calls never overlapped";
  EXPECT_LE(max_threads.load(), 8u);
  EXPECT_TRUE(wait_until([&] { return rt.metrics().blocking_jobs_completed == 200; }));
  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_LE(m.blocking_threads, 8u);
  EXPECT_EQ(m.blocking_queue_depth, 0u);
}

coreio::task<void> hold_threads(concurrency* c, int n) {
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(coreio::spawn(blocking_square(c, i)));
  for (auto& h : hs) (void)co_await h;
}

TEST(ToThreadTest, ThePoolShrinksAfterItsKeepAlive) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2, .blocking_keep_alive = 50ms}};
  concurrency c;
  rt.block_on(hold_threads(&c, 4));
  EXPECT_LE(rt.metrics().blocking_threads, 4u);
  ASSERT_TRUE(wait_until([&] { return rt.metrics().blocking_threads == 0; }))
      << rt.metrics().blocking_threads << " blocking thread(s) still alive";
  EXPECT_EQ(rt.metrics().blocking_idle_threads, 0u);
  // It grows again on demand.
  EXPECT_EQ(rt.block_on(double_on_pool(4)), 8);
  EXPECT_TRUE(wait_until([&] { return rt.metrics().blocking_jobs_completed == 5; }));
}

TEST(ToThreadTest, AnIdleThreadStaysForItsKeepAlive) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};  // keep-alive 10 s
  EXPECT_EQ(rt.block_on(double_on_pool(1)), 2);
  ASSERT_TRUE(wait_until([&] { return rt.metrics().blocking_idle_threads == 1; }));
  EXPECT_EQ(rt.metrics().blocking_threads, 1u);
}

/// A call that says when it starts, waits for the test's gate, then says it finished; its result
/// is heap memory, so a discarded result that leaked would show under LeakSanitizer.
struct gated_call {
  std::atomic<bool>* started;
  gate* release;
  std::atomic<bool>* finished;
  std::unique_ptr<std::string> operator()() const {
    started->store(true);
    release->wait();
    finished->store(true);
    return std::make_unique<std::string>("discarded");
  }
};

coreio::task<void> await_gated(gated_call call, std::atomic<bool>* cancelled) {
  try {
    (void)co_await coreio::to_thread(call);
  } catch (const coreio::cancelled_error&) {
    cancelled->store(true);
    throw;
  }
}

TEST(ToThreadTest, CancellingTheAwaiterThrowsAtOnceAndTheCallRunsToItsEnd) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> started{false}, finished{false}, cancelled{false};
  gate release;
  auto h = rt.spawn(await_gated(gated_call{&started, &release, &finished}, &cancelled));
  ASSERT_TRUE(wait_until([&] { return started.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(cancelled.load());
  // The call is still running, blocked on the gate; it ends when let go.
  EXPECT_FALSE(finished.load());
  EXPECT_EQ(rt.metrics().blocking_jobs_completed, 0u);
  release.open();
  ASSERT_TRUE(wait_until([&] { return rt.metrics().blocking_jobs_completed == 1; }));
  EXPECT_TRUE(finished.load());
}

TEST(ToThreadTest, ACallCancelledBeforeItStartsStillRunsWhenAThreadFreesUp) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2, .blocking_threads = 1}};
  std::atomic<bool> started1{false}, finished1{false}, cancelled1{false};
  std::atomic<bool> started2{false}, finished2{false}, cancelled2{false};
  gate release;
  auto h1 = rt.spawn(await_gated(gated_call{&started1, &release, &finished1}, &cancelled1));
  ASSERT_TRUE(wait_until([&] { return started1.load(); }));
  auto h2 = rt.spawn(await_gated(gated_call{&started2, &release, &finished2}, &cancelled2));
  ASSERT_TRUE(wait_until([&] { return rt.metrics().blocking_queue_depth == 1; }));
  h2.cancel();
  EXPECT_THROW(h2.get(), coreio::cancelled_error);
  EXPECT_FALSE(started2.load());
  release.open();
  EXPECT_NO_THROW(h1.get());
  ASSERT_TRUE(wait_until([&] { return finished2.load(); }));
  ASSERT_TRUE(wait_until([&] { return rt.metrics().blocking_jobs_completed == 2; }));
}

/// A call whose destruction without having run is counted (a dropped job).
struct drop_counting_call {
  std::atomic<int>* ran;
  std::atomic<int>* dropped;
  std::atomic<int>* wait_for_drops;  // the first call waits until this many were dropped
  bool live = true;
  bool has_run = false;

  drop_counting_call(std::atomic<int>* r, std::atomic<int>* d, std::atomic<int>* w)
      : ran(r), dropped(d), wait_for_drops(w) {}
  drop_counting_call(drop_counting_call&& o) noexcept
      : ran(o.ran),
        dropped(o.dropped),
        wait_for_drops(o.wait_for_drops),
        live(std::exchange(o.live, false)),
        has_run(o.has_run) {}
  drop_counting_call& operator=(drop_counting_call&&) = delete;
  ~drop_counting_call() {
    if (live && !has_run) dropped->fetch_add(1);
  }
  void operator()() {
    has_run = true;
    ran->fetch_add(1);
    if (wait_for_drops != nullptr) {
      // Holds the only pool thread until the shutdown has dropped the queued calls.
      (void)wait_until([this] { return dropped->load() == 4; });
    }
  }
};

coreio::task<void> await_drop_counting(drop_counting_call call, std::atomic<int>* queued) {
  queued->fetch_add(1);
  co_await coreio::to_thread(std::move(call));
}

TEST(ToThreadTest, DestroyingTheRuntimeDropsQueuedCallsWaitsForTheRunningOneAndJoinsThePool) {
  const std::set<std::string> threads_before = threads_at_rest();
  std::atomic<int> ran{0}, dropped{0}, queued{0};
  std::atomic<int> marker{0};  // non-null: the first call waits for the drops
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2, .blocking_threads = 1}};
    auto first =
        rt.spawn(await_drop_counting(drop_counting_call(&ran, &dropped, &marker), &queued));
    ASSERT_TRUE(wait_until([&] { return ran.load() == 1; }));
    for (int i = 0; i < 4; ++i)
      rt.spawn(await_drop_counting(drop_counting_call(&ran, &dropped, nullptr), &queued));
    ASSERT_TRUE(wait_until([&] { return rt.metrics().blocking_queue_depth == 4; }));
    // ~runtime: every task is cancelled and unwinds, the four queued calls are dropped, the running
    // one (which waits for those drops) returns, its thread is joined.
  }
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(dropped.load(), 4);
  EXPECT_TRUE(only_threads_of(threads_before));
}

coreio::task<void> sleep_through_call(std::atomic<bool>* started, std::atomic<bool>* finished) {
  co_await coreio::to_thread([started, finished] {
    started->store(true);
    std::this_thread::sleep_for(200ms);
    finished->store(true);
  });
}

TEST(ToThreadTest, DestroyingTheRuntimeWaitsForARunningCall) {
  const std::set<std::string> threads_before = threads_at_rest();
  std::atomic<bool> started{false}, finished{false};
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    auto h = rt.spawn(sleep_through_call(&started, &finished));
    // Started, not merely queued: a call still queued at shutdown is dropped.
    ASSERT_TRUE(wait_until([&] { return started.load(); }));
  }
  EXPECT_TRUE(finished.load());
  EXPECT_TRUE(only_threads_of(threads_before));
}

/// Sets *asleep once suspended in the sleep.
coreio::task<void> to_thread_while_closing(std::atomic<int>* outcome, std::atomic<bool>* asleep) {
  try {
    co_await coreio_test::count_suspension(coreio::sleep_for(10s), asleep);
  } catch (const coreio::cancelled_error&) {
    // Shutting down: this task was cancelled by ~runtime (step 2, after step 1 closed the runtime).
  }
  try {
    co_await coreio::to_thread([] {});
    outcome->store(1);
  } catch (const coreio::runtime_closed&) {
    outcome->store(2);
  } catch (...) {
    outcome->store(3);
  }
}

TEST(ToThreadTest, DuringShutdownThrowsRuntimeClosed) {
  std::atomic<int> outcome{0};
  std::atomic<bool> asleep{false};
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    auto h = rt.spawn(to_thread_while_closing(&outcome, &asleep));
    ASSERT_TRUE(wait_until([&] { return asleep.load(); }));  // ~runtime cancels it in the sleep
  }
  EXPECT_EQ(outcome.load(), 2);
}

}  // namespace
