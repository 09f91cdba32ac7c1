// server_stats_test.cpp — coreio/http/stats.hpp: server::stats() counts what a client in the same
// process was served (requests, status classes, 404, 500, a malformed request's 400, bytes,
// connections, the duration histogram), and http::metrics_handler() serves those counters and the
// client's beside the runtime's, in a text promtool accepts. With tracing on, a request shows its
// HTTP phases as nested spans of the client's task and of the server's connection task.
#include <coreio/http/stats.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <coreio/http/metrics_handler.hpp>
#include <coreio/time.hpp>

#include "support/server_support.hpp"
#include "support/shell.hpp"

namespace coreio_http_test {
namespace {

std::string promtool_check(const std::string& text) {
  const std::string path = coreio_test::write_temp_file("coreio_server_stats_test", text);
  const coreio_test::shell_result r = coreio_test::run_shell("promtool check metrics < " + path);
  std::remove(path.c_str());
  return r.output + "rc=" + std::to_string(r.status) + "\n";
}

coreio::task<void> stats_of_served_requests() {
  running_server rs{test_options(), [](http::server& srv) {
                      srv.route("GET", "/metrics", http::metrics_handler());
                    }};
  const http::server_stats before = rs.srv.stats();
  EXPECT_EQ(before.requests, 0u);
  EXPECT_EQ(before.connections_open, 0u);
  http::client session;
  for (int i = 0; i < 3; ++i) {
    http::response r = co_await session.get(rs.url("/hello"));
    EXPECT_EQ(co_await r.text(), "Hello, World!");
  }
  for (int i = 0; i < 2; ++i) {
    http::response r = co_await session.get(rs.url("/missing"));
    EXPECT_EQ(r.status(), 404);
    (void)co_await r.text();
  }
  {
    http::response r = co_await session.get(rs.url("/throw"));
    EXPECT_EQ(r.status(), 500);
    (void)co_await r.text();
  }
  // A malformed request line on a raw connection: 400, and no request counted.
  const std::string raw = co_await send_and_read(rs.port, "NOT A REQUEST\r\n\r\n");
  EXPECT_EQ(status_line(raw), "HTTP/1.1 400 Bad Request");

  // Every response was counted before its bytes were written, so before the client read them.
  const http::server_stats s = rs.srv.stats();
  EXPECT_EQ(s.requests, 6u);
  EXPECT_EQ(s.responses[0], 0u);
  EXPECT_EQ(s.responses[1], 3u);
  EXPECT_EQ(s.responses[2], 0u);
  EXPECT_EQ(s.responses[3], 3u);  // two 404, one 400
  EXPECT_EQ(s.responses[4], 1u);
  EXPECT_EQ(s.not_found, 2u);
  EXPECT_EQ(s.bad_requests, 1u);
  EXPECT_EQ(s.handler_errors, 1u);
  EXPECT_EQ(s.timeouts + s.body_too_large + s.uri_too_long + s.headers_too_large, 0u);
  EXPECT_EQ(s.request_duration.count, 6u) << "the routed, 404 and 500 requests";
  EXPECT_EQ(std::accumulate(s.request_duration.counts.begin(), s.request_duration.counts.end(),
                            std::uint64_t{0}),
            6u);
  EXPECT_GT(s.request_duration.sum_ns, 0u);
  EXPECT_EQ(s.connections_accepted, 2u) << "one keep-alive connection, one raw";
  EXPECT_GE(s.bytes_received, 6 * std::string("GET /hello HTTP/1.1\r\n\r\n").size());
  EXPECT_GE(s.bytes_sent, 3 * std::string("Hello, World!").size() + raw.size());

  // The client's connection closes when the session does; wait for the server to see it.
  co_await session.close();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rs.srv.stats().connections_open != 0 && std::chrono::steady_clock::now() < deadline) {
    co_await coreio::sleep_for(1ms);
  }
  const http::server_stats after = rs.srv.stats();
  EXPECT_EQ(after.connections_open, 0u);
  EXPECT_EQ(after.connections_closed, 2u);

