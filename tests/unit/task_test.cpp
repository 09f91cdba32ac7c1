// task_test.cpp — coreio/task.hpp: task<T> is lazy, move-only, single-use; values, void and
// references come back to the awaiter, exceptions propagate, and inline await chains run by
// symmetric transfer (no stack growth).
#include <coreio/task.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <coreio/errors.hpp>
#include <coreio/runtime.hpp>

#include "support/test_support.hpp"

namespace {

using coreio_test::sanitized;
using coreio_test::test_error;

static_assert(!std::is_copy_constructible_v<coreio::task<int>>, "task is move-only");
static_assert(!std::is_copy_assignable_v<coreio::task<int>>, "task is move-only");
static_assert(std::is_nothrow_move_constructible_v<coreio::task<int>>);
static_assert(std::is_nothrow_move_assignable_v<coreio::task<int>>);
static_assert(std::is_same_v<coreio::task<>, coreio::task<void>>, "task<> is task<void>");

coreio::task<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

coreio::task<int> answer() { co_return 42; }

coreio::task<std::string> greeting(std::string who) { co_return "hello " + who; }

coreio::task<int&> pick(int* a, int* b, bool first) { co_return first ? *a : *b; }

coreio::task<const std::string&> longest(const std::string* a, const std::string* b) {
  co_return a->size() >= b->size() ? *a : *b;
}

coreio::task<std::unique_ptr<int>> boxed(int v) { co_return std::make_unique<int>(v); }

coreio::task<int> fail_with(int v) {
  throw test_error(v);
  co_return 0;
}

coreio::task<int> rethrow_through(int depth, int v) {
  if (depth == 0) co_return co_await fail_with(v);
  co_return co_await rethrow_through(depth - 1, v);
}

coreio::task<std::uint64_t> identity(std::uint64_t v) { co_return v; }

coreio::task<void> nothing() { co_return; }

// ---- laziness ---------------------------------------------------------------------------------

TEST(TaskTest, IsLazyBodyDoesNotRunUntilAwaited) {
  bool ran = false;
  {
    coreio::task<void> t = set_flag(&ran);
    EXPECT_TRUE(t.valid());
    EXPECT_FALSE(ran);
  }
  EXPECT_FALSE(ran) << "destroying an unawaited task must not run its body";
}

coreio::task<bool> lazy_then_awaited(bool* ran) {
  coreio::task<void> t = set_flag(ran);
  const bool before = *ran;
  co_await std::move(t);
  co_return !before && *ran;
}

TEST(TaskTest, BodyRunsWhenAwaited) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  bool ran = false;
  EXPECT_TRUE(rt.block_on(lazy_then_awaited(&ran)));
  EXPECT_TRUE(ran);
}

TEST(TaskTest, DestroyingAnUnawaitedTaskFreesItsFrameAndArguments) {
  auto owned = std::make_shared<int>(1);
  {
    auto hold = [](std::shared_ptr<int> p) -> coreio::task<int> { co_return *p; };
    coreio::task<int> t = hold(owned);
    EXPECT_EQ(owned.use_count(), 2) << "the argument lives in the (suspended) frame";
  }
  EXPECT_EQ(owned.use_count(), 1) << "the frame and its copy of the argument were freed";
}

// ---- results ----------------------------------------------------------------------------------

coreio::task<int> await_answer() { co_return co_await answer() + 1; }

TEST(TaskTest, AwaitingReturnsTheValue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(await_answer()), 43);
  EXPECT_EQ(rt.block_on(greeting("coreio")), "hello coreio");
}

coreio::task<int> await_void(bool* ran) {
  co_await set_flag(ran);
  co_return 1;
}

TEST(TaskTest, VoidTaskCompletes) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  bool ran = false;
  EXPECT_EQ(rt.block_on(await_void(&ran)), 1);
  EXPECT_TRUE(ran);
  rt.block_on(nothing());
}

coreio::task<bool> reference_results(int* a, int* b) {
  int& ra = co_await pick(a, b, true);
  int& rb = co_await pick(a, b, false);
  ra = 10;  // writes through the reference into *a
  const std::string s1 = "short", s2 = "much longer";
  const std::string& l = co_await longest(&s1, &s2);
  co_return &ra == a && &rb == b && &l == &s2;
}

TEST(TaskTest, ReferenceTaskReturnsTheSameObject) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  int a = 1, b = 2;
  EXPECT_TRUE(rt.block_on(reference_results(&a, &b)));
  EXPECT_EQ(a, 10);
  int& r = rt.block_on(pick(&a, &b, false));
  EXPECT_EQ(&r, &b);
}

coreio::task<int> unbox() {
  std::unique_ptr<int> p = co_await boxed(7);
  co_return *p;
}

TEST(TaskTest, MoveOnlyResultsAreMovedOut) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(unbox()), 7);
  std::unique_ptr<int> p = rt.block_on(boxed(9));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 9);
}

coreio::task<int> move_tasks_around() {
  coreio::task<int> a = answer();
  coreio::task<int> b = std::move(a);
  coreio::task<int> c;
  c = std::move(b);
  co_return (a.valid() ? 1000 : 0) + (b.valid() ? 100 : 0) + co_await std::move(c);
}

