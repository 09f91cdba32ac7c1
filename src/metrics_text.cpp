// src/metrics_text.cpp — runtime_metrics → Prometheus text exposition format 0.0.4.
//
// One table drives the output: each family names its metric, type, help text and how to read its
// value from a snapshot, so a counter added to metrics.hpp is one line here. Families are written
// whole (HELP, TYPE, every sample) because the format requires a family's samples to be contiguous.
#include <coreio/metrics_text.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <coreio/runtime.hpp>

#include "runtime_impl.hpp"

namespace coreio {

namespace {

enum class kind { counter, gauge, histogram };

struct runtime_family {
  const char* name;
  kind type;
  const char* help;
  std::uint64_t runtime_metrics::* field;
};

struct worker_family {
  const char* name;
  kind type;
  const char* help;
  std::uint64_t worker_metrics::* field;
  double scale;  // 1e-9 turns a *_ns field into seconds
};

constexpr runtime_family runtime_families[] = {
    {"coreio_tasks_spawned_total", kind::counter, "Spawned and gathered tasks created.",
     &runtime_metrics::tasks_spawned},
    {"coreio_tasks_completed_total", kind::counter, "Spawned and gathered tasks that have ended.",
     &runtime_metrics::tasks_completed},
    {"coreio_tasks_alive", kind::gauge, "Spawned tasks not yet ended.",
     &runtime_metrics::tasks_alive},
    {"coreio_global_queue_depth", kind::gauge, "Tasks in the global queue (approximate).",
     &runtime_metrics::global_queue_depth},
    {"coreio_blocking_threads", kind::gauge, "Blocking-pool threads alive.",
     &runtime_metrics::blocking_threads},
    {"coreio_blocking_idle_threads", kind::gauge, "Blocking-pool threads waiting for a job.",
     &runtime_metrics::blocking_idle_threads},
    {"coreio_blocking_queue_depth", kind::gauge, "to_thread calls queued, not yet started.",
     &runtime_metrics::blocking_queue_depth},
    {"coreio_blocking_jobs_completed_total", kind::counter,
     "to_thread calls that have returned or thrown.", &runtime_metrics::blocking_jobs_completed},
};

constexpr worker_family worker_families[] = {
    {"coreio_worker_polls_total", kind::counter, "Task resumptions run by the worker.",
     &worker_metrics::polls, 1},
    {"coreio_worker_steals_total", kind::counter, "Tasks taken from other workers' queues.",
     &worker_metrics::steals, 1},
    {"coreio_worker_steal_operations_total", kind::counter, "Successful steal-half operations.",
     &worker_metrics::steal_operations, 1},
    {"coreio_worker_loop_steals_total", kind::counter,
     "Polls of another worker's event loop left unpolled for a monitor tick with IO pending.",
     &worker_metrics::loop_steals, 1},
    {"coreio_worker_parks_total", kind::counter, "Times the worker slept in its event loop.",
     &worker_metrics::parks, 1},
    {"coreio_worker_local_queue_depth", kind::gauge,
     "Tasks in the worker's run queue and fork deque.", &worker_metrics::local_queue_depth, 1},
    {"coreio_worker_overflows_total", kind::counter,
     "Times a full local queue moved half of itself to the global queue.",
     &worker_metrics::overflows, 1},
    {"coreio_worker_busy_seconds_total", kind::counter, "Time the worker was not parked.",
     &worker_metrics::busy_ns, 1e-9},
    {"coreio_worker_global_pulls_total", kind::counter, "Tasks taken from the global queue.",
     &worker_metrics::global_pulls, 1},
    {"coreio_worker_timers_fired_total", kind::counter, "Sleeps the worker fired itself.",
     &worker_metrics::timers_fired, 1},
    {"coreio_worker_stuck_with_queued_tasks_total", kind::counter,
     "Monitor ticks that found the worker in one long poll with tasks queued behind it.",
     &worker_metrics::stuck_with_queued_tasks, 1},
    {"coreio_worker_timers_fired_by_monitor_total", kind::counter,
     "Sleeps of the worker that the monitor fired while the worker was busy.",
     &worker_metrics::timers_fired_by_monitor, 1},
};

void head(std::string& out, const char* name, kind type, const char* help) {
  // In format 0.0.4 the family name is the sample name, `_total` included (as client_golang).
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += type == kind::counter ? " counter\n" : type == kind::gauge ? " gauge\n" : " histogram\n";
}

struct histogram_family {
  const char* name;
  const char* help;
  duration_histogram worker_metrics::* field;
};

constexpr histogram_family histogram_families[] = {
    {"coreio_worker_poll_time_seconds", "How long each poll ran.", &worker_metrics::poll_time},
    {"coreio_worker_wake_to_poll_seconds",
     "Delay from a task's wake or spawn on the worker to the start of its poll.",
     &worker_metrics::wake_to_poll},
};

struct name_family {
  const char* name;
  kind type;
  const char* help;
  std::uint64_t task_name_metrics::* field;
  double scale;
};

constexpr name_family name_families[] = {
    {"coreio_task_name_spawned_total", kind::counter, "Tasks spawned with this name.",
     &task_name_metrics::spawned, 1},
    {"coreio_task_name_completed_total", kind::counter, "Tasks with this name that have ended.",
     &task_name_metrics::completed, 1},
    {"coreio_task_name_failed_total", kind::counter,
     "Tasks with this name that ended by an exception other than cancellation.",
     &task_name_metrics::failed, 1},
    {"coreio_task_name_alive", kind::gauge, "Tasks with this name not yet ended.",
     &task_name_metrics::alive, 1},
    {"coreio_task_name_busy_seconds_total", kind::counter,
     "Time spent polling tasks with this name.", &task_name_metrics::busy_ns, 1e-9},
};

/// A label value: backslash, double quote and newline escaped (the text format's rules).
void label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void seconds(std::string& out, double s) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.9g", s);
  out.append(buf, static_cast<std::size_t>(n));
}

void value(std::string& out, std::uint64_t v, double scale) {
  char buf[32];
  int n = scale == 1 ? std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v))
                     : std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v) * scale);
  out.append(buf, static_cast<std::size_t>(n));
  out += '\n';
}

}  // namespace

