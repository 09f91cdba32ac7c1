// budget_test.cpp — every resource spends the per-poll budget (128 operations, as Tokio's coop
// budget): an operation that completes without suspending charges it, and once it is spent the
// task yields behind the ready work. So a task looping over an always-ready operation cannot starve
// the other tasks of its worker: on one worker, a task spawned beside the loop (or a timer falling
// due) gets to run. Conversely, while budget remains, ready operations do not suspend.
// sleep_for(0) and sleep_until(a past time point) are asyncio.sleep(0): they always yield.
//
// Every loop is bounded (iterations and time), so a missing yield fails the test instead of
// hanging it.
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

coreio::runtime_options one_worker() { return coreio::runtime_options{.workers = 1}; }

constexpr long max_iterations = 2'000'000;

/// When a loop of ready operations stops: once the flag is set, after max_iterations, or (looked
/// at every 1024 iterations) once the deadline has passed.
struct loop_limit {
  const std::atomic<bool>* flag;
  long max_iterations;
  steady::time_point deadline;
  bool go_on(long i) const {
    if (flag->load()) return false;
    if (i >= max_iterations) return false;
    return (i & 1023) != 0 || steady::now() < deadline;
  }
};

/// A loop of one always-ready operation; gives the iterations it made.
using loop_fn = coreio::task<long> (*)(const loop_limit*);

coreio::task<long> queue_get_loop(const loop_limit* lim) {
  coreio::queue<int> q;
  long i = 0;
  for (; lim->go_on(i); ++i) {
    q.try_put(1);
    (void)co_await q.get();
  }
  co_return i;
}

coreio::task<long> queue_put_loop(const loop_limit* lim) {
  coreio::queue<int> q{4};
  long i = 0;
  for (; lim->go_on(i); ++i) {
    co_await q.put(1);
    (void)q.try_get();
  }
  co_return i;
}

coreio::task<long> mutex_lock_loop(const loop_limit* lim) {
  coreio::mutex m;
  long i = 0;
  for (; lim->go_on(i); ++i) {
    auto lock = co_await m.lock();
  }
  co_return i;
}

coreio::task<long> semaphore_acquire_loop(const loop_limit* lim) {
  coreio::semaphore s{1};
  long i = 0;
  for (; lim->go_on(i); ++i) {
    auto permit = co_await s.acquire();
  }
  co_return i;
}

coreio::task<long> set_event_wait_loop(const loop_limit* lim) {
  coreio::event e;
  e.set();
  long i = 0;
  for (; lim->go_on(i); ++i) co_await e.wait();
  co_return i;
}

coreio::task<long> ready_future_loop(const loop_limit* lim) {
  long i = 0;
  for (; lim->go_on(i); ++i) {
    coreio::promise<int> p;
    auto f = p.get_future();
    p.set_value(1);
    (void)co_await f;
  }
  co_return i;
}

coreio::task<long> latch_at_zero_loop(const loop_limit* lim) {
  coreio::latch l{0};
  long i = 0;
  for (; lim->go_on(i); ++i) co_await l.wait();
  co_return i;
}

coreio::task<long> sleep_for_zero_loop(const loop_limit* lim) {
  long i = 0;
  for (; lim->go_on(i); ++i) co_await coreio::sleep_for(0ms);
  co_return i;
}

coreio::task<long> sleep_until_the_past_loop(const loop_limit* lim) {
  long i = 0;
  for (; lim->go_on(i); ++i) co_await coreio::sleep_until(steady::now() - 1s);
  co_return i;
}

struct loop_result {
  long iterations = 0;
  bool flag_seen = false;
};

coreio::task<void> set_flag(std::atomic<bool>* flag) {
  flag->store(true);
  co_return;
}

coreio::task<void> set_flag_after(std::chrono::milliseconds d, std::atomic<bool>* flag) {
  co_await coreio::sleep_for(d);
  flag->store(true);
}

/// Spawns a task that sets a flag, then runs `loop` until the flag is set. On one worker the
/// spawned task can run only if the loop yields.
coreio::task<loop_result> loop_beside_a_spawned_task(loop_fn loop) {
  co_await coreio::yield_now();  // start from a fresh poll
  std::atomic<bool> flag{false};
  auto setter = coreio::spawn(set_flag(&flag));
  const loop_limit lim{&flag, max_iterations, steady::now() + 10s};
  const long n = co_await loop(&lim);
  const bool seen = flag.load();
  co_await setter;
  co_return loop_result{n, seen};
}

