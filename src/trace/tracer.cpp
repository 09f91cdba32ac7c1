// trace/tracer.cpp — rings per worker, and the dump: raw clock → steady_clock ns, then JSON.
#include "trace/tracer.hpp"

#include "sched/worker.hpp"
#include "trace/span.hpp"

#include <cerrno>
#include <fstream>
#include <system_error>
#include <thread>

namespace coreio::detail::trace {

tracer::tracer(std::size_t workers, std::size_t capacity)
    : raw0_(raw_now()), steady0_(std::chrono::steady_clock::now()) {
  buffers_.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i)
    buffers_.push_back(std::make_unique<trace_buffer>(capacity));
}

void record_span(kind k, const char* name, std::uint64_t id) noexcept {
  worker* w = this_worker();
  if (w == nullptr || w->trace() == nullptr) return;
  w->trace()->record(
      {.ts_ns = raw_now(), .what = k, .task = id, .arg = reinterpret_cast<std::uintptr_t>(name)});
}

std::uint64_t current_trace_task() noexcept {
  worker* w = this_worker();
  return w != nullptr && w->trace() != nullptr ? w->trace_task() : 0;
}

void fill_untimed(std::vector<event>& events) {
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::size_t prev = none;  // the last timed event before i
  for (std::size_t i = 0; i <= events.size(); ++i) {
    const bool end = i == events.size();
    if (!end && events[i].ts_ns == 0) continue;
    if (prev == none && end) return;  // no timed event at all: nothing to anchor them to
    for (std::size_t j = prev == none ? 0 : prev + 1; j < i; ++j) {
      event& e = events[j];
      if (prev == none) {
        e.ts_ns = events[i].ts_ns;
      } else if (end) {
        e.ts_ns = events[prev].ts_ns;
      } else {
        const std::uint64_t t0 = events[prev].ts_ns;
        const std::uint64_t span = events[i].ts_ns > t0 ? events[i].ts_ns - t0 : 0;
        e.ts_ns = t0 + span * (j - prev) / (i - prev);
      }
      e.interpolated = true;
    }
    prev = i;
  }
}

void close_polls(std::vector<event>& events) {
  std::vector<event> out;
  out.reserve(events.size() + events.size() / 2);
  const event* open = nullptr;  // the poll in progress, in ring order (this thread's order)
  for (const event& e : events) {
    if (open != nullptr && ends_poll(e.what)) {
      out.push_back({.ts_ns = e.ts_ns, .what = kind::poll_end, .task = open->task});
      open = nullptr;
    }
    out.push_back(e);
    if (e.what == kind::poll_begin) open = &e;
  }
  if (open != nullptr) {  // no event after it yet: left out
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      if (it->what == kind::poll_begin) {
        out.erase(std::next(it).base());
        break;
      }
    }
  }
  events = std::move(out);
}

chrome_trace_counts tracer::write(std::ostream& out) const {
  using std::chrono::duration_cast;
  using std::chrono::nanoseconds;
  // The second calibration pair; at least 1 ms after the first so the slope is well defined.
  auto steady1 = std::chrono::steady_clock::now();
  if (steady1 - steady0_ < std::chrono::milliseconds(1)) {
    std::this_thread::sleep_until(steady0_ + std::chrono::milliseconds(1));
    steady1 = std::chrono::steady_clock::now();
  }
  const std::uint64_t raw1 = raw_now();
  const double ns_per_tick =
      static_cast<double>(duration_cast<nanoseconds>(steady1 - steady0_).count()) /
      static_cast<double>(raw1 - raw0_);
  const auto base_ns =
      static_cast<std::uint64_t>(duration_cast<nanoseconds>(steady0_.time_since_epoch()).count());

  std::vector<thread_events> threads;
  threads.reserve(buffers_.size());
  for (std::size_t i = 0; i < buffers_.size(); ++i) {
    thread_events t{"worker " + std::to_string(i), static_cast<int>(i), buffers_[i]->snapshot()};
    fill_untimed(t.events);
    close_polls(t.events);
    for (event& e : t.events) {
      const double d =
          static_cast<double>(static_cast<std::int64_t>(e.ts_ns - raw0_)) * ns_per_tick;
      e.ts_ns = base_ns + static_cast<std::uint64_t>(d < 0 ? 0 : d);
    }
    threads.push_back(std::move(t));
  }
  return write_chrome_trace(out, threads, task_names());
}

chrome_trace_counts tracer::write_file(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f)
    throw std::system_error(errno, std::generic_category(), "coreio trace: cannot open " + path);
  chrome_trace_counts c = write(f);
  f.flush();
  if (!f)
    throw std::system_error(errno, std::generic_category(), "coreio trace: cannot write " + path);
  return c;
}

}  // namespace coreio::detail::trace
