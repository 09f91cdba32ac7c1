// net/heap_tracker.cpp — replaces the global operator new / delete of the test binary to count live
// heap bytes, so that a test can bound what coreio buffers (BackpressureTest). Everything that goes
// through operator new is counted: std::vector (the stream's read buffer), Asio's handler memory.
// Coroutine frames from mimalloc are not, which is fine: they do not grow with the data.
//
// Each block carries a 16-byte header (over-aligned blocks: `alignment` bytes) holding its size.
// Counters are relaxed atomics: a statistic, read after the threads that allocate have synchronised
// with the reader through the runtime (block_on / join).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "net_support.hpp"

namespace {

std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};

constexpr std::size_t k_header = 16;  // keeps max_align_t alignment for the caller

void account(std::int64_t delta) noexcept {
  // Relaxed: statistics only (see the file comment).
  const std::int64_t now = g_live.fetch_add(delta, std::memory_order_relaxed) + delta;
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void* allocate(std::size_t size, std::size_t align) noexcept {
  const std::size_t off = align > k_header ? align : k_header;
  void* base = nullptr;
  if (align > k_header) {
    const std::size_t total = (size + off + align - 1) / align * align;
    base = std::aligned_alloc(align, total);
  } else {
    base = std::malloc(size + off);
  }
  if (base == nullptr) return nullptr;
  auto* user = static_cast<unsigned char*>(base) + off;
  reinterpret_cast<std::size_t*>(user)[-1] = size;
  account(static_cast<std::int64_t>(size));
  return user;
}

void release(void* p, std::size_t align) noexcept {
  if (p == nullptr) return;
  const std::size_t off = align > k_header ? align : k_header;
  auto* user = static_cast<unsigned char*>(p);
  account(-static_cast<std::int64_t>(reinterpret_cast<std::size_t*>(user)[-1]));
  std::free(user - off);
}

void* allocate_or_throw(std::size_t size, std::size_t align) {
  if (void* p = allocate(size == 0 ? 1 : size, align)) return p;
  throw std::bad_alloc();
}

}  // namespace

namespace coreio_net_test {
std::int64_t live_heap_bytes() noexcept { return g_live.load(std::memory_order_relaxed); }
std::int64_t peak_heap_bytes() noexcept { return g_peak.load(std::memory_order_relaxed); }
void reset_peak_heap_bytes() noexcept {
  g_peak.store(g_live.load(std::memory_order_relaxed), std::memory_order_relaxed);
}
}  // namespace coreio_net_test

// clang-format off
void* operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n == 0 ? 1 : n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n == 0 ? 1 : n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocate(n == 0 ? 1 : n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocate(n == 0 ? 1 : n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { release(p, 0); }
void operator delete[](void* p) noexcept { release(p, 0); }
void operator delete(void* p, std::size_t) noexcept { release(p, 0); }
void operator delete[](void* p, std::size_t) noexcept { release(p, 0); }
void operator delete(void* p, std::align_val_t a) noexcept { release(p, static_cast<std::size_t>(a)); }
void operator delete[](void* p, std::align_val_t a) noexcept { release(p, static_cast<std::size_t>(a)); }
void operator delete(void* p, std::size_t, std::align_val_t a) noexcept { release(p, static_cast<std::size_t>(a)); }
void operator delete[](void* p, std::size_t, std::align_val_t a) noexcept { release(p, static_cast<std::size_t>(a)); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p, 0); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p, 0); }
void operator delete(void* p, std::align_val_t a, const std::nothrow_t&) noexcept { release(p, static_cast<std::size_t>(a)); }
void operator delete[](void* p, std::align_val_t a, const std::nothrow_t&) noexcept { release(p, static_cast<std::size_t>(a)); }
// clang-format on