/// Starts a task sleeping 10 ms, then runs `loop` until that task has woken and set the flag (or
/// 10 s have passed: a limit against a hang, not a speed bound). On one worker the timer can fire
/// only if the loop yields.
coreio::task<loop_result> loop_beside_a_sleeping_task(loop_fn loop) {
  std::atomic<bool> flag{false};
  auto sleeper = coreio::spawn(set_flag_after(10ms, &flag));
  co_await coreio::yield_now();  // the sleeper starts its sleep
  const loop_limit lim{&flag, std::numeric_limits<long>::max(), steady::now() + 10s};
  const long n = co_await loop(&lim);
  const bool seen = flag.load();
  co_await sleeper;
  co_return loop_result{n, seen};
}

void report(const char* what, const loop_result& r) {
  std::printf("[ %s ] %ld ready operations before the other task ran%s\n", what, r.iterations,
              r.flag_seen ? "" : " (it never did)");
  ::testing::Test::RecordProperty(std::string(what) + "_iterations", std::to_string(r.iterations));
}

void expect_the_loop_lets_a_spawned_task_run(loop_fn loop, const char* what) {
  coreio::runtime rt{one_worker()};
  const loop_result r = rt.block_on(loop_beside_a_spawned_task(loop));
  report(what, r);
  EXPECT_TRUE(r.flag_seen) << what << ": " << r.iterations
                           << " ready operations in a row without letting the spawned task run";
}

TEST(BudgetTest, AReadyQueueGetSpendsTheBudget) {
  expect_the_loop_lets_a_spawned_task_run(&queue_get_loop, "queue_get");
}

TEST(BudgetTest, AQueuePutWithRoomSpendsTheBudget) {
  expect_the_loop_lets_a_spawned_task_run(&queue_put_loop, "queue_put");
}

TEST(BudgetTest, LockingAFreeMutexSpendsTheBudget) {
  expect_the_loop_lets_a_spawned_task_run(&mutex_lock_loop, "mutex_lock");
}

TEST(BudgetTest, AcquiringAFreePermitSpendsTheBudget) {
  expect_the_loop_lets_a_spawned_task_run(&semaphore_acquire_loop, "semaphore_acquire");
}

TEST(BudgetTest, WaitingOnASetEventSpendsTheBudget) {
  expect_the_loop_lets_a_spawned_task_run(&set_event_wait_loop, "event_wait");
}

TEST(BudgetTest, AwaitingAReadyFutureSpendsTheBudget) {
  expect_the_loop_lets_a_spawned_task_run(&ready_future_loop, "future");
}

TEST(BudgetTest, WaitingOnALatchAtZeroSpendsTheBudget) {
  expect_the_loop_lets_a_spawned_task_run(&latch_at_zero_loop, "latch_wait");
}

TEST(BudgetTest, ALoopOfSleepForZeroLetsASpawnedTaskRun) {
  expect_the_loop_lets_a_spawned_task_run(&sleep_for_zero_loop, "sleep_for_zero");
}

TEST(BudgetTest, ALoopOfSleepUntilThePastLetsASpawnedTaskRun) {
  expect_the_loop_lets_a_spawned_task_run(&sleep_until_the_past_loop, "sleep_until_past");
}

TEST(BudgetTest, ALoopOfReadyQueueGetsLetsADueTimerFire) {
  coreio::runtime rt{one_worker()};
  const loop_result r = rt.block_on(loop_beside_a_sleeping_task(&queue_get_loop));
  report("queue_get_beside_timer", r);
  EXPECT_TRUE(r.flag_seen) << r.iterations
                           << " ready queue gets in a row without letting a 10 ms timer fire";
}

// ---- join handles: each can be awaited once, so the loop runs over tasks that already ended ----

constexpr int finished_tasks = 1000;  // well beyond the budget

coreio::task<int> trivial(int v) { co_return v; }

