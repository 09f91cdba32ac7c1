// trace/chrome_trace.cpp — tracer events → Chrome Trace Event JSON (the mapping: chrome_trace.hpp).
//
// Two passes. The first gathers, over every thread, each task's name and spawn place (spawn and
// spawn_where events) and the earliest timestamp (the document's zero). The second walks all
// threads' events merged by timestamp, pairing poll_begin/poll_end and park/unpark per thread, and
// the flows across threads: a spawn or wake leaves a pending flow id on its task, which that
// task's next poll_begin (on whichever thread) closes. Flow ends are written after every thread's slices,
// so a flow whose end was dropped by the ring has no dangling "f".
#include "trace/chrome_trace.hpp"
#include "util/json_string.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <unordered_map>

namespace coreio::detail::trace {

namespace {

struct task_info {
  std::uint32_t name = 0;
  std::uint32_t line = 0;
  const char* file = nullptr;
};

struct pending_flow {
  std::uint64_t id = 0;
  bool spawn = false;
  bool open = false;
};

class writer {
 public:
  writer(std::ostream& out, const name_table& names, std::uint64_t origin)
      : out_(out), names_(names), origin_(origin) {}

  // A record's common head: {"ph":"X","cat":"poll","name":...,"pid":1,"tid":T,"ts":...
  void begin(char ph, const char* cat, std::string_view name, int tid, std::uint64_t ts) {
    line_.clear();
    line_ += first_ ? "\n" : ",\n";
    first_ = false;
    line_ += "{\"ph\":\"";
    line_ += ph;
    line_ += "\",\"cat\":\"";
    line_ += cat;
    line_ += "\",\"name\":";
    json_string(line_, name);
    line_ += ",\"pid\":1,\"tid\":";
    line_ += std::to_string(tid);
    line_ += ",\"ts\":";
    micros(ts);
  }
  void field(const char* key, std::uint64_t v) {
    line_ += ",\"";
    line_ += key;
    line_ += "\":";
    line_ += std::to_string(v);
  }
  void raw(std::string_view s) { line_ += s; }
  void dur(std::uint64_t begin_ns, std::uint64_t end_ns) {
    line_ += ",\"dur\":";
    micros(origin_ + (end_ns - begin_ns));
  }
  void end() {
    line_ += '}';
    out_ << line_;
    ++count_;
  }
  void micros(std::uint64_t ts) {
    const std::uint64_t ns = ts - origin_;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
    line_ += buf;
  }
  std::string task_name(const task_info* t) const {
    std::string_view n = t != nullptr ? names_.name(t->name) : std::string_view{};
    return n.empty() ? std::string("task") : std::string(n);
  }
  std::string& line() { return line_; }
  std::uint64_t count() const { return count_; }

