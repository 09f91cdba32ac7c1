// cancel_before_start_test.cpp — a task cancelled before it first runs never runs its body
// (asyncio: a task cancelled before its first step raises CancelledError there, before its first
// statement), for every way a task is started: spawn, a gather's children, a task_group's
// children, as_completed's tasks; while the library's own tasks that keep books (serve's accept
// loop) still run theirs, and the bodies asyncio runs inline (a timeout_scope's, wait_for's) still
// start (timeout_test and wait_for_test cover those two).
#include <coreio/coreio.hpp>
#include <coreio/net/serve.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::gate;
using coreio_test::test_error;
using coreio_test::wait_until;

// Counts the bodies that began, and the frames freed (run or not), through a token each task owns.
struct start_count {
  std::atomic<int> started{0};
  std::atomic<int> freed{0};
};

struct frame_token {
  start_count* c;
  explicit frame_token(start_count* x) : c(x) {}
  frame_token(frame_token&& o) noexcept : c(std::exchange(o.c, nullptr)) {}
  frame_token& operator=(frame_token&&) = delete;
  ~frame_token() {
    if (c != nullptr) c->freed.fetch_add(1);
  }
};

coreio::task<int> record_start(frame_token t) {
  t.c->started.fetch_add(1);
  co_return 1;
}

coreio::task<int> fail_now() {
  throw test_error(7);
  co_return 0;
}

// Holds the only worker (on purpose) until the test thread opens g.
coreio::task<int> hold_worker(gate* g, std::atomic<bool>* holding) {
  holding->store(true);
  g->wait();
  co_return 2;
}

TEST(CancelBeforeStart, AGatherChildNotYetStartedWhenASiblingFailsNeverRuns) {
  // One worker: child 0 runs first, inline; the others wait on the fork deque until it ends.
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  start_count c;
  auto body = [](start_count* c) -> coreio::task<int> {
    // Made outside the co_await: g++ 12 mishandles temporaries with destructors inside one.
    coreio::task<int> t1 = record_start(frame_token{c});
    coreio::task<int> t2 = record_start(frame_token{c});
    try {
      (void)co_await coreio::gather(fail_now(), std::move(t1), std::move(t2));
    } catch (const test_error& e) {
      co_return e.value;
    }
    co_return -1;
  };
  EXPECT_EQ(rt.block_on(body(&c)), 7);
  EXPECT_EQ(c.started.load(), 0) << "gather cancelled them before they first ran";
  EXPECT_EQ(c.freed.load(), 2);
}

TEST(CancelBeforeStart, AGatherChildNotYetStartedWhenTheParentIsCancelledNeverRuns) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  start_count c;
  gate g;
  std::atomic<bool> holding{false};
  auto body = [](start_count* c, gate* g, std::atomic<bool>* holding) -> coreio::task<int> {
    coreio::task<int> t = record_start(frame_token{c});
    auto [a, b] = co_await coreio::gather(hold_worker(g, holding), std::move(t));
    co_return a + b;
  };
  auto h = rt.spawn(body(&c, &g, &holding));
  ASSERT_TRUE(wait_until([&] { return holding.load(); }));
  h.cancel();  // reaches child 1 on the fork deque, not yet started (child 0 holds the worker)
  g.open();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(c.started.load(), 0);
  EXPECT_EQ(c.freed.load(), 1);
}

TEST(CancelBeforeStart, TaskGroupChildrenCancelledBeforeTheyRunNeverRun) {
  // One worker: the children are queued behind the owner, which cancels the group without
  // suspending first.
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  start_count c;
  auto body = [](start_count* c) -> coreio::task<int> {
    coreio::task_group group;
    std::vector<coreio::join_handle<int>> hs;
    for (int i = 0; i < 3; ++i) hs.push_back(group.spawn(record_start(frame_token{c})));
    group.cancel();
    co_await group.join();  // cancelled children are not failures
    // join() has returned: every task given to spawn() is gone, arguments included, though the
    // handles are still held.
    EXPECT_EQ(c->freed.load(), 3);
    int cancelled = 0;
    for (auto& h : hs) {
      try {
        (void)co_await h;
      } catch (const coreio::cancelled_error&) {
        ++cancelled;
      }
    }
    co_return cancelled;
  };
  EXPECT_EQ(rt.block_on(body(&c)), 3);
  EXPECT_EQ(c.started.load(), 0);
  EXPECT_EQ(c.freed.load(), 3);
}

TEST(CancelBeforeStart, AsCompletedTasksOfASetDroppedBeforeTheyRunNeverRun) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  start_count c;
  auto body = [](start_count* c) -> coreio::task<void> {
    std::vector<coreio::task<int>> ts;
    for (int i = 0; i < 3; ++i) ts.push_back(record_start(frame_token{c}));
    {
      auto set = coreio::as_completed(std::move(ts));
    }  // dropped at once: its tasks are cancelled while still queued behind this one
    co_return;
  };
  rt.block_on(body(&c));
  EXPECT_TRUE(wait_until([&] { return c.freed.load() == 3; }));
  EXPECT_EQ(c.started.load(), 0);
}

TEST(CancelBeforeStart, ServeStoppedBeforeItsAcceptLoopRunsStillDrainsAndClosesTheListener) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  auto body = []() -> coreio::task<bool> {
    auto lis = coreio::net::tcp_listener::bind("127.0.0.1", 0);
    const std::uint16_t port = lis.port();
    auto handler = [](coreio::net::tcp_stream) -> coreio::task<void> { co_return; };
    coreio::net::server srv = coreio::net::serve(std::move(lis), handler);
    srv.stop();  // before the accept loop first ran: one worker, and this task has not suspended
    co_await coreio::wait_for(srv.wait(), 10s);  // timeout_error if the drain never comes
    // The listener is closed: a connect is refused.
    bool refused = false;
    try {
      auto s = co_await coreio::net::tcp_stream::connect("127.0.0.1", port);
    } catch (const std::system_error&) {
      refused = true;
    }
    co_return refused;
  };
  EXPECT_TRUE(rt.block_on(body()));
}

}  // namespace
