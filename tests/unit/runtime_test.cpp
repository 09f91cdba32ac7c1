// runtime_test.cpp — coreio/runtime.hpp: building a runtime, block_on, run, spawn from plain
// threads, and the shutdown protocol (destroying a runtime cancels what still runs, waits for it to
// unwind, refuses new spawns, and never hangs).
#include <coreio/runtime.hpp>

#include <gtest/gtest.h>

#include <sched.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::prompt;
using coreio_test::sanitized;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;

coreio::task<int> value_after_sleep(int v) {
  co_await coreio::sleep_for(1ms);
  co_return v;
}

coreio::task<int> throw_after_sleep(int v) {
  co_await coreio::sleep_for(1ms);
  throw test_error(v);
}

coreio::task<void> void_after_yield(std::atomic<int>* counter) {
  co_await coreio::yield_now();
  counter->fetch_add(1);
}

coreio::task<int&> ref_to(int* p) { co_return *p; }

// ---- building ---------------------------------------------------------------------------------

TEST(RuntimeTest, WorkersReportsTheRequestedCount) {
  for (std::size_t n : {1u, 2u, 3u}) {
    coreio::runtime rt{coreio::runtime_options{.workers = n}};
    EXPECT_EQ(rt.workers(), n);
  }
}

TEST(RuntimeTest, ZeroWorkersMeansOnePerHardwareThread) {
  coreio::runtime rt{coreio::runtime_options{.workers = 0}};
  const unsigned hw = std::thread::hardware_concurrency();
  EXPECT_EQ(rt.workers(), hw == 0 ? 1u : hw);
  coreio::runtime dflt;
  EXPECT_EQ(dflt.workers(), rt.workers());
}

/// The CPUs the thread `tid` may run on (0: the calling thread).
std::vector<int> cpus_of(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(tid, sizeof set, &set) != 0) return {};
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

/// The ids of this process's threads named coreio-w<i>, indexed by i (0 where none is named so).
std::vector<pid_t> worker_tids(std::size_t n) {
  std::vector<pid_t> out(n, 0);
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("coreio-w", 0) != 0) continue;
    const std::size_t i = std::stoul(name.substr(8));
    if (i < n) out[i] = static_cast<pid_t>(std::stol(e.path().filename().string()));
  }
  return out;
}

TEST(RuntimeTest, PinWorkersBindsEachWorkerToItsOwnAllowedCpu) {
  const std::vector<int> allowed = cpus_of(0);
  ASSERT_FALSE(allowed.empty());
  std::vector<pid_t> tids;
  {
    coreio::runtime rt(coreio::runtime_options{.workers = 2, .pin_workers = true});
    // The workers name themselves as they start: wait until both have.
    ASSERT_TRUE(wait_until([&] {
      tids = worker_tids(2);
      return tids[0] != 0 && tids[1] != 0;
    }));
    for (std::size_t i = 0; i < 2; ++i) {
      // Worker i on the (i mod n)-th allowed CPU, and on that one only.
      EXPECT_EQ(cpus_of(tids[i]), std::vector<int>{allowed[i % allowed.size()]}) << "worker " << i;
    }
    EXPECT_EQ(rt.block_on([]() -> coreio::task<int> { co_return 7; }()), 7);  // and it runs
  }
  EXPECT_EQ(cpus_of(0), allowed);  // the thread that built the runtime is not bound
}

TEST(RuntimeTest, WorkersAreNotPinnedByDefault) {
  if (std::getenv("COREIO_PIN_WORKERS") != nullptr) GTEST_SKIP() << "COREIO_PIN_WORKERS is set";
  const std::vector<int> allowed = cpus_of(0);
  coreio::runtime rt(coreio::runtime_options{.workers = 2});
  std::vector<pid_t> tids;
  ASSERT_TRUE(wait_until([&] {
    tids = worker_tids(2);
    return tids[0] != 0 && tids[1] != 0;
  }));
  for (pid_t tid : tids) EXPECT_EQ(cpus_of(tid), allowed);
}

