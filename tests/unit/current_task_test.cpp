// current_task_test.cpp — coreio/current_task.hpp and coreio/log.hpp: a spawned task knows its
// id, name and spawn place; current_task().cancel() cancels the caller; a failure that no one
// retrieves is reported through the log sink with the task's name and place, and only then.
#include <coreio/current_task.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/gather.hpp>
#include <coreio/log.hpp>
#include <coreio/runtime.hpp>
#include <coreio/shield.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/task_group.hpp>
#include <coreio/time.hpp>
#include <coreio/timeout.hpp>
#include <coreio/wait_for.hpp>

#include "support/log_capture.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;

struct seen {
  std::uint64_t id;
  std::string name;
  unsigned line;
  std::string file;
};

coreio::task<seen> who_am_i() {
  coreio::task_ref me = co_await coreio::current_task();
  co_return seen{me.id(), std::string(me.name()), me.spawned_at().line(),
                 me.spawned_at().file_name()};
}

// Awaited inline: still the spawned task's identity.
coreio::task<seen> nested() { co_return co_await who_am_i(); }

TEST(CurrentTaskTest, ASpawnedTaskKnowsItsIdNameAndSpawnPlace) {
  coreio::runtime rt{{.workers = 2}};
  rt.block_on([]() -> coreio::task<void> {
    const unsigned line = __LINE__ + 1;
    auto named = coreio::spawn(nested(), "fetch");
    auto unnamed = coreio::spawn(who_am_i());
    const std::uint64_t named_id = named.id();
    const seen a = co_await named;
    const seen b = co_await unnamed;
    EXPECT_EQ(a.id, named_id);
    EXPECT_NE(a.id, 0u);
    EXPECT_NE(a.id, b.id);
    EXPECT_EQ(a.name, "fetch");
    EXPECT_EQ(b.name, "");
    EXPECT_EQ(a.line, line);
    EXPECT_EQ(b.line, line + 1);
    EXPECT_NE(a.file.find("current_task_test.cpp"), std::string::npos) << a.file;
  }());
}

TEST(CurrentTaskTest, IdsAreUniqueAcrossWorkersAndThreads) {
  coreio::runtime rt{{.workers = 2}};
  std::vector<coreio::join_handle<seen>> hs;
  for (int i = 0; i < 200; ++i) hs.push_back(rt.spawn(who_am_i(), "outside"));  // plain thread
  auto inside = rt.block_on([]() -> coreio::task<std::vector<std::uint64_t>> {
    std::vector<coreio::join_handle<seen>> mine;
    for (int i = 0; i < 200; ++i) mine.push_back(coreio::spawn(who_am_i()));
    std::vector<std::uint64_t> ids;
    for (auto& h : mine) ids.push_back((co_await h).id);
    co_return ids;
  }());
  std::set<std::uint64_t> ids(inside.begin(), inside.end());
  for (auto& h : hs) {
    const seen s = h.get();
    EXPECT_EQ(s.name, "outside");
    ids.insert(s.id);
  }
  EXPECT_EQ(ids.size(), 400u);
  EXPECT_FALSE(ids.contains(0));
}

TEST(CurrentTaskTest, AGatherChildHasNoIdentityOfItsOwn) {
  coreio::runtime rt{{.workers = 1}};
  auto r = rt.block_on([]() -> coreio::task<std::tuple<seen, seen>> {
    co_return co_await coreio::gather(who_am_i(), who_am_i());
  }());
  EXPECT_EQ(std::get<0>(r).id, 0u);
  EXPECT_EQ(std::get<1>(r).name, "");
}

TEST(CurrentTaskTest, CancelFromInsideCancelsTheCallerAtItsNextSuspension) {
  coreio::runtime rt{{.workers = 2}};
  auto h = rt.spawn([]() -> coreio::task<int> {
    coreio::task_ref me = co_await coreio::current_task();
    me.cancel();
    co_await coreio::sleep_for(10s);  // throws cancelled_error at once
    co_return 1;
  }());
  EXPECT_THROW(h.get(), coreio::cancelled_error);
}

// A cancel that no suspension point meets before the task returns leaves its value: what the task
// was handed before the cancel (a permit, a queue item) is not lost with it (README, Cancellation;
// asyncio ends such a task cancelled, test_cancel_at_end, but it hands a waiter nothing before the
// waiter runs). One whose code meets the cancel, catches it and returns ends with that value
// (test_cancel_task_catching), whichever kind of suspension point met it, also one in a coroutine
// it awaited inline.
coreio::task<int> cancel_then_meet(int how) {
  coreio::task_ref me = co_await coreio::current_task();
  me.cancel();
  try {
    if (how == 0) co_await coreio::yield_now();
    if (how == 1) co_await coreio::sleep_for(10s);
    if (how == 2) co_await coreio::sleep_for(0s);
    if (how == 3) {
      coreio::event never;
      co_await never.wait();
    }
    if (how == 4) {
      coreio::task<void> inner = []() -> coreio::task<void> { co_await coreio::yield_now(); }();
      co_await std::move(inner);
    }
  } catch (const coreio::cancelled_error&) {
    co_return 42;
  }
  co_return -1;
}

