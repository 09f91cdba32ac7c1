// sync_event_test.cpp — coreio/sync/event.hpp: set / clear / is_set, set wakes every waiter (from a
// task or a plain thread), a set event lets waits through, cancellation of a waiter, and set racing
// cancel.
#include <coreio/sync/event.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/suspension_probe.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::count_suspension;
using coreio_test::rng;
using coreio_test::sanitized;
using coreio_test::wait_until;

TEST(SyncEventTest, SetClearAndIsSet) {
  coreio::event e;
  EXPECT_FALSE(e.is_set());
  e.set();
  EXPECT_TRUE(e.is_set());
  e.set();
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
}

struct shared_data {
  int value = 0;  // written before set(), read after wait(): the event's happens-before edge
};

/// 1 = woken normally with the data seen, 0 = cancelled, -1 = wrong data. Bumps *waiting once
/// suspended in wait().
coreio::task<int> wait_and_read(coreio::event* e, shared_data* d, std::atomic<int>* waiting) {
  try {
    co_await count_suspension(e->wait(), waiting);
  } catch (const coreio::cancelled_error&) {
    co_return 0;
  }
  co_return d->value == 42 ? 1 : -1;
}

TEST(SyncEventTest, SetFromAPlainThreadWakesEveryWaiterOnFourWorkers) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  coreio::event e;
  shared_data d;
  std::atomic<int> waiting{0};
  const int n = 16;
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(rt.spawn(wait_and_read(&e, &d, &waiting)));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == n; }));  // every one suspended in wait()
  std::thread setter([&] {
    d.value = 42;
    e.set();
  });
  for (auto& h : hs) EXPECT_EQ(h.get(), 1);
  setter.join();
}

/// Sets the event once the waiter is suspended in wait().
coreio::task<int> set_later(coreio::event* e, shared_data* d, const std::atomic<int>* waiting) {
  co_await coreio_test::yield_until(waiting, 1);
  d->value = 42;
  e->set();
  co_return 0;
}

coreio::task<int> wait_for_a_task(coreio::event* e, shared_data* d) {
  std::atomic<int> waiting{0};
  auto setter = coreio::spawn(set_later(e, d, &waiting));
  const int r = co_await wait_and_read(e, d, &waiting);
  co_await setter;
  // Set stays set: another wait passes at once.
  co_await e->wait();
  co_return r;
}

TEST(SyncEventTest, SetFromAnotherTaskWakesTheWaiterAndLaterWaitsPass) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (int i = 0; i < 20; ++i) {
    coreio::event e;
    shared_data d;
    EXPECT_EQ(rt.block_on(wait_for_a_task(&e, &d)), 1);
  }
}

TEST(SyncEventTest, ClearMakesLaterWaitsBlockAgain) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::event e;
  shared_data d;
  d.value = 42;
  e.set();
  e.clear();
  std::atomic<int> waiting{0};
  auto h = rt.spawn(wait_and_read(&e, &d, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 1; }));  // suspended: clear() took effect
  EXPECT_FALSE(h.done());
  e.set();
  EXPECT_EQ(h.get(), 1);
}

TEST(SyncEventTest, ACancelledWaiterThrowsAndOthersAreStillWoken) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  coreio::event e;
  shared_data d;
  std::atomic<int> waiting{0};
  auto a = rt.spawn(wait_and_read(&e, &d, &waiting));
  auto b = rt.spawn(wait_and_read(&e, &d, &waiting));
  ASSERT_TRUE(wait_until([&] { return waiting.load() == 2; }));  // both suspended in wait()
  a.cancel();
  EXPECT_EQ(a.get(), 0);
  d.value = 42;
  e.set();
  EXPECT_EQ(b.get(), 1);
}

// set() from a plain thread races cancel(): the waiter ends either way, woken (with the data) or
// cancelled.
TEST(SyncEventTest, SetRacingCancelAlwaysEndsTheWaiter) {
  auto rt = std::make_unique<coreio::runtime>(coreio::runtime_options{.workers = 2});
  const int rounds = sanitized(2000, 300);
  rng r(7);
  int woken = 0, cancelled = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::event e;
    shared_data d;
    std::atomic<int> waiting{0};
    auto h = rt->spawn(wait_and_read(&e, &d, &waiting));
    while (waiting.load() == 0) std::this_thread::yield();
    const auto set_delay = std::chrono::microseconds(r.below(30));
    const auto cancel_delay = std::chrono::microseconds(r.below(30));
    std::thread setter([&] {
      coreio_test::spin_for(set_delay);
      d.value = 42;
      e.set();
    });
    coreio_test::spin_for(cancel_delay);
    h.cancel();
    setter.join();
    if (!coreio_test::ends_within(h)) {
      (void)rt.release();
      FAIL() << "round " << i << ": the waiter never ended";
    }
    const int v = h.get();
    ASSERT_GE(v, 0) << "woken without the setter's data";
    (v == 1 ? woken : cancelled) += 1;
  }
  EXPECT_EQ(woken + cancelled, rounds);
}

}  // namespace