TEST(RuntimeTest, RejectsALocalQueueCapacityThatIsNotAPowerOfTwo) {
  EXPECT_ANY_THROW(
      (coreio::runtime{coreio::runtime_options{.workers = 1, .local_queue_capacity = 3}}));
  EXPECT_ANY_THROW(
      (coreio::runtime{coreio::runtime_options{.workers = 1, .local_queue_capacity = 100}}));
}

TEST(RuntimeTest, RunsWithTheSmallestLocalQueue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2, .local_queue_capacity = 4}};
  EXPECT_EQ(rt.block_on(value_after_sleep(5)), 5);
}

// ---- block_on / run ---------------------------------------------------------------------------

TEST(RuntimeTest, BlockOnReturnsTheTaskResult) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(value_after_sleep(11)), 11);
  EXPECT_EQ(rt.block_on(value_after_sleep(12)), 12) << "a runtime runs many block_on in turn";
}

TEST(RuntimeTest, BlockOnRethrowsTheTaskException) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_THROW(rt.block_on(throw_after_sleep(4)), test_error);
  // The same exception, inspected: spawn + get keeps the frame alive during the catch (task_test).
  auto h = rt.spawn(throw_after_sleep(5));
  try {
    (void)h.get();
    FAIL() << "expected test_error";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 5);
  }
  EXPECT_EQ(rt.block_on(value_after_sleep(1)), 1) << "the runtime is still usable";
}

TEST(RuntimeTest, BlockOnWorksForVoidAndReferenceTasks) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  std::atomic<int> counter{0};
  rt.block_on(void_after_yield(&counter));
  EXPECT_EQ(counter.load(), 1);
  int x = 3;
  int& r = rt.block_on(ref_to(&x));
  EXPECT_EQ(&r, &x);
}

TEST(RuntimeTest, RunBuildsARuntimeRunsTheTaskAndReturnsItsResult) {
  EXPECT_EQ(coreio::run(value_after_sleep(21)), 21);
  EXPECT_EQ(coreio::run(value_after_sleep(22), coreio::runtime_options{.workers = 1}), 22);
}

TEST(RuntimeTest, RunRethrowsTheTaskException) {
  EXPECT_THROW(coreio::run(throw_after_sleep(1), coreio::runtime_options{.workers = 1}),
               test_error);
}

coreio::task<bool> block_on_inside(coreio::runtime* rt) {
  try {
    (void)rt->block_on(value_after_sleep(1));
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST(RuntimeTest, BlockOnOnAWorkerThreadThrowsUsageErrorInsteadOfDeadlocking) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_TRUE(rt.block_on(block_on_inside(&rt)));
}

TEST(RuntimeTest, BlockOnOnAnotherRuntimesWorkerAlsoThrowsUsageError) {
  coreio::runtime a{coreio::runtime_options{.workers = 1}};
  coreio::runtime b{coreio::runtime_options{.workers = 1}};
  EXPECT_TRUE(a.block_on(block_on_inside(&b)));
}

// ---- spawn from plain threads -----------------------------------------------------------------

TEST(RuntimeTest, SpawnFromAPlainThreadAndGet) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto h = rt.spawn(value_after_sleep(8));
  EXPECT_EQ(h.get(), 8);
}

TEST(RuntimeTest, SpawnFromManyPlainThreadsAtOnce) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  constexpr int threads = 4;
  const int per_thread = sanitized(500, 100);
  std::vector<std::thread> ts;
  std::atomic<long> sum{0};
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::vector<coreio::join_handle<int>> hs;
      for (int i = 0; i < per_thread; ++i)
        hs.push_back(rt.spawn(value_after_sleep(t * per_thread + i)));
      for (auto& h : hs) sum.fetch_add(h.get());
    });
  }
  for (auto& t : ts) t.join();
  const long n = threads * per_thread;
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

/// Sets *waiting once suspended on f.
coreio::task<int> await_future_from_other_runtime(coreio::future<int> f,
                                                  std::atomic<bool>* waiting) {
  co_return co_await coreio_test::count_suspension(f, waiting);
}

