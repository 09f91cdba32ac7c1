// deep_cancel_test.cpp — cancellation of any depth without stack growth (detail/cancel_scope.hpp,
// "Depth"; trio issue 1235): spawn/join chains, nested gather, nested wait_for and nested task
// groups, a million levels deep (a hundred thousand under a sanitizer), cancelled from the top,
// from a plain thread and from a worker. Each level forwards the cancel to the next; done by
// recursion it took about 16 bytes of stack per level and crashed past ~500,000 levels.
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;

const std::uint32_t depth = coreio_test::sanitized<std::uint32_t>(1'000'000, 100'000);

/// The bottom of every chain: says it is there, then sleeps until cancelled.
coreio::task<std::uint32_t> bottom(std::atomic<bool>* reached) {
  reached->store(true);
  co_await coreio::sleep_for(std::chrono::hours(1));
  co_return 0;
}

coreio::task<std::uint32_t> spawn_chain(std::uint32_t d, std::atomic<bool>* reached) {
  if (d == 0) co_return co_await bottom(reached);
  auto h = coreio::spawn(spawn_chain(d - 1, reached));
  co_return co_await h + 1;
}

coreio::task<std::uint32_t> gather_chain(std::uint32_t d, std::atomic<bool>* reached) {
  if (d == 0) co_return co_await bottom(reached);
  auto [v] = co_await coreio::gather(gather_chain(d - 1, reached));
  co_return v + 1;
}

coreio::task<std::uint32_t> wait_for_chain(std::uint32_t d, std::atomic<bool>* reached) {
  if (d == 0) co_return co_await bottom(reached);
  co_return co_await coreio::wait_for(wait_for_chain(d - 1, reached), std::chrono::hours(2)) + 1;
}

coreio::task<std::uint32_t> group_chain(std::uint32_t d, std::atomic<bool>* reached) {
  if (d == 0) co_return co_await bottom(reached);
  coreio::task_group g;
  auto h = g.spawn(group_chain(d - 1, reached));
  co_await g.join();
  co_return co_await h + 1;
}

enum class shape { spawn, gather, wait_for, group };

coreio::task<std::uint32_t> chain(shape s, std::uint32_t d, std::atomic<bool>* reached) {
  switch (s) {
    case shape::spawn:
      return spawn_chain(d, reached);
    case shape::gather:
      return gather_chain(d, reached);
    case shape::wait_for:
      return wait_for_chain(d, reached);
    case shape::group:
      break;
  }
  return group_chain(d, reached);
}

/// From a worker: spawns the chain, waits until its bottom is reached, cancels it, awaits it.
coreio::task<bool> cancel_from_a_worker(shape s, std::atomic<bool>* reached) {
  auto h = coreio::spawn(chain(s, depth, reached));
  while (!reached->load()) co_await coreio::sleep_for(1ms);
  h.cancel();
  try {
    co_await h;
  } catch (const coreio::cancelled_error&) {
    co_return true;
  }
  co_return false;
}

class DeepCancelTest : public ::testing::TestWithParam<shape> {};

TEST_P(DeepCancelTest, AMillionLevelsCancelledFromAPlainThreadUnwindWithoutStackGrowth) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> reached{false};
  auto h = rt.spawn(chain(GetParam(), depth, &reached));
  ASSERT_TRUE(
      coreio_test::wait_until([&] { return reached.load(); }, std::chrono::milliseconds(120'000)));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  // A group's child leaves the group when its body ends and leaves the runtime's registry (what
  // tasks_alive counts) a moment later, at its final suspend, possibly on the other worker: the
  // top task can end between the two.
  EXPECT_TRUE(coreio_test::wait_until([&] { return rt.metrics().tasks_alive == 0; }))
      << rt.metrics().tasks_alive << " tasks still alive";
}

TEST_P(DeepCancelTest, AMillionLevelsCancelledFromAWorkerUnwindWithoutStackGrowth) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  std::atomic<bool> reached{false};
  EXPECT_TRUE(rt.block_on(cancel_from_a_worker(GetParam(), &reached)));
}

TEST_P(DeepCancelTest, AMillionLevelsEndWhenTheRuntimeIsDestroyed) {
  std::atomic<bool> reached{false};
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    auto h = rt.spawn(chain(GetParam(), depth, &reached));
    ASSERT_TRUE(coreio_test::wait_until([&] { return reached.load(); },
                                        std::chrono::milliseconds(120'000)));
    h.detach();
  }  // the destructor cancels every level and waits for all of them
  SUCCEED();
}

INSTANTIATE_TEST_SUITE_P(Shapes, DeepCancelTest,
                         ::testing::Values(shape::spawn, shape::gather, shape::wait_for,
                                           shape::group),
                         [](const ::testing::TestParamInfo<shape>& i) {
                           switch (i.param) {
                             case shape::spawn:
                               return "SpawnJoinChain";
                             case shape::gather:
                               return "NestedGather";
                             case shape::wait_for:
                               return "NestedWaitFor";
                             case shape::group:
                               break;
                           }
                           return "NestedTaskGroups";
                         });

}  // namespace