TEST(CurrentTaskTest, ACancelNoSuspensionPointMeetsLeavesTheValue) {
  coreio::runtime rt{{.workers = 2}};
  auto at_end = rt.spawn([]() -> coreio::task<int> {
    coreio::task_ref me = co_await coreio::current_task();
    me.cancel();
    co_return 12;
  }());
  EXPECT_EQ(at_end.get(), 12);
  for (int how = 0; how < 5; ++how) EXPECT_EQ(rt.spawn(cancel_then_meet(how)).get(), 42) << how;
}

// The bodies of timeout_scope::run and wait_for run in their caller's task (asyncio's timeout()
// and wait_for() await the coroutine in the current task): current_task() there is the caller's,
// and its cancel() cancels the caller, the body with it: run() and wait_for() throw
// cancelled_error (not a timeout, the scope has not expired), and the caller stays cancelled
// (CPython's test_foreign_cancel_doesnt_timeout_if_not_expired).
coreio::task<void> cancel_me_inside() {
  coreio::task_ref me = co_await coreio::current_task();
  me.cancel();
  co_await coreio::sleep_for(10s);  // throws cancelled_error at once
}

TEST(CurrentTaskTest, TimeoutAndWaitForBodiesAreTheCallersTask) {
  coreio::runtime rt{{.workers = 2}};
  for (int how = 0; how < 2; ++how) {
    auto h = rt.spawn(
        [](int how) -> coreio::task<std::string> {
          coreio::task_ref outer = co_await coreio::current_task();
          coreio::task<seen> a = who_am_i();
          const seen inner = co_await coreio::wait_for(std::move(a), 10s);
          coreio::timeout_scope cm{10s};
          coreio::task<seen> b = who_am_i();
          const seen scoped = co_await cm.run(std::move(b));
          EXPECT_EQ(inner.id, outer.id());
          EXPECT_EQ(scoped.id, outer.id());
          EXPECT_EQ(scoped.name, "outer");
          std::string got = "nothing";
          try {
            coreio::task<void> body = cancel_me_inside();
            if (how == 0) {
              coreio::timeout_scope again{10s};
              co_await again.run(std::move(body));
              EXPECT_FALSE(again.expired());
            } else {
              co_await coreio::wait_for(std::move(body), 10s);
            }
          } catch (const coreio::timeout_error&) {
            got = "timeout_error";
          } catch (const coreio::cancelled_error&) {
            got = "cancelled_error";
          }
          try {
            co_await coreio::sleep_for(1ms);  // the caller itself was cancelled: sticky
            got += ", then slept";
          } catch (const coreio::cancelled_error&) {
            got += ", then cancelled";
          }
          co_return got;
        }(how),
        "outer");
    EXPECT_EQ(h.get(), "cancelled_error, then cancelled") << how;
  }
}

// An uncancellable body is the caller's task too; cancelling it from inside cancels the caller,
// and the body runs on to its end.
TEST(CurrentTaskTest, AnUncancellableBodyIsTheCallersTask) {
  coreio::runtime rt{{.workers = 2}};
  auto h = rt.spawn(
      []() -> coreio::task<std::string> {
        coreio::task_ref outer = co_await coreio::current_task();
        coreio::task<int> body = [](std::uint64_t outer_id) -> coreio::task<int> {
          coreio::task_ref me = co_await coreio::current_task();
          EXPECT_EQ(me.id(), outer_id);
          me.cancel();
          co_await coreio::sleep_for(1ms);  // runs on: uncancellable
          co_return 3;
        }(outer.id());
        const int v = co_await coreio::uncancellable(std::move(body));
        std::string got = std::to_string(v);
        try {
          co_await coreio::sleep_for(1ms);
          got += ", then slept";
        } catch (const coreio::cancelled_error&) {
          got += ", then cancelled";
        }
        co_return got;
      }(),
      "outer");
  EXPECT_EQ(h.get(), "3, then cancelled");
}