/// Sets the value once the other runtime's task waits for it.
coreio::task<void> set_later(coreio::promise<int> p, int v, const std::atomic<bool>* waiting) {
  co_await coreio_test::yield_until(waiting);
  p.set_value(v);
}

TEST(RuntimeTest, TwoRuntimesRunSideBySideAndTalkThroughAFuture) {
  coreio::runtime a{coreio::runtime_options{.workers = 1}};
  coreio::runtime b{coreio::runtime_options{.workers = 2}};
  coreio::promise<int> p;
  std::atomic<bool> waiting{false};
  auto waiter = a.spawn(await_future_from_other_runtime(p.get_future(), &waiting));
  auto setter = b.spawn(set_later(std::move(p), 99, &waiting));
  EXPECT_EQ(waiter.get(), 99);
  setter.get();
}

// ---- shutdown ---------------------------------------------------------------------------------

struct shutdown_probe {
  std::atomic<int> started{0};
  std::atomic<int> caught_cancel{0};
  std::atomic<int> finished_normally{0};
};

coreio::task<int> sleep_for_an_hour(shutdown_probe* probe) {
  probe->started.fetch_add(1);
  try {
    co_await coreio::sleep_for(1h);
  } catch (const coreio::cancelled_error&) {
    probe->caught_cancel.fetch_add(1);
    throw;
  }
  probe->finished_normally.fetch_add(1);
  co_return 0;
}

TEST(RuntimeTest, DestroyingCancelsSleepingTasksPromptlyAndTheirCatchBlocksRun) {
  shutdown_probe probe;
  constexpr int n = 16;
  std::vector<coreio::join_handle<int>> handles;
  stopwatch sw;
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    for (int i = 0; i < n; ++i) handles.push_back(rt.spawn(sleep_for_an_hour(&probe)));
    ASSERT_TRUE(wait_until([&] { return probe.started.load() == n; }));
    sw = stopwatch{};
  }  // ~runtime: cancel, wait for the tasks to unwind, join
  EXPECT_LT(sw.elapsed(), prompt) << "shutdown must not wait for the sleeps";
  EXPECT_EQ(probe.caught_cancel.load(), n);
  EXPECT_EQ(probe.finished_normally.load(), 0);
  for (auto& h : handles) {
    EXPECT_TRUE(h.done()) << "every task ended before the runtime was gone";
    EXPECT_THROW(h.get(), coreio::cancelled_error) << "the handle outlives the runtime";
  }
}

TEST(RuntimeTest, DestroyingWithDetachedSleepersDoesNotHang) {
  shutdown_probe probe;
  stopwatch sw;
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    for (int i = 0; i < 8; ++i) rt.spawn(sleep_for_an_hour(&probe)).detach();
    for (int i = 0; i < 8; ++i) (void)rt.spawn(sleep_for_an_hour(&probe));  // dropped handles
    ASSERT_TRUE(wait_until([&] { return probe.started.load() == 16; }));
    sw = stopwatch{};
  }
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(probe.caught_cancel.load(), 16);
}

coreio::task<void> yield_forever(std::atomic<int>* started, std::atomic<int>* ended) {
  started->fetch_add(1);
  try {
    for (;;) co_await coreio::yield_now();
  } catch (const coreio::cancelled_error&) {
    ended->fetch_add(1);
    throw;
  }
}

TEST(RuntimeTest, DestroyingWithWorkInFlightCompletes) {
  std::atomic<int> started{0}, ended{0};
  const int n = sanitized(500, 100);
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    for (int i = 0; i < n; ++i) rt.spawn(yield_forever(&started, &ended)).detach();
    // Destroy while some have started and are mid-yield, and others are still queued.
    ASSERT_TRUE(wait_until([&] { return started.load() >= n / 4; }));
  }
  EXPECT_EQ(ended.load(), started.load()) << "every task that started was cancelled and unwound";
}

TEST(RuntimeTest, DestroyingAnIdleRuntimeIsPrompt) {
  stopwatch sw;
  for (int i = 0; i < 20; ++i) {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  }
  EXPECT_LT(sw.elapsed(), 10s);
}

