// coreio/detail/spinlock.hpp — a test-and-test-and-set lock for critical sections of a few instructions.
//
// Used where a std::mutex would put a contended thread to sleep in the kernel for a section that
// lasts nanoseconds (the task registry, the wait lists of the synchronisation primitives). Spins with the CPU's pause
// hint, and yields the thread after a while so that an oversubscribed machine still progresses.
// ThreadSanitizer sees the acquire/release pair and needs no annotation.
//
// Thread safety: lock/unlock from any thread; satisfies BasicLockable.
#pragma once

#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace coreio::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

class spinlock {
 public:
  void lock() noexcept {
    for (unsigned spins = 0;; ++spins) {
      // Acquire pairs with the release in unlock(): the previous holder's writes are visible.
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      // Test before test-and-set again: wait on a shared cache line instead of bouncing it.
      // Relaxed: only a hint; the exchange above does the synchronisation.
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 128) cpu_relax();
        else std::this_thread::yield();
      }
    }
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  // Writers: lock (exchange), unlock (store). Readers: waiting lockers.
  std::atomic<bool> locked_{false};
};

}  // namespace coreio::detail
