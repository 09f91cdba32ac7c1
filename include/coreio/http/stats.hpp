// coreio/http/stats.hpp — http::server_stats, and the HTTP part of the Prometheus exposition.
//
// server::stats() (server.hpp) and client::stats() (client.hpp) are snapshots of one object's
// counters. http::metrics_text() renders the counters of every http::server and http::client alive
// in the process (a process-wide registry, as Prometheus client libraries' default registry: one
// scrape target per process), each labelled by a process-unique sequence number given at
// construction (`server="1"`, `client="2"`):
//
//   coreio_http_server_requests_total{server="1"} 1200
//   coreio_http_server_responses_total{server="1",class="2xx"} 1190
//   coreio_http_server_request_duration_seconds_bucket{server="1",le="0.000131072"} 1001
//   coreio_http_client_requests_total{client="2"} 1200
//
// http::metrics_handler() (metrics_handler.hpp) serves coreio::metrics_text() followed by this.
//
// Thread safety: any thread; each counter is exact for some recent instant (relaxed reads).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <coreio/metrics.hpp>

namespace coreio::http {

/// Counters of one server since it was made (a snapshot; see server::stats()).
struct server_stats {
  std::uint64_t requests = 0;  ///< request heads received (parsed whole)
  /// Responses whose head was written, by status class: [0] 1xx (100 Continue not counted), [1]
  /// 2xx, [2] 3xx, [3] 4xx, [4] 5xx. Error responses of the server itself included.
  std::array<std::uint64_t, 5> responses{};
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_closed = 0;
  std::uint64_t connections_open = 0;  ///< accepted - closed
  std::uint64_t bytes_received = 0;    ///< from the sockets (TLS records: after decryption)
  std::uint64_t bytes_sent = 0;        ///< to the sockets (before encryption)
  // Among the responses, the statuses that report a client's error or a limit:
  std::uint64_t bad_requests = 0;       ///< 400: malformed request (framing, codings)
  std::uint64_t not_found = 0;          ///< 404: no route
  std::uint64_t timeouts = 0;           ///< 408: head or body deadline
  std::uint64_t body_too_large = 0;     ///< 413: body over max_body
  std::uint64_t uri_too_long = 0;       ///< 414: request line over 8 KiB
  std::uint64_t headers_too_large = 0;  ///< 431: header limits
  std::uint64_t handler_errors = 0;     ///< 500: a handler threw
  /// Connections closed because a response write waited past server_options::send_timeout.
  std::uint64_t send_timeouts = 0;
  /// From a request's head received to its response ended (whole response appended to the output,
  /// or a stream's end), for requests that got a response.
  duration_histogram request_duration;
};

/// The HTTP families for every live server and client in the process (see the file comment),
/// Prometheus text format 0.0.4; empty when there is none. Any thread.
std::string metrics_text();

}  // namespace coreio::http