// A task that awaits its own join_handle would wait for ever: usage_error at the co_await, from
// the task itself or from a thread of execution inside it (a gather child), as asyncio raises
// RuntimeError("Task cannot await on itself"); through shield() too.
TEST(CurrentTaskTest, ATaskThatAwaitsItsOwnHandleGetsUsageError) {
  coreio::runtime rt{{.workers = 2}};
  for (int how = 0; how < 3; ++how) {
    coreio::join_handle<int>* self = nullptr;
    coreio::event ready;
    auto h = rt.spawn([](coreio::join_handle<int>** self, coreio::event* ready,
                         int how) -> coreio::task<int> {
      co_await ready->wait();
      try {
        if (how == 0) co_return co_await **self;
        if (how == 1) co_return co_await coreio::shield(**self);
        coreio::task<int> mine = [](coreio::join_handle<int>* s) -> coreio::task<int> {
          co_return co_await *s;
        }(*self);
        coreio::task<int> other = []() -> coreio::task<int> { co_return 1; }();
        auto [v, w] = co_await coreio::gather(std::move(mine), std::move(other));
        co_return v + w;
      } catch (const coreio::usage_error& e) {
        EXPECT_NE(std::string(e.what()).find("its own join_handle"), std::string::npos) << e.what();
        co_return 7;
      }
    }(&self, &ready, how));
    self = &h;
    ready.set();
    EXPECT_EQ(h.get(), 7) << how;
  }
}

coreio::task<void> fail_with(std::string what) {
  co_await coreio::yield_now();
  throw std::runtime_error(what);
}

TEST(NeverRetrievedTest, ADetachedFailingTaskIsReportedWithItsNameAndPlace) {
  coreio_test::log_capture cap;
  {
    coreio::runtime rt{{.workers = 2}};
    const unsigned line = __LINE__ + 1;
    rt.spawn(fail_with("disk on fire"), "scrub").detach();
    ASSERT_TRUE(coreio_test::wait_until([&] { return !cap.lines().empty(); }));
    const auto lines = cap.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("error: task exception was never retrieved"), std::string::npos)
        << lines[0];
    EXPECT_NE(lines[0].find("'scrub'"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("current_task_test.cpp:" + std::to_string(line)), std::string::npos)
        << lines[0];
    EXPECT_NE(lines[0].find("disk on fire"), std::string::npos) << lines[0];
  }
  EXPECT_EQ(cap.lines().size(), 1u);
}

TEST(NeverRetrievedTest, AHandleDroppedAfterTheFailureReportsIt) {
  coreio_test::log_capture cap;
  coreio::runtime rt{{.workers = 2}};
  {
    auto h = rt.spawn(fail_with("late"));
    ASSERT_TRUE(coreio_test::wait_until([&] { return h.done(); }));
    EXPECT_TRUE(cap.lines().empty());  // the handle could still take it
  }
  // done() turns true when the task completes its cell; its worker lets go of the frame just
  // after. Whichever of the two owners lets go last reports, so the line may come a moment later.
  ASSERT_TRUE(coreio_test::wait_until([&] { return !cap.lines().empty(); }));
  ASSERT_EQ(cap.lines().size(), 1u);
  EXPECT_NE(cap.lines()[0].find("late"), std::string::npos);
}

TEST(NeverRetrievedTest, RetrievedCancelledOrGroupHandledFailuresAreNotReported) {
  coreio_test::log_capture cap;
  {
    coreio::runtime rt{{.workers = 2}};
    auto h = rt.spawn(fail_with("taken"));
    EXPECT_THROW(h.get(), std::runtime_error);  // retrieved
    auto c = rt.spawn([]() -> coreio::task<void> { co_await coreio::sleep_for(10s); }());
    c.cancel();
    c.detach();  // ends with cancelled_error: not a failure
    rt.block_on([]() -> coreio::task<void> {
      coreio::task_group g;
      g.spawn(fail_with("group"));  // handle dropped: the group reports it from join()
      EXPECT_THROW(co_await g.join(), std::runtime_error);
    }());
    rt.spawn([]() -> coreio::task<void> { co_await coreio::sleep_for(10s); }()).detach();
  }  // shutdown cancels the last one: not reported either
  EXPECT_EQ(cap.lines(), std::vector<std::string>{});
}

TEST(LogTest, TheDefaultSinkIsRestoredByNullptr) {
  std::vector<std::string> got;
  coreio::set_log_sink([&](coreio::log_level, std::string_view t) { got.emplace_back(t); });
  coreio::log(coreio::log_level::warning, "one");
  coreio::set_log_sink(nullptr);
  testing::internal::CaptureStderr();
  coreio::log(coreio::log_level::warning, "two");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(got, std::vector<std::string>{"one"});
  EXPECT_EQ(err, "coreio warning: two\n");
}

}  // namespace