TEST(TaskTest, IsMoveOnlyAndKeepsItsFrameAcrossMoves) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(move_tasks_around()), 42);
}

TEST(TaskTest, MoveAssignmentDestroysThePreviousFrame) {
  auto first = std::make_shared<int>(1);
  auto hold = [](std::shared_ptr<int> p) -> coreio::task<int> { co_return *p; };
  coreio::task<int> t = hold(first);
  EXPECT_EQ(first.use_count(), 2);
  t = answer();
  EXPECT_EQ(first.use_count(), 1);
  EXPECT_TRUE(t.valid());
}

// ---- exceptions -------------------------------------------------------------------------------

// The exception object is shared (std::exception_ptr) between the catching thread and the task's
// frame, which the worker may free after the catch. libstdc++'s exception refcount is invisible to
// ThreadSanitizer, so a test that reads the caught object keeps the join handle (and with it the
// frame) alive until the catch block is done; the frame is then freed after the read, ordered by
// the handle's own refcount.
TEST(TaskTest, ExceptionPropagatesThroughNestedAwaits) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  auto h = rt.spawn(rethrow_through(50, 17));
  try {
    (void)h.get();
    FAIL() << "expected test_error";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 17);
  }
  EXPECT_THROW(rt.block_on(rethrow_through(10, 1)), test_error);
}

coreio::task<int> catch_and_continue() {
  int caught = 0;
  try {
    co_await fail_with(3);
  } catch (const test_error& e) {
    caught = e.value;
  }
  co_return caught * 100 + co_await answer();
}

TEST(TaskTest, AwaiterCanCatchAndContinue) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(catch_and_continue()), 342);
}

// ---- single use -------------------------------------------------------------------------------

coreio::task<std::string> await_moved_from() {
  coreio::task<int> t = answer();
  coreio::task<int> keep = std::move(t);
  try {
    co_await std::move(t);  // NOLINT(bugprone-use-after-move): the point of the test
  } catch (const coreio::usage_error& e) {
    co_return std::string("usage_error: ") + e.what();
  }
  co_return "no error";
}

TEST(TaskTest, AwaitingAMovedFromTaskThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  const std::string r = rt.block_on(await_moved_from());
  EXPECT_EQ(r.rfind("usage_error: ", 0), 0u) << r;
  EXPECT_GT(r.size(), std::string("usage_error: ").size()) << "what() says which misuse";
}

coreio::task<bool> await_default_constructed() {
  coreio::task<int> t;
  try {
    co_await std::move(t);
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST(TaskTest, AwaitingADefaultConstructedTaskThrowsUsageError) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_TRUE(rt.block_on(await_default_constructed()));
}

coreio::task<int> await_consumes() {
  coreio::task<int> t = answer();
  int v = co_await std::move(t);
  const bool still_valid = t.valid();
  co_return still_valid ? -1 : v;
}

TEST(TaskTest, AwaitingConsumesTheTask) {
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(await_consumes()), 42);
}

// ---- symmetric transfer -----------------------------------------------------------------------
// GCC turns a symmetric transfer into a tail call only when optimising; an -O0 build (plain Debug)
// nests one native frame per transfer, so these tests only mean something in optimised builds
// (RelWithDebInfo, Release, and the sanitizer builds, which cmake/sanitizers.cmake keeps at -O1+).
#if defined(__OPTIMIZE__) || !defined(__GNUC__)
#define COREIO_TEST_SKIP_UNLESS_TAIL_CALLS() (void)0
#else
#define COREIO_TEST_SKIP_UNLESS_TAIL_CALLS() \
  GTEST_SKIP() << "unoptimised build: symmetric transfer is not a tail call here"
#endif

coreio::task<std::uint64_t> await_in_a_loop(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += co_await identity(i);
  co_return sum;
}

TEST(TaskTest, AMillionInlineAwaitsInALoopDoNotOverflowTheStack) {
  COREIO_TEST_SKIP_UNLESS_TAIL_CALLS();
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  const std::uint64_t n = 1'000'000;
  EXPECT_EQ(rt.block_on(await_in_a_loop(n)), n * (n - 1) / 2);
}

coreio::task<std::uint64_t> recurse(std::uint64_t depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await recurse(depth - 1);
}

TEST(TaskTest, DeepRecursiveAwaitChainDoesNotOverflowTheStack) {
  COREIO_TEST_SKIP_UNLESS_TAIL_CALLS();
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  // Each level is a heap frame; the descent and the unwinding are symmetric transfers, so the
  // thread's stack (8 MiB) stays flat however deep the chain is.
  const std::uint64_t depth = sanitized<std::uint64_t>(200'000, 50'000);
  EXPECT_EQ(rt.block_on(recurse(depth)), depth);
}

coreio::task<std::uint64_t> void_loop(std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) co_await nothing();
  co_return n;
}

TEST(TaskTest, AMillionInlineVoidAwaitsDoNotOverflowTheStack) {
  COREIO_TEST_SKIP_UNLESS_TAIL_CALLS();
  coreio::runtime rt{coreio::runtime_options{.workers = 1}};
  EXPECT_EQ(rt.block_on(void_loop(1'000'000)), 1'000'000u);
}

}  // namespace
