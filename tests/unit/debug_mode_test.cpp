// debug_mode_test.cpp — runtime_options::debug (asyncio's debug mode): a deliberately blocking task
// is named, with its spawn place, by the slow-poll warning after its poll and by the watchdog while
// it blocks; tasks pending at shutdown are listed; without debug mode nothing is said.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/log.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/log_capture.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;

// Blocks its worker (a blocking call inside a task: the fault debug mode is there to find).
coreio::task<int> block_for(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);
  co_return 7;
}

// Blocks its worker until the test releases it (at most 10 s).
coreio::task<int> block_until(std::binary_semaphore& release) {
  (void)release.try_acquire_for(10s);
  co_return 7;
}

TEST(DebugModeTest, ABlockingTaskIsNamedByTheWatchdogAndTheSlowPollWarning) {
  coreio_test::log_capture cap;
  coreio::runtime rt{{.workers = 2, .debug = true, .slow_callback_duration = 50ms}};
  std::binary_semaphore release{0};
  const unsigned line = __LINE__ + 1;
  auto h = rt.spawn(block_until(release), "blocker");
  // The watchdog speaks while the task still blocks...
  const bool seen = coreio_test::wait_until([&] { return !cap.containing("is blocked").empty(); });
  EXPECT_FALSE(h.done());
  release.release();
  ASSERT_TRUE(seen);
  EXPECT_EQ(h.get(), 7);
  // ...and the worker when the poll ends.
  ASSERT_TRUE(coreio_test::wait_until([&] { return !cap.containing("slow poll").empty(); }));
  const std::string where = "debug_mode_test.cpp:" + std::to_string(line);
  for (const auto& l : {cap.containing("is blocked")[0], cap.containing("slow poll")[0]}) {
    EXPECT_NE(l.find("warning: "), std::string::npos) << l;
    EXPECT_NE(l.find("'blocker'"), std::string::npos) << l;
    EXPECT_NE(l.find(where), std::string::npos) << l;
  }
  EXPECT_EQ(cap.containing("is blocked").size(), 1u);  // once per poll
  EXPECT_NE(cap.containing("slow poll")[0].find("slow_callback_duration 50 ms"), std::string::npos);
}

coreio::task<int> never_runs() { co_return 1; }

// Joins a task it cancelled before that task could run, then blocks its worker.
coreio::task<int> join_unstarted_then_block() {
  auto h = coreio::spawn(never_runs());
  h.cancel();
  try {
    (void)co_await h;  // suspends: the task is queued behind this one
  } catch (const coreio::cancelled_error&) {
  }
  std::this_thread::sleep_for(200ms);
  co_return 7;
}

TEST(DebugModeTest, ATaskResumedByTheEndOfOneCancelledBeforeItRanIsWatchedToo) {
  // The cancelled task never runs; its end resumes the joiner, whose poll is timed and named as
  // any other (sched/first_run.hpp).
  coreio_test::log_capture cap;
  coreio::runtime rt{{.workers = 1, .debug = true, .slow_callback_duration = 50ms}};
  auto h = rt.spawn(join_unstarted_then_block(), "joiner");
  EXPECT_EQ(h.get(), 7);
  ASSERT_TRUE(coreio_test::wait_until([&] { return !cap.containing("slow poll").empty(); }));
  const std::string l = cap.containing("slow poll")[0];
  EXPECT_NE(l.find("'joiner'"), std::string::npos) << l;
}

TEST(DebugModeTest, TasksPendingAtShutdownAreListed) {
  coreio_test::log_capture cap;
  unsigned line = 0;
  {
    coreio::runtime rt{{.workers = 1, .debug = true}};
    line = __LINE__ + 1;
    rt.spawn([]() -> coreio::task<void> { co_await coreio::sleep_for(10s); }(), "sleeper").detach();
    auto quick = rt.spawn([]() -> coreio::task<int> { co_return 1; }(), "quick");
    EXPECT_EQ(quick.get(), 1);
  }
  const auto pending = cap.containing("pending at shutdown");
  ASSERT_EQ(pending.size(), 1u) << ::testing::PrintToString(cap.lines());
  EXPECT_NE(pending[0].find("'sleeper'"), std::string::npos) << pending[0];
  EXPECT_NE(pending[0].find("debug_mode_test.cpp:" + std::to_string(line)), std::string::npos);
  // As the tree of dump_tasks: the task and what it waits on.
  EXPECT_NE(pending[0].find(": sleeping until +"), std::string::npos) << pending[0];
}

TEST(DebugModeTest, OffItSaysNothing) {
  if (std::getenv("COREIO_DEBUG") != nullptr) GTEST_SKIP() << "COREIO_DEBUG is set";
  coreio_test::log_capture cap;
  {
    coreio::runtime rt{{.workers = 1, .slow_callback_duration = 10ms}};
    EXPECT_EQ(rt.block_on(block_for(60ms)), 7);
    rt.spawn([]() -> coreio::task<void> { co_await coreio::sleep_for(10s); }()).detach();
  }
  EXPECT_EQ(cap.lines(), std::vector<std::string>{});
}

TEST(DebugModeTest, TheEnvironmentTurnsItOn) {
  coreio_test::log_capture cap;
  ::setenv("COREIO_DEBUG", "1", 1);
  {
    coreio::runtime rt{{.workers = 1, .slow_callback_duration = 20ms}};
    ::unsetenv("COREIO_DEBUG");
    EXPECT_EQ(rt.block_on(block_for(60ms)), 7);
  }
  EXPECT_FALSE(cap.containing("slow poll").empty());
}

TEST(DebugModeTest, AZeroThresholdIsRefused) {
  EXPECT_THROW((coreio::runtime{{.workers = 1, .slow_callback_duration = 0ms}}),
               std::invalid_argument);
}

}  // namespace
