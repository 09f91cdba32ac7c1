// cancel_scope_test.cpp — include/coreio/detail/cancel_scope.hpp: the arm / cancel / disarm
// protocol (a Dekker pair). Single-threaded outcomes of each order, and a race of an owner arming
// and disarming against a canceller: the armed node's fn runs at most once, never after arm
// reported "already cancelled", and disarm never returns while the canceller still uses the node.
#include <coreio/detail/cancel_scope.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <thread>

#include "support/test_support.hpp"

namespace {

using coreio::detail::cancel_node;
using coreio::detail::cancel_scope;

struct counting_node : cancel_node {
  std::atomic<int> calls{0};
  std::atomic<bool> in_fn{false};
  counting_node() { fn = &on_cancel; }
  static void on_cancel(cancel_node* n) noexcept {
    auto* self = static_cast<counting_node*>(n);
    self->in_fn.store(true, std::memory_order_relaxed);
    self->calls.fetch_add(1, std::memory_order_relaxed);
    self->in_fn.store(false, std::memory_order_relaxed);
  }
};

TEST(CancelScopeTest, StartsNotCancelled) {
  cancel_scope s;
  EXPECT_FALSE(s.cancelled());
}

TEST(CancelScopeTest, CancelWithNothingArmedOnlySetsTheFlag) {
  cancel_scope s;
  s.cancel();
  EXPECT_TRUE(s.cancelled());
  s.cancel();  // idempotent
  EXPECT_TRUE(s.cancelled());
}

TEST(CancelScopeTest, CancelRunsTheArmedNodeOnce) {
  cancel_scope s;
  counting_node n;
  ASSERT_TRUE(s.arm(&n));
  s.cancel();
  s.cancel();
  EXPECT_EQ(n.calls.load(), 1);
  EXPECT_TRUE(n.done.load());
  s.disarm(&n);  // the canceller is done with it: returns at once
  EXPECT_EQ(n.calls.load(), 1);
}

TEST(CancelScopeTest, ArmAfterCancelReportsAlreadyCancelledWithoutRunningTheNode) {
  cancel_scope s;
  s.cancel();
  counting_node n;
  EXPECT_FALSE(s.arm(&n));
  EXPECT_EQ(n.calls.load(), 0);
  // Sticky: every later suspension point sees it again.
  counting_node m;
  EXPECT_FALSE(s.arm(&m));
  EXPECT_EQ(m.calls.load(), 0);
}

TEST(CancelScopeTest, DisarmedNodeIsNotRunByALaterCancel) {
  cancel_scope s;
  counting_node n;
  ASSERT_TRUE(s.arm(&n));
  s.disarm(&n);
  s.cancel();
  EXPECT_EQ(n.calls.load(), 0);
  EXPECT_TRUE(s.cancelled());
}

TEST(CancelScopeTest, EachArmReplacesThePreviousNodeAfterDisarm) {
  cancel_scope s;
  counting_node a, b;
  ASSERT_TRUE(s.arm(&a));
  s.disarm(&a);
  ASSERT_TRUE(s.arm(&b));
  s.cancel();
  EXPECT_EQ(a.calls.load(), 0);
  EXPECT_EQ(b.calls.load(), 1);
  s.disarm(&b);
}

// Owner: arm, then disarm if armed. Canceller: cancel. In every round exactly one of these holds:
// arm said "already cancelled" (fn not run), or fn ran once (and disarm waited for it), or the
// owner disarmed first (fn not run; the flag is still set).
TEST(CancelScopeTest, ArmAndDisarmRaceACancelFromAnotherThread) {
  const int rounds = coreio_test::sanitized(100'000, 20'000);
  cancel_scope* scope = nullptr;
  std::barrier sync(2);
  int refused = 0, ran = 0, disarmed_first = 0, bad = 0;
  std::thread canceller([&] {
    for (int i = 0; i < rounds; ++i) {
      sync.arrive_and_wait();  // round starts
      scope->cancel();
      sync.arrive_and_wait();  // round ends
    }
  });
  coreio_test::rng r(9);
  for (int i = 0; i < rounds; ++i) {
    cancel_scope s;
    counting_node n;
    scope = &s;
    sync.arrive_and_wait();
    coreio_test::spin_for(std::chrono::nanoseconds(r.below(200)));
    const bool armed = s.arm(&n);
    if (armed) {
      s.disarm(&n);
      // After disarm the canceller no longer touches n: fn has finished if it ran at all.
      if (n.in_fn.load()) ++bad;
    }
    sync.arrive_and_wait();
    const int calls = n.calls.load();
    if (!armed) {
      if (calls != 0) ++bad;
      ++refused;
    } else if (calls == 1) {
      ++ran;
    } else if (calls == 0) {
      ++disarmed_first;
    } else {
      ++bad;
    }
    if (!s.cancelled()) ++bad;
  }
  canceller.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(refused + ran + disarmed_first, rounds);
  RecordProperty("refused", refused);
  RecordProperty("ran", ran);
  RecordProperty("disarmed_first", disarmed_first);
}

}  // namespace
