// util/cache_padded.hpp — keeps hot atomics written by different threads on separate cache lines.
//
// 128 bytes, not 64: on x86_64 the L2 adjacent-line prefetcher pulls lines in pairs, so two atomics
// 64 bytes apart still false-share (Intel optimisation manual, "spatial prefetcher"; the same value
// is used by Tokio's CachePadded, crossbeam-utils and folly's hardware_destructive_interference_size
// on x86_64); Apple/ARM big cores have 128-byte lines. Never put one of these in a coroutine frame:
// frames do not honour over-alignment.
#pragma once

#include <cstddef>

namespace coreio::detail {

inline constexpr std::size_t cache_line = 128;

template <class T>
struct alignas(cache_line) cache_padded {
  T value{};
  T* operator->() noexcept { return &value; }
  const T* operator->() const noexcept { return &value; }
  T& operator*() noexcept { return value; }
  const T& operator*() const noexcept { return value; }
};

}  // namespace coreio::detail
