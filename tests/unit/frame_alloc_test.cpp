// frame_alloc_test.cpp — coroutine frames come from the allocator the build chose: mimalloc in
// every configuration but the sanitizer builds (cmake/sanitizers.cmake; tests/CMakeLists.txt
// passes the expected name), and a frame allocated on one worker may be freed on another.
#include <coreio/coreio.hpp>
#include <coreio/detail/sched_hooks.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

TEST(FrameAllocTest, FramesComeFromTheAllocatorTheBuildChose) {
  EXPECT_STREQ(coreio::detail::frame_allocator_name(), COREIO_TEST_FRAME_ALLOCATOR);
}

TEST(FrameAllocTest, BlocksOfEverySizeAreUsableAndFreedWithTheirSize) {
  for (std::size_t size = 1; size <= 64 * 1024; size = size * 3 / 2 + 1) {
    void* p = coreio::detail::frame_alloc(size);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0xab, size);
    coreio::detail::frame_free(p, size);
  }
}

coreio::task<int> leaf(int v) { co_return v; }

coreio::task<int> fan_out(int n) {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < n; ++i) ts.push_back(leaf(i));
  auto vs = co_await coreio::gather(std::move(ts));
  int sum = 0;
  for (int v : vs) sum += v;
  co_return sum;
}

TEST(FrameAllocTest, FramesFreedOnAnotherWorkerThanTheirsAreReused) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (int round = 0; round < 50; ++round) EXPECT_EQ(rt.block_on(fan_out(1000)), 999 * 1000 / 2);
}

}  // namespace