/// Spawns `finished_tasks` trivial tasks and waits until all have ended; then spawns a task that
/// sets a flag and awaits the finished handles one after the other until the flag is set.
/// iterations is -1 if the trivial tasks never all ended.
coreio::task<loop_result> finished_handles_beside_a_spawned_task() {
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < finished_tasks; ++i) hs.push_back(coreio::spawn(trivial(i)));
  const auto deadline = steady::now() + 10s;
  const auto all_done = [&] {
    for (const auto& h : hs) {
      if (!h.done()) return false;
    }
    return true;
  };
  while (!all_done() && steady::now() < deadline) co_await coreio::yield_now();
  if (!all_done()) co_return loop_result{-1, false};
  co_await coreio::yield_now();  // start from a fresh poll
  std::atomic<bool> flag{false};
  auto setter = coreio::spawn(set_flag(&flag));
  long i = 0;
  for (; i < finished_tasks && !flag.load(); ++i) (void)co_await hs[static_cast<std::size_t>(i)];
  const bool seen = flag.load();
  co_await setter;
  co_return loop_result{i, seen};
}

TEST(BudgetTest, AwaitingAFinishedJoinHandleSpendsTheBudget) {
  coreio::runtime rt{one_worker()};
  const loop_result r = rt.block_on(finished_handles_beside_a_spawned_task());
  ASSERT_GE(r.iterations, 0) << "the trivial tasks never all ended";
  report("join_handle", r);
  EXPECT_TRUE(r.flag_seen)
      << r.iterations
      << " finished join handles awaited in a row without letting the spawned task run";
}

// ---- sleep_for(0) / sleep_until(the past) are asyncio.sleep(0): they yield every time ----------

coreio::task<bool> sleep_for_zero_beside_a_spawned_task() {
  co_await coreio::yield_now();  // start from a fresh poll
  std::atomic<bool> flag{false};
  auto setter = coreio::spawn(set_flag(&flag));
  co_await coreio::sleep_for(0ms);
  const bool seen = flag.load();
  co_await setter;
  co_return seen;
}

TEST(BudgetTest, SleepForZeroYieldsAtOnce) {
  coreio::runtime rt{one_worker()};
  EXPECT_TRUE(rt.block_on(sleep_for_zero_beside_a_spawned_task()))
      << "a spawned task had not run after one sleep_for(0ms)";
}

coreio::task<bool> sleep_until_the_past_beside_a_spawned_task() {
  co_await coreio::yield_now();  // start from a fresh poll
  std::atomic<bool> flag{false};
  auto setter = coreio::spawn(set_flag(&flag));
  co_await coreio::sleep_until(steady::now() - 1s);
  const bool seen = flag.load();
  co_await setter;
  co_return seen;
}

TEST(BudgetTest, SleepUntilAPastTimePointYieldsAtOnce) {
  coreio::runtime rt{one_worker()};
  EXPECT_TRUE(rt.block_on(sleep_until_the_past_beside_a_spawned_task()))
      << "a spawned task had not run after one sleep_until(now - 1s)";
}

// ---- while budget remains, ready operations do not suspend -------------------------------------

struct converse_result {
  int sum = 0;
  bool ran_before_yield = true;
  bool ran_after_yield = false;
};

coreio::task<converse_result> ten_ready_gets_beside_a_spawned_task() {
  co_await coreio::yield_now();  // start from a fresh poll: the whole budget ahead
  coreio::queue<int> q;
  for (int i = 0; i < 10; ++i) q.try_put(i);
  std::atomic<bool> flag{false};
  auto setter = coreio::spawn(set_flag(&flag));
  converse_result r;
  for (int i = 0; i < 10; ++i) r.sum += co_await q.get();
  r.ran_before_yield = flag.load();
  co_await coreio::yield_now();
  r.ran_after_yield = flag.load();
  co_await setter;
  co_return r;
}

TEST(BudgetTest, ReadyOperationsDoNotSuspendWhileBudgetRemains) {
  coreio::runtime rt{one_worker()};
  const converse_result r = rt.block_on(ten_ready_gets_beside_a_spawned_task());
  EXPECT_EQ(r.sum, 45);
  EXPECT_FALSE(r.ran_before_yield) << "one of 10 ready gets suspended with budget left";
  EXPECT_TRUE(r.ran_after_yield) << "the spawned task had not run after a yield";
}

}  // namespace
