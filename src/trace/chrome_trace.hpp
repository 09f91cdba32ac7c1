// trace/chrome_trace.hpp — the tracer's events as Chrome Trace Event JSON, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open.
//
// Format: the JSON Object Format of the Trace Event Format document (Google, "Trace Event Format",
// docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU): {"traceEvents": [...],
// "displayTimeUnit": "ns"}, timestamps in microseconds (fractions kept) from the earliest event.
// What each tracer event becomes, one track (tid) per thread, named by a thread_name record:
//   poll_begin .. poll_end   a complete event "X", cat "poll", named by the task's name (or
//                            "task"), args {task, spawned_at, timing: "interpolated" when its
//                            start or end was placed by fill_untimed (tracer.hpp)}; a poll cut by
//                            the ring's start or still running at the dump is left out
//   spawn                    an instant "i" (cat "spawn") and the start "s" of a flow (cat
//                            "spawn", id = the task) that ends "f" at the task's first poll
//   wake                     the start of a flow (cat "wake") that ends at the task's next poll
//   park .. unpark           "X" named "park" (cat "park")
//   steal, timer_fire, io_complete   instants "i" (cat "sched", "timer", "io")
//   span_begin .. span_end   async "b" / "e" named by the span (cat "span", id = the task, as a
//                            string): HTTP phases, nested per task even when it changes worker
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "trace/name_table.hpp"
#include "trace/trace_buffer.hpp"

namespace coreio::detail::trace {

/// One thread's events, oldest first (trace_buffer::snapshot).
struct thread_events {
  std::string name;  ///< the track's name ("worker 0")
  int tid = 0;       ///< the track's id
  std::vector<event> events;
};

/// What was written, by kind: what the tests compare with the work done.
struct chrome_trace_counts {
  std::uint64_t polls = 0;   ///< "X" poll events
  std::uint64_t spawns = 0;  ///< spawn instants
  std::uint64_t flows = 0;   ///< flows with both ends
  std::uint64_t steals = 0;
  std::uint64_t parks = 0;
  std::uint64_t spans = 0;   ///< span_begin records ("b")
  std::uint64_t events = 0;  ///< every record in traceEvents, metadata included
};

/// Writes the JSON document for `threads` to `out`; names come from `names`.
chrome_trace_counts write_chrome_trace(std::ostream& out, std::span<const thread_events> threads,
                                       const name_table& names);

}  // namespace coreio::detail::trace
