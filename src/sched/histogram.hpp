// sched/histogram.hpp — a log2 histogram of durations written by one thread, read by any.
//
// Buckets as coreio::duration_histogram (metrics.hpp): bucket i counts durations of at most
// duration_histogram::upper_ns(i) and more than the bucket below; the last one is unbounded.
// Protocol: the owning thread (a worker) is the only writer; each word is an owned_counter-style
// relaxed load + relaxed store (no RMW). A reader (metrics snapshot, any thread) loads each word
// relaxed: it wants recent values, not an instant, so the buckets, the count and the sum of one
// snapshot may straddle a record (the count is taken as the sum of the buckets it read, so it
// always matches them).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <coreio/metrics.hpp>

namespace coreio::detail {

/// The histograms' clock: steady_clock in nanoseconds since its epoch.
inline std::uint64_t monotonic_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

class owned_histogram {
 public:
  /// The bucket of a duration of ns nanoseconds.
  static std::size_t bucket_of(std::uint64_t ns) noexcept {
    if (ns <= duration_histogram::first_upper_ns) return 0;
    const auto i = static_cast<std::size_t>(
        std::bit_width((ns - 1) >> std::countr_zero(duration_histogram::first_upper_ns)));
    return i < duration_histogram::buckets ? i : duration_histogram::buckets - 1;
  }

  /// Counts one duration. The owning thread only.
  void record(std::uint64_t ns) noexcept {
    std::atomic<std::uint64_t>& b = counts_[bucket_of(ns)];
    // Relaxed load + store: single writer; readers want a recent value, not an ordering.
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }

  /// The counts so far. Any thread (relaxed loads: see the file comment).
  duration_histogram snapshot() const noexcept {
    duration_histogram h;
    for (std::size_t i = 0; i < duration_histogram::buckets; ++i) {
      h.counts[i] = counts_[i].load(std::memory_order_relaxed);
      h.count += h.counts[i];
    }
    h.sum_ns = sum_ns_.load(std::memory_order_relaxed);
    return h;
  }

 private:
  std::array<std::atomic<std::uint64_t>, duration_histogram::buckets> counts_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace coreio::detail
