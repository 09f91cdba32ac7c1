// metrics_handler_test.cpp — coreio/http/metrics_handler.hpp: one line serves the runtime's
// counters at /metrics; the body is the Prometheus text format (promtool accepts it), with the
// exposition Content-Type and one sample per worker; coreio::metrics_text() off a worker says so.
#include <coreio/http/metrics_handler.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <coreio/errors.hpp>
#include <coreio/metrics_text.hpp>

#include "support/server_support.hpp"
#include "support/shell.hpp"

namespace coreio_http_test {
namespace {

std::string promtool_check(const std::string& text) {
  const std::string path = coreio_test::write_temp_file("coreio_metrics_handler_test", text);
  const coreio_test::shell_result r = coreio_test::run_shell("promtool check metrics < " + path);
  std::remove(path.c_str());
  return r.output + "rc=" + std::to_string(r.status) + "\n";
}

coreio::task<void> metrics_route() {
  running_server rs{test_options(), [](http::server& srv) {
                      srv.route("GET", "/metrics", http::metrics_handler());
                    }};
  http::client session;
  http::response r = co_await session.get(rs.url("/metrics"));
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.header("content-type").value_or(""), "text/plain; version=0.0.4; charset=utf-8");
  const std::string body = co_await r.text();
  EXPECT_NE(body.find("coreio_worker_polls_total{worker=\"0\"} "), std::string::npos) << body;
  EXPECT_NE(body.find("coreio_worker_polls_total{worker=\"1\"} "), std::string::npos) << body;
  EXPECT_NE(body.find("coreio_workers 2\n"), std::string::npos) << body;
  EXPECT_EQ(promtool_check(body), "rc=0\n");
  co_await session.close();
  co_await rs.stop();
}
TEST(MetricsHandler, ServesThePrometheusTextOfTheRuntime) { run_test(metrics_route); }

TEST(MetricsHandler, MetricsTextOffAWorkerIsAUsageError) {
  EXPECT_THROW((void)coreio::metrics_text(), coreio::usage_error);
}

}  // namespace
}  // namespace coreio_http_test
