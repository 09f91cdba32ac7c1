// src/http/stats.cpp — server counters, the registry of live servers and clients, and their
// Prometheus families (src/http/stats.hpp, coreio/http/stats.hpp).
#include "stats.hpp"

#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <coreio/spawn.hpp>

#include "sched/histogram.hpp"

namespace coreio::http::detail {

namespace {

struct registry {
  std::mutex mu;
  std::uint64_t next_id = 1;                                    // guarded by mu
  std::map<std::uint64_t, stats_registration::source> sources;  // guarded by mu
};

registry& the_registry() {
  static registry* r = new registry;  // never destroyed: states may die during static teardown
  return *r;
}

}  // namespace

std::uint64_t client_counters::get(field f) const noexcept {
  std::uint64_t sum = 0;
  // Relaxed: statistics (the file comment of stats.hpp).
  for (const auto& s : shards_) sum += s.v[f].load(std::memory_order_relaxed);
  return sum;
}

void server_counters::response(int status) noexcept {
  if (status < 100 || status > 599) return;
  shard& s = mine();
  // Relaxed: statistics (file comment of stats.hpp).
  s.v[r1xx + static_cast<unsigned>(status / 100 - 1)].fetch_add(1, std::memory_order_relaxed);
  field f = field_count;
  switch (status) {
    case 400:
      f = s400;
      break;
    case 404:
      f = s404;
      break;
    case 408:
      f = s408;
      break;
    case 413:
      f = s413;
      break;
    case 414:
      f = s414;
      break;
    case 431:
      f = s431;
      break;
    case 500:
      f = s500;
      break;
    default:
      break;
  }
  if (f != field_count) s.v[f].fetch_add(1, std::memory_order_relaxed);
}

void server_counters::duration(std::uint64_t ns) noexcept {
  shard& s = mine();
  // Relaxed: statistics.
  s.buckets[coreio::detail::owned_histogram::bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
  s.sum_ns.fetch_add(ns, std::memory_order_relaxed);
}

server_stats server_counters::snapshot() const noexcept {
  std::array<std::uint64_t, field_count> v{};
  server_stats st;
  for (const shard& s : shards_) {
    // Relaxed: statistics; each is exact for some recent instant.
    for (std::size_t i = 0; i < field_count; ++i) v[i] += s.v[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < duration_histogram::buckets; ++i) {
      const std::uint64_t n = s.buckets[i].load(std::memory_order_relaxed);
      st.request_duration.counts[i] += n;
      st.request_duration.count += n;
    }
    st.request_duration.sum_ns += s.sum_ns.load(std::memory_order_relaxed);
  }
  st.requests = v[requests];
  for (unsigned c = 0; c < 5; ++c) st.responses[c] = v[r1xx + c];
  st.connections_accepted = v[accepted];
  st.connections_closed = v[closed];
  st.connections_open = v[accepted] > v[closed] ? v[accepted] - v[closed] : 0;
  st.bytes_received = v[bytes_in];
  st.bytes_sent = v[bytes_out];
  st.bad_requests = v[s400];
  st.not_found = v[s404];
  st.timeouts = v[s408];
  st.body_too_large = v[s413];
  st.uri_too_long = v[s414];
  st.headers_too_large = v[s431];
  st.handler_errors = v[s500];
  st.send_timeouts = v[send_timeouts];
  return st;
}

stats_registration::stats_registration(source s) {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  id_ = r.next_id++;
  r.sources.emplace(id_, std::move(s));
}

stats_registration::~stats_registration() {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  r.sources.erase(id_);
}

}  // namespace coreio::http::detail

namespace coreio::http {

namespace {

void head(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void number(std::string& out, double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.9g", v);
  out.append(buf, static_cast<std::size_t>(n));
}

void sample(std::string& out, const char* name, const std::string& labels, std::uint64_t v) {
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += std::to_string(v);
  out += '\n';
}

template <class S>
using family_value = std::uint64_t (*)(const S&);

template <class S>
struct family {
  const char* name;
  const char* type;
  const char* help;
  family_value<S> value;
};

#define COREIO_FIELD(S, f) [](const S& s) { return static_cast<std::uint64_t>(s.f); }

const family<server_stats> server_families[] = {
    {"coreio_http_server_requests_total", "counter", "Request heads received.",
     COREIO_FIELD(server_stats, requests)},
    {"coreio_http_server_connections_accepted_total", "counter", "Connections accepted.",
     COREIO_FIELD(server_stats, connections_accepted)},
    {"coreio_http_server_connections_closed_total", "counter", "Connections closed.",
     COREIO_FIELD(server_stats, connections_closed)},
    {"coreio_http_server_connections_open", "gauge", "Connections open now.",
     COREIO_FIELD(server_stats, connections_open)},
    {"coreio_http_server_received_bytes_total", "counter", "Bytes read from the connections.",
     COREIO_FIELD(server_stats, bytes_received)},
    {"coreio_http_server_sent_bytes_total", "counter", "Bytes written to the connections.",
     COREIO_FIELD(server_stats, bytes_sent)},
    {"coreio_http_server_bad_requests_total", "counter", "400 responses: malformed requests.",
     COREIO_FIELD(server_stats, bad_requests)},
    {"coreio_http_server_not_found_total", "counter", "404 responses: no route.",
     COREIO_FIELD(server_stats, not_found)},
    {"coreio_http_server_timeouts_total", "counter", "408 responses: head or body deadline.",
     COREIO_FIELD(server_stats, timeouts)},
    {"coreio_http_server_body_too_large_total", "counter", "413 responses: body over max_body.",
     COREIO_FIELD(server_stats, body_too_large)},
    {"coreio_http_server_uri_too_long_total", "counter", "414 responses: request line too long.",
     COREIO_FIELD(server_stats, uri_too_long)},
    {"coreio_http_server_headers_too_large_total", "counter", "431 responses: header limits.",
     COREIO_FIELD(server_stats, headers_too_large)},
    {"coreio_http_server_handler_errors_total", "counter", "500 responses: a handler threw.",
     COREIO_FIELD(server_stats, handler_errors)},
    {"coreio_http_server_send_timeouts_total", "counter",
     "Connections closed because a response write waited past send_timeout.",
     COREIO_FIELD(server_stats, send_timeouts)},
};

const family<client_stats> client_families[] = {
    {"coreio_http_client_requests_total", "counter", "request() calls.",
     COREIO_FIELD(client_stats, requests)},
    {"coreio_http_client_responses_total", "counter", "Responses returned to the caller.",
     COREIO_FIELD(client_stats, responses)},
    {"coreio_http_client_failures_total", "counter", "request() calls that threw.",
     COREIO_FIELD(client_stats, failures)},
    {"coreio_http_client_connections_opened_total", "counter", "Connections made.",
     COREIO_FIELD(client_stats, connections_opened)},
    {"coreio_http_client_connections_reused_total", "counter",
     "Requests sent on an idle keep-alive connection.",
     COREIO_FIELD(client_stats, connections_reused)},
    {"coreio_http_client_connections_closed_total", "counter", "Connections closed.",
     COREIO_FIELD(client_stats, connections_closed)},
    {"coreio_http_client_retries_total", "counter", "Retries after a reused connection failed.",
     COREIO_FIELD(client_stats, retries)},
    {"coreio_http_client_redirects_total", "counter", "Redirects followed.",
     COREIO_FIELD(client_stats, redirects)},
    {"coreio_http_client_pool_waits_total", "counter", "Requests that queued for a slot.",
     COREIO_FIELD(client_stats, pool_waits)},
    {"coreio_http_client_open_connections", "gauge", "Connections open now.",
     COREIO_FIELD(client_stats, open_connections)},
    {"coreio_http_client_idle_connections", "gauge", "Connections idle in the pool now.",
     COREIO_FIELD(client_stats, idle_connections)},
    {"coreio_http_client_waiting_requests", "gauge", "Requests queued for a slot now.",
     COREIO_FIELD(client_stats, waiting)},
};

#undef COREIO_FIELD

constexpr const char* timeout_phases[] = {"total",        "pool_wait", "connect",
                                          "sock_connect", "headers",   "sock_read"};
constexpr const char* status_classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

template <class S>
void families(std::string& out, const family<S>* begin, const family<S>* end, const char* label,
              const std::vector<std::pair<std::uint64_t, S>>& items) {
  for (const family<S>* f = begin; f != end; ++f) {
    head(out, f->name, f->type, f->help);
    for (const auto& [id, s] : items) {
      sample(out, f->name, std::string(label) + "=\"" + std::to_string(id) + "\"", f->value(s));
    }
  }
}

}  // namespace

std::string metrics_text() {
  std::vector<std::pair<std::uint64_t, server_stats>> servers;
  std::vector<std::pair<std::uint64_t, client_stats>> clients;
  {
    detail::registry& r = detail::the_registry();
    std::lock_guard lock(r.mu);
    for (const auto& [id, src] : r.sources) {
      if (const auto* s = std::get_if<std::function<server_stats()>>(&src)) {
        servers.emplace_back(id, (*s)());
      } else {
        clients.emplace_back(id, std::get<std::function<client_stats()>>(src)());
      }
    }
  }
  std::string out;
  if (!servers.empty()) {
    families(out, std::begin(server_families), std::end(server_families), "server", servers);
    head(out, "coreio_http_server_responses_total", "counter",
         "Responses whose head was written, by status class.");
    for (const auto& [id, s] : servers) {
      for (unsigned c = 0; c < 5; ++c) {
        sample(out, "coreio_http_server_responses_total",
               "server=\"" + std::to_string(id) + "\",class=\"" + status_classes[c] + "\"",
               s.responses[c]);
      }
    }
    const char* h = "coreio_http_server_request_duration_seconds";
    head(out, h, "histogram", "From a request's head received to its response ended.");
    for (const auto& [id, s] : servers) {
      const std::string server = "server=\"" + std::to_string(id) + "\"";
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < duration_histogram::buckets; ++i) {
        cumulative += s.request_duration.counts[i];
        std::string le = "+Inf";
        if (i + 1 < duration_histogram::buckets) {
          le.clear();
          number(le, static_cast<double>(duration_histogram::upper_ns(i)) * 1e-9);
        }
        out += h;
        out += "_bucket{" + server + ",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
      }
      out += h;
      out += "_sum{" + server + "} ";
      number(out, static_cast<double>(s.request_duration.sum_ns) * 1e-9);
      out += '\n';
      out += h;
      out += "_count{" + server + "} " + std::to_string(cumulative) + "\n";
    }
  }
  if (!clients.empty()) {
    families(out, std::begin(client_families), std::end(client_families), "client", clients);
    head(out, "coreio_http_client_timeouts_total", "counter", "Timeouts, by phase.");
    for (const auto& [id, s] : clients) {
      for (std::size_t p = 0; p < s.timeouts.size(); ++p) {
        sample(out, "coreio_http_client_timeouts_total",
               "client=\"" + std::to_string(id) + "\",phase=\"" + timeout_phases[p] + "\"",
               s.timeouts[p]);
      }
    }
  }
  return out;
}

}  // namespace coreio::http