std::string metrics_text(const runtime_metrics& m) {
  std::string out;
  out.reserve(1024 + m.workers.size() * 1536);
  for (const auto& f : runtime_families) {
    head(out, f.name, f.type, f.help);
    out += f.name;
    out += ' ';
    value(out, m.*f.field, 1);
  }
  out += "# HELP coreio_workers Worker threads of the runtime.\n# TYPE coreio_workers gauge\n";
  out += "coreio_workers ";
  value(out, m.workers.size(), 1);
  for (const auto& f : worker_families) {
    head(out, f.name, f.type, f.help);
    for (std::size_t w = 0; w < m.workers.size(); ++w) {
      out += f.name;
      out += "{worker=\"";
      out += std::to_string(w);
      out += "\"} ";
      value(out, m.workers[w].*f.field, f.scale);
    }
  }
  // Histograms: only once something was recorded (metrics_histograms on), each bucket cumulative.
  for (const auto& f : histogram_families) {
    bool any = false;
    for (const auto& wm : m.workers) any = any || (wm.*f.field).count != 0;
    if (!any) continue;
    head(out, f.name, kind::histogram, f.help);
    for (std::size_t w = 0; w < m.workers.size(); ++w) {
      const duration_histogram& h = m.workers[w].*f.field;
      const std::string worker = "{worker=\"" + std::to_string(w) + "\"";
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < duration_histogram::buckets; ++i) {
        cumulative += h.counts[i];
        out += f.name;
        out += "_bucket";
        out += worker;
        out += ",le=\"";
        if (i + 1 < duration_histogram::buckets) {
          seconds(out, static_cast<double>(duration_histogram::upper_ns(i)) * 1e-9);
        } else {
          out += "+Inf";
        }
        out += "\"} ";
        value(out, cumulative, 1);
      }
      out += f.name;
      out += "_sum";
      out += worker;
      out += "} ";
      value(out, h.sum_ns, 1e-9);
      out += f.name;
      out += "_count";
      out += worker;
      out += "} ";
      value(out, cumulative, 1);
    }
  }
  if (!m.task_names.empty()) {
    for (const auto& f : name_families) {
      head(out, f.name, f.type, f.help);
      for (const auto& t : m.task_names) {
        out += f.name;
        out += "{name=\"";
        label_value(out, t.name);
        out += "\"} ";
        value(out, t.*f.field, f.scale);
      }
    }
  }
  return out;
}

std::string metrics_text(const runtime& rt) { return metrics_text(rt.metrics()); }

std::string metrics_text() {
  const detail::runtime_impl* rt = detail::this_runtime();
  if (rt == nullptr) detail::throw_usage("coreio::metrics_text() outside a runtime's worker");
  return metrics_text(rt->metrics());
}

}  // namespace coreio
