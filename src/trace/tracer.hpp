// trace/tracer.hpp — the runtime's tracer: one event ring per worker, one event and one clock read
// per poll, and the dump as Chrome Trace Event JSON (chrome_trace.hpp).
//
// On when runtime_options::trace_path is set or COREIO_TRACE names a file (runtime.cpp); then each
// worker holds a pointer to its ring and records, on its own thread only (trace_buffer.hpp):
//   poll_begin before each resume (its end: below), park/unpark, steal (victim, count), spawn and
//   spawn_where (by the spawning task), wake (of a task, by the running task; or timer_fire /
//   io_complete when the worker's timers or event loop made it ready). A timer that the monitor
//   thread fires for a worker busy in a poll (sched/monitor.hpp) has no ring to go to: it is
//   counted in worker_metrics::timers_fired_by_monitor, and the task it wakes appears at its poll.
// A poll records one event, poll_begin, with at most one clock read (poll_clock.hpp: while polls
// are sub-microsecond, one read per batch of up to 32, the others placed at the dump): it ends where the worker's next
// scheduler event in its ring begins (the next poll_begin, a park or unpark, a steal, a timer or IO
// wake from the worker's own checks, the stop at shutdown; ends_poll below). Events recorded during
// a poll (spawn, spawn_where, wake by the running task, span_begin/span_end) do not end it. The dump
// puts the poll_end back (close_polls), so a poll's slice also covers the few instructions of queue
// bookkeeping after it (and, every event_interval polls, the timer and event-loop check when they
// find nothing). A poll with no later scheduler event in the ring (still running, or the worker's
// last before the dump) is left out.
// Off, the hooks cost one predictable branch on a null pointer each; built with COREIO_TRACE=OFF
// (CMake) they are compiled out (trace_compiled below).
//
// Clock: the time-stamp counter on x86_64 (rdtsc: a few ns on bare metal, 10-40 ns on the 2-core VM
// of README's figures, where it is much of what tracing costs; invariant TSC on every x86_64 of the
// last decade), converted to steady_clock nanoseconds at the dump by a line through two (tsc,
// steady_clock) pairs, one taken when the tracer starts and one at the dump. Elsewhere
// steady_clock itself.
//
// Thread safety: buffer(i) records from worker i only; write() from any thread at any time (a
// snapshot of each ring: events still being written are left out).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <coreio/detail/promise_base.hpp>

#include "trace/chrome_trace.hpp"
#include "trace/trace_buffer.hpp"

namespace coreio::detail::trace {

#ifdef COREIO_TRACE_COMPILED
inline constexpr bool trace_compiled = COREIO_TRACE_COMPILED != 0;
#else
inline constexpr bool trace_compiled = true;
#endif

/// The tracer's raw clock (see the file comment).
inline std::uint64_t raw_now() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

/// True for the events that a worker records only between polls: each ends the poll before it.
constexpr bool ends_poll(kind k) noexcept {
  return k == kind::poll_begin || k == kind::park || k == kind::unpark || k == kind::steal ||
         k == kind::timer_fire || k == kind::io_complete || k == kind::stop;
}

/// Gives each event of one ring's snapshot recorded without a time (ts_ns 0, poll_clock.hpp) a time
/// between its nearest timed neighbours, evenly by position (before the first timed event: that
/// event's time; after the last: the last's), and marks it interpolated. Raw clock values.
void fill_untimed(std::vector<event>& events);

/// Inserts into one ring's snapshot the poll_end of each poll, at the time of the event that ends
/// it (ends_poll); drops a trailing poll_begin, which has none.
void close_polls(std::vector<event>& events);

/// Who a poll runs: the spawned task's id, name index and spawn place; for a gather child, id 0
/// in reports and, as the tracer's id, its promise's address with the top bit set.
struct task_identity {
  std::uint64_t id = 0;
  std::uint32_t name = 0;
  std::uint32_t line = 0;
  const char* file = nullptr;
};

/// The identity of the task whose frame h is about to be resumed. Worker only, before resuming h
/// (its frame is then this thread's to read).
inline task_identity identity_of(std::coroutine_handle<> h) noexcept {
  // Every frame a worker resumes is a task<T>'s, whose promise starts with promise_base at the
  // frame's promise offset (task.hpp asserts the alignment this relies on).
  promise_base& p = promise_of(h);
  const promise_base* owner = p.scope_ != nullptr ? scope_owner(p.scope_) : &p;
  if (owner->kind_ == completion_kind::spawned) {
    const spawned_state* st = owner->spawned_;
    return {st->id, st->name, st->where.line(), st->where.file_name()};
  }
  return {reinterpret_cast<std::uintptr_t>(owner) | (std::uint64_t{1} << 63), 0, 0, nullptr};
}

/// The spawned_state of the spawned task that h's frame runs for (h itself or a coroutine it
/// awaits), or nullptr for a gather child's. Same rules as identity_of.
inline spawned_state* spawned_of(std::coroutine_handle<> h) noexcept {
  promise_base& p = promise_of(h);
  const promise_base* owner = p.scope_ != nullptr ? scope_owner(p.scope_) : &p;
  return owner->kind_ == completion_kind::spawned ? owner->spawned_ : nullptr;
}

/// The tracer's id of that task (identity_of(h).id).
inline std::uint64_t task_of(std::coroutine_handle<> h) noexcept { return identity_of(h).id; }

class tracer {
 public:
  /// workers: one ring each, of `capacity` events (32 bytes each).
  tracer(std::size_t workers, std::size_t capacity);

  trace_buffer& buffer(std::size_t worker) noexcept { return *buffers_[worker]; }

  /// Writes every ring's events as Chrome Trace Event JSON. Any thread.
  chrome_trace_counts write(std::ostream& out) const;
  /// The same to a file; throws std::system_error if it cannot be written.
  chrome_trace_counts write_file(const std::string& path) const;

 private:
  std::vector<std::unique_ptr<trace_buffer>> buffers_;
  std::uint64_t raw0_;
  std::chrono::steady_clock::time_point steady0_;
};

}  // namespace coreio::detail::trace
