// errors_test.cpp — coreio/errors.hpp: the exception hierarchy, so that handlers catch what they
// should and only that.
#include <coreio/errors.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <exception>
#include <stdexcept>
#include <type_traits>

namespace {

static_assert(std::is_base_of_v<std::exception, coreio::cancelled_error>);
static_assert(!std::is_base_of_v<std::runtime_error, coreio::cancelled_error>,
              "catch (const std::runtime_error&) must not swallow a cancellation");
static_assert(!std::is_base_of_v<std::logic_error, coreio::cancelled_error>);
static_assert(std::is_base_of_v<std::runtime_error, coreio::timeout_error>);
static_assert(std::is_base_of_v<std::runtime_error, coreio::queue_closed>);
static_assert(std::is_base_of_v<std::runtime_error, coreio::broken_barrier>);
static_assert(std::is_base_of_v<std::runtime_error, coreio::runtime_closed>);
static_assert(std::is_base_of_v<std::logic_error, coreio::broken_promise>);
static_assert(std::is_base_of_v<std::logic_error, coreio::usage_error>);
static_assert(std::is_base_of_v<std::runtime_error, coreio::incomplete_read_error>);
static_assert(std::is_base_of_v<std::runtime_error, coreio::limit_overrun_error>);
// The stream errors keep their coreio::net names.
static_assert(std::is_same_v<coreio::net::incomplete_read_error, coreio::incomplete_read_error>);
static_assert(std::is_same_v<coreio::net::limit_overrun_error, coreio::limit_overrun_error>);

TEST(ErrorsTest, CancelledErrorIsNotCaughtByRuntimeErrorHandlers) {
  bool by_runtime_error = false, by_exception = false;
  try {
    try {
      throw coreio::cancelled_error{};
    } catch (const std::runtime_error&) {
      by_runtime_error = true;
    }
  } catch (const std::exception&) {
    by_exception = true;
  }
  EXPECT_FALSE(by_runtime_error);
  EXPECT_TRUE(by_exception);
}

TEST(ErrorsTest, EveryErrorSaysWhatWentWrong) {
  const coreio::cancelled_error c;
  const coreio::timeout_error t;
  const coreio::queue_closed q;
  const coreio::broken_barrier bb;
  const coreio::broken_promise b;
  const coreio::usage_error u("join_handle::get() on a worker thread");
  const coreio::runtime_closed r;
  for (const std::exception* e :
       {static_cast<const std::exception*>(&c), static_cast<const std::exception*>(&t),
        static_cast<const std::exception*>(&q), static_cast<const std::exception*>(&bb),
        static_cast<const std::exception*>(&b), static_cast<const std::exception*>(&u),
        static_cast<const std::exception*>(&r)}) {
    ASSERT_NE(e->what(), nullptr);
    EXPECT_GT(std::strlen(e->what()), 0u);
  }
  EXPECT_STREQ(u.what(), "join_handle::get() on a worker thread");
}

TEST(ErrorsTest, StreamErrorsCarryTheirCountsAndSayThemInWhat) {
  const coreio::incomplete_read_error i(3, 10);
  EXPECT_EQ(i.bytes_read(), 3u);
  EXPECT_EQ(i.bytes_wanted(), 10u);
  EXPECT_NE(std::strstr(i.what(), "3 of 10"), nullptr) << i.what();
  const coreio::limit_overrun_error l(64);
  EXPECT_EQ(l.limit(), 64u);
  EXPECT_NE(std::strstr(l.what(), "64"), nullptr) << l.what();
}

TEST(ErrorsTest, ThrowHelpersThrowTheRightTypes) {
  EXPECT_THROW(coreio::detail::throw_usage("x"), coreio::usage_error);
  EXPECT_THROW(coreio::detail::throw_cancelled(), coreio::cancelled_error);
}

}  // namespace
