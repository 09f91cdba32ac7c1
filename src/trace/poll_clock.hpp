// trace/poll_clock.hpp — when the tracer reads the clock for a poll: every poll while polls are
// long, every few polls while they are short.
//
// Reading the time-stamp counter costs 10-40 ns on the 2-core VM of the README's figures (a few ns
// on bare metal), as much as a whole fork-join task there (skynet: 25 ns). So a worker times its
// polls one by one while they average at least short_poll_ticks, and otherwise reads the clock
// every `stride` polls, the stride doubling (up to max_stride) while the batches stay short and
// falling back to 1 at the first batch that is not. The first poll after a recorded spawn or wake
// is always timed (see stamp). A poll left untimed is recorded with time 0;
// the dump places it between its ring neighbours that have a time, evenly by position
// (tracer.cpp, fill_untimed), and marks its slice "timing": "interpolated".
//
// What that loses: within a batch of at most max_stride polls whose average was short, the split
// of the batch's time among them (each is drawn with the batch's mean). A long poll right after a
// run of short ones is spread over its batch; the next batches are timed one by one again. Debug
// mode's slow-poll check (steady_clock around every poll) is not sampled.
//
// Owner thread only (the worker's), no atomics.
#pragma once

#include <algorithm>
#include <cstdint>

#include "trace/tracer.hpp"

namespace coreio::detail::trace {

class poll_clock {
 public:
  /// Below this average per poll (in counter ticks: 1-2 µs at 2-4 GHz), a batch is short.
  static constexpr std::uint64_t short_poll_ticks = 4096;
  /// The longest run of polls that shares one clock read.
  static constexpr std::uint32_t max_stride = 32;

  /// The time of the poll about to begin, or 0: left to the dump's interpolation. force: read
  /// anyway (the first poll after a recorded spawn or wake: its flow's end must not be placed
  /// before the flow's start on another worker), without ending the batch.
  std::uint64_t stamp(bool force = false) noexcept {
    if (++since_ < stride_) return force ? raw_now() : 0;
    const std::uint64_t now = raw_now();
    const bool short_batch = now - last_ < std::uint64_t{since_} * short_poll_ticks;
    stride_ = short_batch ? std::min(stride_ * 2, max_stride) : 1;
    last_ = now;
    since_ = 0;
    return now;
  }

  std::uint32_t stride() const noexcept { return stride_; }

 private:
  std::uint64_t last_ = 0;   // the last read (0 at first: the first batch is not short)
  std::uint32_t since_ = 0;  // polls since it
  std::uint32_t stride_ = 1;
};

}  // namespace coreio::detail::trace
