// uncancellable_test.cpp — coreio::uncancellable (coreio/shield.hpp): a cancelled task awaits its
// asynchronous clean-up to the end; a cancel during the clean-up does not interrupt it; results and
// exceptions pass through; a timeout inside it still works.
#include <coreio/shield.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/time.hpp>
#include <coreio/wait_for.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::prompt;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;

struct probe {
  std::atomic<bool> sleeping{false};
  std::atomic<bool> cleaning{false};
  std::atomic<int> cleaned{0};
};

coreio::task<int> cleanup(probe* p, std::chrono::milliseconds d) {
  p->cleaning.store(true);
  co_await coreio::sleep_for(d);  // would throw at once if it ran under the cancelled scope
  p->cleaned.fetch_add(1);
  co_return 5;
}

/// A clean-up that lasts until *release is set.
coreio::task<int> cleanup_until(probe* p, coreio::event* release) {
  p->cleaning.store(true);
  co_await release->wait();  // would throw if it ran under the cancelled scope
  p->cleaned.fetch_add(1);
  co_return 5;
}

/// Sleeps until cancelled, then awaits `clean_up` under uncancellable and rethrows the cancel.
coreio::task<int> work_then(probe* p, coreio::task<int> clean_up) {
  std::exception_ptr cancelled;
  try {
    p->sleeping.store(true);
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    cancelled = std::current_exception();  // C++ allows no co_await inside a handler
  }
  if (cancelled) {
    const int v = co_await coreio::uncancellable(std::move(clean_up));
    if (v != 5) co_return -1;
    std::rethrow_exception(cancelled);
  }
  co_return 0;
}

coreio::task<int> work_then_clean_up(probe* p, std::chrono::milliseconds cleanup_time) {
  return work_then(p, cleanup(p, cleanup_time));
}

TEST(UncancellableTest, ACancelledTaskAwaitsItsCleanUpToTheEnd) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  probe p;
  auto h = rt.spawn(work_then_clean_up(&p, 5ms));
  ASSERT_TRUE(wait_until([&] { return p.sleeping.load(); }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.cleaned.load(), 1);  // the clean-up ended before the task did
}

TEST(UncancellableTest, ASecondCancelDuringTheCleanUpDoesNotInterruptIt) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  probe p;
  coreio::event release;
  auto h = rt.spawn(work_then(&p, cleanup_until(&p, &release)));
  ASSERT_TRUE(wait_until([&] { return p.sleeping.load(); }));
  h.cancel();
  ASSERT_TRUE(wait_until([&] { return p.cleaning.load(); }));
  h.cancel();  // synchronous: whatever it interrupts, it has by the time it returns
  EXPECT_FALSE(h.done()) << "the clean-up was interrupted";
  release.set();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.cleaned.load(), 1);
}

coreio::task<int> fails_in_cleanup() {
  co_await coreio::sleep_for(1ms);
  throw test_error(3);
}

coreio::task<int> uncancellable_failure() {
  co_return co_await coreio::uncancellable(fails_in_cleanup());
}

TEST(UncancellableTest, ExceptionsPassThrough) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  EXPECT_THROW(rt.block_on(uncancellable_failure()), test_error);
}

coreio::task<int> bounded_cleanup(probe* p) {
  bool cancelled = false;
  try {
    p->sleeping.store(true);
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    cancelled = true;
  }
  if (!cancelled) co_return 0;
  try {
    // A clean-up that would take too long is bounded by a timeout inside the shielded region.
    co_await coreio::uncancellable(coreio::wait_for(cleanup(p, 10s), 5ms));
  } catch (const coreio::timeout_error&) {
    co_return 7;
  }
  co_return 0;
}

TEST(UncancellableTest, ATimeoutInsideTheCleanUpStillFires) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  probe p;
  auto h = rt.spawn(bounded_cleanup(&p));
  ASSERT_TRUE(wait_until([&] { return p.sleeping.load(); }));
  stopwatch sw;
  h.cancel();
  EXPECT_EQ(h.get(), 7);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(p.cleaned.load(), 0);
}

}  // namespace
