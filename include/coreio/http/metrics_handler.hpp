// coreio/http/metrics_handler.hpp — a /metrics route in one line: the runtime's counters in the
// Prometheus text exposition format (coreio/metrics_text.hpp), for Prometheus to scrape and for
// tools/coreio-top.
//
//   srv.route("GET", "/metrics", http::metrics_handler());
//
// Each request renders a fresh snapshot of the runtime serving it, then the counters of every live
// http::server and http::client of the process (http::metrics_text(), coreio/http/stats.hpp)
// (Content-Type `text/plain; version=0.0.4; charset=utf-8`). Thread safety: as any handler.
#pragma once

#include <coreio/http/server.hpp>

namespace coreio::http {

/// A handler answering 200 with coreio::metrics_text() of the runtime running it followed by
/// http::metrics_text().
handler metrics_handler();

}  // namespace coreio::http
