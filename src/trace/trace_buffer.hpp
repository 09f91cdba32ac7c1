// trace/trace_buffer.hpp — one thread's trace ring: the tracer's events, written by their thread
// only, read by any thread at any time (issue 13's per-thread lock-free ring buffer).
//
// Protocol (a seqlock by slot index, the overwrite-oldest shape of Linux perf's ring buffer):
//   writer (the owning thread), event number j into slot j % capacity:
//     1. claimed_ = j + 1                  relaxed: ordered before step 2 by step 2's release
//     2. the slot's four words             release each: a reader that sees one of them also sees
//                                          the claim of step 1 (see snapshot)
//     3. published_ = j + 1                release: the slot's words happen-before a reader that
//                                          acquires this value
//   reader (snapshot):
//     1. h = published_                    acquire: slots below h are complete
//     2. copy slots [max(0, h - capacity), h), each word acquire
//     3. c = claimed_                      relaxed, after the acquire loads of step 2: if any copied
//                                          word came from a later overwrite (event j' >= capacity
//                                          past the copied one), that word's release store carried
//                                          claim j' + 1 with it, so c >= j' + 1
//     4. keep only the copied events numbered >= c - capacity: none of those can have been
//        overwritten during the copy.
// No fences (TSan does not model them: util/tsan.hpp), no RMW, no lock: on x86_64 every one of
// these is a plain mov. A full ring overwrites its oldest events; `dropped()` counts them.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace coreio::detail::trace {

/// What happened. Fields of `event` by kind (task ids are the tracer's, 0 = none):
enum class kind : std::uint8_t {
  spawn = 1,    ///< task: the new task; arg: the spawning task; aux: the spawn line
  spawn_where,  ///< task: the new task; arg: the file name (const char*, static); aux: name index
  poll_begin,   ///< task: the task resumed
  poll_end,     ///< task: the task; not recorded: put back at the dump (tracer.hpp, close_polls)
  wake,         ///< task: the task made ready; arg: the task that woke it (0: IO, timer, thread)
  steal,        ///< arg: the victim worker; aux: how many tasks were taken
  park,         ///< the worker sleeps in its event loop
  unpark,       ///< it woke up
  timer_fire,   ///< task: the sleeper whose timer fired
  io_complete,  ///< task: the task whose socket operation completed
  span_begin,  ///< task: the span's id (span.hpp); arg: its name (const char*, static): HTTP phases
  span_end,    ///< task, arg: as span_begin
  stop,        ///< the worker's loop ended (shutdown): closes its last poll (tracer.hpp)
};

/// One record: 32 bytes.
struct event {
  /// The raw clock in a ring (0: not read, poll_clock.hpp); steady_clock nanoseconds since its
  /// epoch after the dump's conversion (tracer.cpp).
  std::uint64_t ts_ns = 0;
  kind what{};
  bool interpolated = false;  ///< not recorded: set by the dump for a time it placed (fill_untimed)
  std::uint32_t aux = 0;
  std::uint64_t task = 0;
  std::uint64_t arg = 0;
};

/// A single-writer ring of events; see the protocol above. Not movable (readers hold pointers).
/// Cache-line aligned: the writer stores next_, claimed_ and published_ on every event, and the
/// workers' rings are allocated one after another; sharing a line with another worker's ring
/// made tracing cost 1.55x the thread time of skynet at 2 workers against 1.2x at one.
class alignas(64) trace_buffer {
 public:
  /// capacity: events kept (rounded up to a power of two, at least 2).
  explicit trace_buffer(std::size_t capacity)
      : mask_(std::bit_ceil(std::max<std::size_t>(capacity, 2)) - 1),
        slots_(std::make_unique<slot[]>(mask_ + 1)) {}
  trace_buffer(const trace_buffer&) = delete;
  trace_buffer& operator=(const trace_buffer&) = delete;

  std::size_t capacity() const noexcept { return mask_ + 1; }

  /// Appends e. The owning thread only.
  void record(const event& e) noexcept {
    const std::uint64_t j = next_;
    next_ = j + 1;
    claimed_.store(j + 1, std::memory_order_relaxed);  // published by the release stores below
    slot& s = slots_[j & mask_];
    s.w[0].store(e.ts_ns, std::memory_order_release);
    s.w[1].store(static_cast<std::uint64_t>(e.what) | (std::uint64_t{e.aux} << 32),
                 std::memory_order_release);
    s.w[2].store(e.task, std::memory_order_release);
    s.w[3].store(e.arg, std::memory_order_release);
    published_.store(j + 1, std::memory_order_release);  // the slot is complete
  }

  /// The events still in the ring, oldest first, none torn. Any thread, any time.
  std::vector<event> snapshot() const {
    const std::uint64_t h = published_.load(std::memory_order_acquire);
    const std::uint64_t cap = capacity();
    const std::uint64_t first = h > cap ? h - cap : 0;
    std::vector<event> out;
    out.reserve(static_cast<std::size_t>(h - first));
    for (std::uint64_t j = first; j < h; ++j) {
      const slot& s = slots_[j & mask_];
      event e;
      e.ts_ns = s.w[0].load(std::memory_order_acquire);
      const std::uint64_t w1 = s.w[1].load(std::memory_order_acquire);
      e.what = static_cast<kind>(w1 & 0xff);
      e.aux = static_cast<std::uint32_t>(w1 >> 32);
      e.task = s.w[2].load(std::memory_order_acquire);
      e.arg = s.w[3].load(std::memory_order_acquire);
      out.push_back(e);
    }
    // After the acquire loads above: covers every overwrite whose words were seen (protocol 3).
    const std::uint64_t c = claimed_.load(std::memory_order_relaxed);
    const std::uint64_t valid_from = c > cap ? c - cap : 0;
    if (valid_from > first) {
      const auto torn = static_cast<std::ptrdiff_t>(std::min(valid_from, h) - first);
      out.erase(out.begin(), out.begin() + torn);
    }
    return out;
  }

  /// Events overwritten before anyone read them (so far).
  std::uint64_t dropped() const noexcept {
    const std::uint64_t h = published_.load(std::memory_order_relaxed);  // a count only
    return h > capacity() ? h - capacity() : 0;
  }

 private:
  struct slot {
    std::atomic<std::uint64_t> w[4];
  };
  const std::size_t mask_;
  std::unique_ptr<slot[]> slots_;
  // The writer's line (the class is 64-byte aligned and sized, so no other object shares it).
  alignas(64) std::uint64_t next_ = 0;  // the writer's own count (owner only)
  std::atomic<std::uint64_t> claimed_{0};
  std::atomic<std::uint64_t> published_{0};
};

}  // namespace coreio::detail::trace
