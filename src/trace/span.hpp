// trace/span.hpp — named phases of a task in the trace (HTTP: connect, TLS handshake, send, wait
// for the head; the server's read head, handler, write), as span_begin/span_end events.
//
// span_scope{"http.client.connect", parent} records span_begin on the worker running the task now
// and span_end, at end() or its destruction, on the worker running it then (the task may have
// moved: chrome_trace.cpp writes spans as async slices keyed by the span id, which nest across
// tracks). The name must be a string literal (the event keeps the pointer).
// Off, a span costs one relaxed load of `tracing_runtimes` and a predictable branch; compiled
// out (COREIO_TRACE=OFF), nothing.
#pragma once

#include <atomic>
#include <cstdint>

#include "trace/tracer.hpp"

namespace coreio::detail::trace {

/// Runtimes recording a trace now, in the process. Writers: runtime_impl's constructor and
/// destructor. Relaxed: a hint that skips the worker lookup; a span racing a tracer's start or
/// end is recorded or not, either is fine (the ring itself is the worker's).
inline std::atomic<int> tracing_runtimes{0};

/// Records span_begin / span_end named `name` with span id `id`, if this thread is a worker whose
/// runtime traces.
void record_span(kind k, const char* name, std::uint64_t id) noexcept;
/// The tracer's id of the task polled on this thread (0: none, or not a tracing worker).
std::uint64_t current_trace_task() noexcept;

/// A span's id pairs its begin and end and nests it under its parent (chrome_trace.cpp): the id of
/// the task polled when the outermost span began. Not that of the task polled at each span: after
/// a suspension the worker resumes the innermost coroutine, which may belong to another thread of
/// execution of the same request (a timeout's child), so inner spans take their parent's id.
class span_scope {
 public:
  /// An outermost span: its id is the task polled now.
  explicit span_scope(const char* name) noexcept : name_(name) {
    if (trace_compiled && tracing_runtimes.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      begin(current_trace_task());
    }
  }
  /// A span with a given id (a span_scope's id(), or one kept by the caller).
  span_scope(const char* name, std::uint64_t id) noexcept : name_(name) {
    if (trace_compiled && tracing_runtimes.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      begin(id != 0 ? id : current_trace_task());
    }
  }
  /// A span nested in `parent`.
  span_scope(const char* name, const span_scope& parent) noexcept : span_scope(name, parent.id_) {}
  ~span_scope() { end(); }
  span_scope(const span_scope&) = delete;
  span_scope& operator=(const span_scope&) = delete;

  /// Ends the span now (once).
  void end() noexcept {
    if (open_) [[unlikely]] {
      open_ = false;
      record_span(kind::span_end, name_, id_);
    }
  }
  /// The span's id; 0 when tracing was off at its start.
  std::uint64_t id() const noexcept { return id_; }

 private:
  void begin(std::uint64_t id) noexcept {
    id_ = id;
    open_ = true;
    record_span(kind::span_begin, name_, id_);
  }

  const char* name_;
  std::uint64_t id_ = 0;
  bool open_ = false;
};

}  // namespace coreio::detail::trace