  // The /metrics route: the runtime's families, then this server's and a live client's.
  http::client scraper;
  http::response r = co_await scraper.get(rs.url("/metrics"));
  const std::string body = co_await r.text();
  EXPECT_NE(body.find("coreio_worker_polls_total{worker=\"0\"} "), std::string::npos) << body;
  EXPECT_NE(body.find("# TYPE coreio_http_server_request_duration_seconds histogram"),
            std::string::npos);
  EXPECT_NE(body.find("\",class=\"2xx\"} 3\n"), std::string::npos) << body;
  EXPECT_NE(body.find("coreio_http_server_not_found_total{server=\""), std::string::npos);
  EXPECT_NE(body.find("coreio_http_client_requests_total{client=\""), std::string::npos);
  EXPECT_NE(body.find("le=\"+Inf\"} 6\n"), std::string::npos) << body;
  EXPECT_EQ(promtool_check(body), "rc=0\n") << body;
  co_await scraper.close();
  co_await rs.stop();
}
TEST(ServerStats, CountWhatAClientWasServed) { run_test(stats_of_served_requests); }

TEST(ServerStats, MetricsTextListsOnlyLiveServersAndClients) {
  const std::string before = http::metrics_text();
  EXPECT_EQ(before.find("{server=\""), std::string::npos) << before;
  {
    http::server srv{http::server_options{}};
    const std::string during = http::metrics_text();
    EXPECT_NE(during.find("coreio_http_server_requests_total{server=\""), std::string::npos);
    EXPECT_EQ(srv.stats().requests, 0u);
  }
  EXPECT_EQ(http::metrics_text().find("{server=\""), std::string::npos);
}

coreio::task<void> one_traced_request() {
  running_server rs{test_options()};
  http::client session;
  http::response r = co_await session.get(rs.url("/hello"));
  EXPECT_EQ(co_await r.text(), "Hello, World!");
  co_await session.close();
  co_await rs.stop();
}

struct span_event {
  char ph;
  std::string name;
  std::string id;
  double ts;
};

// The "b"/"e" records of the trace (one JSON record per line, as chrome_trace.cpp writes them).
std::vector<span_event> spans_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<span_event> out;
  auto field = [](const std::string& line, const std::string& key) {
    const auto at = line.find("\"" + key + "\":");
    if (at == std::string::npos) return std::string();
    auto from = at + key.size() + 3;
    if (line[from] == '"') ++from;
    const auto to = line.find_first_of("\",}", from);
    return line.substr(from, to - from);
  };
  for (std::string line; std::getline(f, line);) {
    const std::string ph = field(line, "ph");
    if (ph != "b" && ph != "e") continue;
    out.push_back({ph[0], field(line, "name"), field(line, "id"), std::stod(field(line, "ts"))});
  }
  return out;
}

TEST(ServerStats, ATracedRequestShowsItsHttpPhasesAsNestedSpans) {
  const std::string path = ::testing::TempDir() + "coreio_http_spans_test.json";
  {
    coreio::runtime rt{coreio::runtime_options{.workers = 2, .trace_path = path}};
    rt.block_on(one_traced_request());
  }  // the trace is written at shutdown
  const std::vector<span_event> spans = spans_of(path);
  std::remove(path.c_str());
  // Each span's begin and end, by name (one request: each phase once, except the server's writes).
  std::map<std::string, std::pair<const span_event*, const span_event*>> by_name;
  for (const span_event& e : spans) {
    auto& [b, en] = by_name[e.name];
    if (e.ph == 'b' && b == nullptr) b = &e;
    if (e.ph == 'e' && en == nullptr) en = &e;
  }
  for (const char* name : {"http.client.request", "http.client.pool_wait", "http.client.connect",
                           "http.client.send_request", "http.client.wait_headers",
                           "http.server.read_head", "http.server.handler", "http.server.write"}) {
    const auto it = by_name.find(name);
    ASSERT_NE(it, by_name.end()) << name;
    ASSERT_NE(it->second.first, nullptr) << name << " has no begin";
    ASSERT_NE(it->second.second, nullptr) << name << " has no end";
    EXPECT_LE(it->second.first->ts, it->second.second->ts) << name;
    EXPECT_EQ(it->second.first->id, it->second.second->id) << name;
  }
  // The client's phases nest inside its request, in order, on the request's task.
  const auto& req = by_name["http.client.request"];
  double last_end = req.first->ts;
  for (const char* name : {"http.client.pool_wait", "http.client.connect",
                           "http.client.send_request", "http.client.wait_headers"}) {
    const auto& [b, e] = by_name[name];
    EXPECT_EQ(b->id, req.first->id) << name;
    EXPECT_GE(b->ts, last_end) << name;
    EXPECT_LE(e->ts, req.second->ts) << name;
    last_end = e->ts;
  }
  // The server's phases are its connection task's, not the client's.
  EXPECT_NE(by_name["http.server.handler"].first->id, req.first->id);
  EXPECT_EQ(by_name["http.server.handler"].first->id, by_name["http.server.read_head"].first->id);
  EXPECT_GE(by_name["http.server.handler"].first->ts, by_name["http.server.read_head"].second->ts);
}

}  // namespace
}  // namespace coreio_http_test
