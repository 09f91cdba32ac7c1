// coreio/metrics_text.hpp — a runtime's counters in the Prometheus text exposition format.
//
// metrics_text(rt) renders runtime::metrics() as the text format 0.0.4 that Prometheus scrapes
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one `# HELP` and one `# TYPE`
// line per family, then its samples. Names follow Prometheus' conventions: a `coreio_` prefix,
// base units (seconds), `_total` on counters; per-worker families carry a `worker="N"` label.
//
//   coreio_tasks_spawned_total 1200
//   coreio_worker_polls_total{worker="0"} 5310
//   coreio_worker_busy_seconds_total{worker="0"} 0.412
//
// Serve it from an http::server route with content type `text/plain; version=0.0.4`, e.g.
//   srv.route("GET", "/metrics", [&rt](http::request&) -> task<http::response> {
//     http::response r{200, coreio::metrics_text(rt)};
//     r.set_header("Content-Type", coreio::metrics_content_type);
//     co_return r;
//   });
//
// Thread safety: any thread, as runtime::metrics(); the text is one snapshot (see metrics.hpp for
// what a snapshot guarantees). Cost: one snapshot and a string of about 3 KiB per worker.
#pragma once

#include <string>
#include <string_view>

#include <coreio/metrics.hpp>

namespace coreio {

class runtime;

/// The Content-Type of the text exposition format.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// A snapshot rendered in the Prometheus text exposition format (families described above).
std::string metrics_text(const runtime_metrics& m);

/// metrics_text(rt.metrics()).
std::string metrics_text(const runtime& rt);

/// The same for the runtime running the caller (a task: no runtime& needed, as in a /metrics
/// route, http/metrics_handler.hpp). Worker only: throws usage_error elsewhere.
std::string metrics_text();

}  // namespace coreio