 private:
  std::ostream& out_;
  const name_table& names_;
  std::uint64_t origin_;
  std::string line_;
  bool first_ = true;
  std::uint64_t count_ = 0;
};

}  // namespace

chrome_trace_counts write_chrome_trace(std::ostream& out, std::span<const thread_events> threads,
                                       const name_table& names) {
  std::unordered_map<std::uint64_t, task_info> tasks;
  std::uint64_t origin = std::numeric_limits<std::uint64_t>::max();
  for (const auto& t : threads) {
    for (const event& e : t.events) {
      origin = std::min(origin, e.ts_ns);
      if (e.what == kind::spawn) tasks[e.task].line = e.aux;
      if (e.what == kind::spawn_where) {
        tasks[e.task].file = reinterpret_cast<const char*>(e.arg);
        tasks[e.task].name = e.aux;
      }
    }
  }
  if (origin == std::numeric_limits<std::uint64_t>::max()) origin = 0;

  chrome_trace_counts counts;
  writer w(out, names, origin);
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
  w.begin('M', "meta", "process_name", 0, origin);
  w.raw(",\"args\":{\"name\":\"coreio\"}");
  w.end();
  for (const auto& t : threads) {
    w.begin('M', "meta", "thread_name", t.tid, origin);
    w.line() += ",\"args\":{\"name\":";
    json_string(w.line(), t.name);
    w.raw("}");
    w.end();
  }

  struct flow_end {
    std::uint64_t id;
    bool spawn;
    int tid;
    std::uint64_t ts;
  };
  std::vector<flow_end> flow_ends;
  std::unordered_map<std::uint64_t, pending_flow> pending;  // task -> its open flow
  std::uint64_t next_flow = 1;

  // Every thread's events in one timeline (steady_clock is one clock for all threads), so that a
  // wake on one thread opens its flow before the woken task's poll on another closes it.
  struct ref {
    std::uint64_t ts;
    std::uint32_t thread;
    std::uint32_t index;
  };
  std::vector<ref> order;
  for (std::uint32_t i = 0; i < threads.size(); ++i) {
    for (std::uint32_t j = 0; j < threads[i].events.size(); ++j) {
      order.push_back({threads[i].events[j].ts_ns, i, j});
    }
  }
  // Ties keep their thread and ring order (what a stable sort by time would give).
  std::sort(order.begin(), order.end(), [](const ref& a, const ref& b) {
    return a.ts != b.ts           ? a.ts < b.ts
           : a.thread != b.thread ? a.thread < b.thread
                                  : a.index < b.index;
  });
  struct open_slices {
    const event* poll = nullptr;
    const event* park = nullptr;
  };
  std::vector<open_slices> open(threads.size());

  for (const ref& r : order) {
    const thread_events& t = threads[r.thread];
    const event& e = t.events[r.index];
    const event*& poll_open = open[r.thread].poll;
    const event*& park_open = open[r.thread].park;
    {
      const auto it = tasks.find(e.task);
      const task_info* info = it == tasks.end() ? nullptr : &it->second;
      switch (e.what) {
        case kind::spawn: {
          w.begin('i', "spawn", w.task_name(info), t.tid, e.ts_ns);
          w.line() += ",\"s\":\"t\",\"args\":{\"task\":" + std::to_string(e.task) +
                      ",\"parent\":" + std::to_string(e.arg) + "}";
          w.end();
          ++counts.spawns;
          const std::uint64_t id = next_flow++;
          pending[e.task] = {id, true, true};
          w.begin('s', "spawn", "spawn", t.tid, e.ts_ns);
          w.field("id", id);
          w.end();
          break;
        }
        case kind::wake: {
          const std::uint64_t id = next_flow++;
          pending[e.task] = {id, false, true};
          w.begin('s', "wake", "wake", t.tid, e.ts_ns);
          w.field("id", id);
          w.raw(",\"args\":{");
          w.line() += "\"by\":" + std::to_string(e.arg);
          w.raw("}");
          w.end();
          break;
        }
        case kind::poll_begin: {
          poll_open = &e;
          auto p = pending.find(e.task);
          if (p != pending.end() && p->second.open) {
            flow_ends.push_back({p->second.id, p->second.spawn, t.tid, e.ts_ns});
            p->second.open = false;
          }
          break;
        }
        case kind::poll_end: {
          if (poll_open == nullptr || poll_open->task != e.task) break;  // cut by the ring
          w.begin('X', "poll", w.task_name(info), t.tid, poll_open->ts_ns);
          w.dur(poll_open->ts_ns, e.ts_ns);
          w.raw(",\"args\":{");
          w.line() += "\"task\":" + std::to_string(e.task);
          if (info != nullptr && info->file != nullptr) {
            w.raw(",\"spawned_at\":");
            json_string(w.line(), std::string(info->file) + ":" + std::to_string(info->line));
          }
          if (e.aux != 0) w.raw(",\"ended\":true");
          if (poll_open->interpolated || e.interpolated) w.raw(",\"timing\":\"interpolated\"");
          w.raw("}");
          w.end();
          ++counts.polls;
          poll_open = nullptr;
          break;
        }
        case kind::park:
          park_open = &e;
          break;
        case kind::unpark: {
          if (park_open == nullptr) break;
          w.begin('X', "park", "park", t.tid, park_open->ts_ns);
          w.dur(park_open->ts_ns, e.ts_ns);
          w.end();
          ++counts.parks;
          park_open = nullptr;
          break;
        }
        case kind::steal: {
          w.begin('i', "sched", "steal", t.tid, e.ts_ns);
          w.raw(",\"s\":\"t\",\"args\":{");
          w.line() += "\"from\":" + std::to_string(e.arg) + ",\"tasks\":" + std::to_string(e.aux);
          w.raw("}");
          w.end();
          ++counts.steals;
          break;
        }
        case kind::timer_fire:
        case kind::io_complete: {
          const bool timer = e.what == kind::timer_fire;
          w.begin('i', timer ? "timer" : "io", timer ? "timer fired" : "io completed", t.tid,
                  e.ts_ns);
          w.raw(",\"s\":\"t\",\"args\":{");
          w.line() += "\"task\":" + std::to_string(e.task);
          w.raw("}");
          w.end();
          break;
        }
        case kind::span_begin:
        case kind::span_end: {
          // Async slices keyed by the task: they nest, and a span may end on another worker.
          const char* name = reinterpret_cast<const char*>(e.arg);
          w.begin(e.what == kind::span_begin ? 'b' : 'e', "span", name ? name : "span", t.tid,
                  e.ts_ns);
          w.raw(",\"id\":\"");
          w.line() += std::to_string(e.task);
          w.raw("\"");
          if (e.what == kind::span_begin) {
            w.raw(",\"args\":{");
            w.line() += "\"task\":" + std::to_string(e.task);
            w.raw("}");
            ++counts.spans;
          }
          w.end();
          break;
        }
        case kind::spawn_where:
        case kind::stop:
          break;
      }
    }
  }
  for (const flow_end& f : flow_ends) {
    w.begin('f', f.spawn ? "spawn" : "wake", f.spawn ? "spawn" : "wake", f.tid, f.ts);
    w.field("id", f.id);
    w.raw(",\"bp\":\"e\"");
    w.end();
    ++counts.flows;
  }
  out << "\n]}\n";
  counts.events = w.count();
  return counts;
}

}  // namespace coreio::detail::trace