struct closing_probe {
  std::atomic<int> started{0};
  std::atomic<int> runtime_closed{0};
  std::atomic<int> spawned_anyway{0};
  std::atomic<int> other_error{0};
};

coreio::task<void> noop_task() { co_return; }

coreio::task<void> spawn_during_shutdown(closing_probe* probe) {
  probe->started.fetch_add(1);
  try {
    co_await coreio::sleep_for(1h);
  } catch (const coreio::cancelled_error&) {
    // The runtime is shutting down (it cancelled us): a spawn now must be refused.
    try {
      coreio::spawn(noop_task()).detach();
      probe->spawned_anyway.fetch_add(1);
    } catch (const coreio::runtime_closed&) {
      probe->runtime_closed.fetch_add(1);
    } catch (...) {
      probe->other_error.fetch_add(1);
    }
    throw;
  }
}

TEST(RuntimeTest, TasksSpawnedDuringShutdownGetRuntimeClosed) {
  closing_probe probe;
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    for (int i = 0; i < 4; ++i) rt.spawn(spawn_during_shutdown(&probe)).detach();
    ASSERT_TRUE(wait_until([&] { return probe.started.load() == 4; }));
  }
  EXPECT_EQ(probe.runtime_closed.load(), 4);
  EXPECT_EQ(probe.spawned_anyway.load(), 0);
  EXPECT_EQ(probe.other_error.load(), 0);
}

coreio::task<int> wait_on_blocked_future(coreio::future<int> f, std::atomic<int>* started) {
  started->fetch_add(1);
  co_return co_await f;
}

TEST(RuntimeTest, DestroyingCancelsTasksAwaitingFutures) {
  std::atomic<int> started{0};
  coreio::promise<int> p;
  coreio::join_handle<int> h;
  stopwatch sw;
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    h = rt.spawn(wait_on_blocked_future(p.get_future(), &started));
    ASSERT_TRUE(wait_until([&] { return started.load() == 1; }));
    sw = stopwatch{};
  }
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  p.set_value(1);  // nobody waits any more; must not crash
}

coreio::task<int> busy_between_suspension_points(std::atomic<bool>* started,
                                                 std::atomic<bool>* finished) {
  started->store(true);
  coreio_test::spin_for(100ms);  // nothing can interrupt this stretch
  finished->store(true);
  co_return 1;
}

TEST(RuntimeTest, DestroyingWaitsForATaskThatIsBetweenSuspensionPoints) {
  std::atomic<bool> started{false}, finished{false};
  coreio::join_handle<int> h;
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    h = rt.spawn(busy_between_suspension_points(&started, &finished));
    ASSERT_TRUE(wait_until([&] { return started.load(); }));
  }  // cancel cannot interrupt it: the destructor waits for it to end
  EXPECT_TRUE(finished.load());
  EXPECT_TRUE(h.done());
  EXPECT_EQ(h.get(), 1) << "no suspension point came after the cancel: the task ended normally";
}

// ---- a runtime destroyed inside a task of another ------------------------------------------------

coreio::task<int> short_lived_runtime_inside() {
  {
    coreio::runtime inner{coreio::runtime_options{.workers = 1}};
    auto h = inner.spawn(coreio::task<int>([]() -> coreio::task<int> { co_return 1; }()));
    while (!h.done()) std::this_thread::yield();
  }  // ~runtime on this worker of the outer runtime (allowed: it is not one of inner's)
  // This thread is still a worker of the outer runtime: sleeps, gathers and spawns keep working.
  co_await coreio::sleep_for(1ms);
  auto h = coreio::spawn([]() -> coreio::task<int> { co_return 2; }());
  co_return (coreio::current_worker() >= 0 ? 10 : 0) + co_await h;
}

TEST(RuntimeTest, DestroyingARuntimeInsideATaskOfAnotherLeavesThatWorkerIntact) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_EQ(rt.block_on(short_lived_runtime_inside()), 12);
}

}  // namespace
