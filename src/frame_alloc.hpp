// frame_alloc.hpp — the worker's side of frame allocation (frame_alloc.cpp): the per-thread cache
// of freed frames is on only while a worker thread runs.
//
// Protocol: a worker thread calls frame_cache_attach() before its first poll and
// frame_cache_detach() after its last; detach returns every cached frame to the allocator. Frames
// freed on the thread afterwards go straight to the allocator.
// Thread safety: each function acts on the calling thread's cache only.
#pragma once

#include <cstddef>

namespace coreio::detail {

void frame_cache_attach() noexcept;
void frame_cache_detach() noexcept;
/// Bytes held in the calling thread's cache now (tests; 0 in sanitizer builds, which skip it).
std::size_t frame_cache_bytes() noexcept;
/// Whether this build has the cache (false under ASan and TSan).
bool frame_cache_built() noexcept;
/// The most bytes the cache keeps per 64-byte size class, and the largest frame it keeps.
inline constexpr std::size_t frame_cache_class_budget = 16 * 1024;
inline constexpr std::size_t frame_cache_max_frame = 4096;

}  // namespace coreio::detail
