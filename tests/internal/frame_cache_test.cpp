// frame_cache_test.cpp — src/frame_alloc.hpp: the per-worker cache of freed frames. A freed frame
// is reused for the next request of its 64-byte class (LIFO), whatever size in the class; the cache
// keeps at most frame_cache_class_budget bytes per class and nothing over frame_cache_max_frame;
// it is off on threads that are not workers (until attached) and detach empties it. Sanitizer
// builds have no cache: there every frame goes back to the allocator (checked too).
#include "frame_alloc.hpp"

#include <coreio/coreio.hpp>
#include <coreio/detail/sched_hooks.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using coreio::detail::frame_alloc;
using coreio::detail::frame_cache_attach;
using coreio::detail::frame_cache_built;
using coreio::detail::frame_cache_bytes;
using coreio::detail::frame_cache_class_budget;
using coreio::detail::frame_cache_detach;
using coreio::detail::frame_cache_max_frame;
using coreio::detail::frame_free;

/// Runs f on a fresh thread with the cache attached, as a worker thread has it.
template <class F>
void on_attached_thread(F f) {
  std::thread t([&] {
    frame_cache_attach();
    f();
    frame_cache_detach();
    EXPECT_EQ(frame_cache_bytes(), 0u);
  });
  t.join();
}

TEST(FrameCacheTest, AFreedFrameServesTheNextRequestOfItsClassAnySizeInIt) {
  on_attached_thread([] {
    void* a = frame_alloc(100);  // class 65..128
    std::memset(a, 1, 100);
    frame_free(a, 100);
    EXPECT_EQ(frame_cache_bytes(), frame_cache_built() ? 128u : 0u);
    void* b = frame_alloc(128);  // the largest size of the class fits in the same block
    std::memset(b, 2, 128);
    if (frame_cache_built()) {
      EXPECT_EQ(b, a);
    }
    EXPECT_EQ(frame_cache_bytes(), 0u);
    frame_free(b, 128);
  });
}

TEST(FrameCacheTest, ReusesInLastInFirstOutOrder) {
  on_attached_thread([] {
    void* a = frame_alloc(200);
    void* b = frame_alloc(200);
    frame_free(a, 200);
    frame_free(b, 200);
    void* c = frame_alloc(200);
    void* d = frame_alloc(200);
    if (frame_cache_built()) {
      EXPECT_EQ(c, b);
      EXPECT_EQ(d, a);
    }
    frame_free(c, 200);
    frame_free(d, 200);
  });
}

TEST(FrameCacheTest, KeepsAtMostItsBudgetPerClassAndNothingLarger) {
  on_attached_thread([] {
    constexpr std::size_t size = 256;
    const std::size_t n = 3 * frame_cache_class_budget / size;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < n; ++i) blocks.push_back(frame_alloc(size));
    for (void* p : blocks) frame_free(p, size);
    EXPECT_EQ(frame_cache_bytes(), frame_cache_built() ? frame_cache_class_budget : 0u);
    void* big = frame_alloc(frame_cache_max_frame + 1);
    frame_free(big, frame_cache_max_frame + 1);
    EXPECT_EQ(frame_cache_bytes(), frame_cache_built() ? frame_cache_class_budget : 0u);
  });
}

TEST(FrameCacheTest, IsOffOnAThreadThatIsNotAWorker) {
  std::thread t([] {
    void* a = frame_alloc(64);
    frame_free(a, 64);
    EXPECT_EQ(frame_cache_bytes(), 0u);
  });
  t.join();
}

TEST(FrameCacheTest, AFrameAllocatedOffTheCacheIsCachedAndReusedSafely) {
  // A frame allocated on a thread without the cache (block_on's caller) and freed on a worker goes
  // into the worker's cache: it was allocated with its class's full size, so the largest request
  // of the class fits in it.
  void* a = frame_alloc(65);
  on_attached_thread([a] {
    frame_free(a, 65);
    void* b = frame_alloc(128);
    std::memset(b, 3, 128);
    if (frame_cache_built()) {
      EXPECT_EQ(b, a);
    }
    frame_free(b, 128);
  });
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

TEST(FrameCacheTest, WorkersRunFanOutsWithTheCacheOnAndEmptyItWhenTheyEnd) {
  for (int round = 0; round < 3; ++round) {
    coreio::runtime rt{coreio::runtime_options{.workers = 2}};
    for (int i = 0; i < 20; ++i) EXPECT_EQ(rt.block_on(fan_out(2000)), 1999 * 2000 / 2);
  }  // the workers detach (LeakSanitizer, in the asan build, would report a cache left behind)
}

}  // namespace
