// metrics_text_test.cpp — coreio/metrics_text.hpp: the Prometheus text exposition of a runtime's
// counters. Every family has its HELP and TYPE lines before its samples, one sample per worker,
// values that match the snapshot they were rendered from, and promtool (Debian's prometheus
// package, installed by tools/dev setup) accepts the text.
#include <coreio/metrics_text.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include <coreio/gather.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include "support/shell.hpp"

namespace {

struct parsed {
  std::map<std::string, std::string> type;     // family -> counter | gauge
  std::set<std::string> help;                  // families with a HELP line
  std::map<std::string, std::string> samples;  // "name{labels}" -> value
};

// A strict reader of what metrics_text writes: a sample must follow its family's HELP and TYPE.
parsed parse(const std::string& text) {
  parsed p;
  std::istringstream in(text);
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      p.help.insert(current);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      auto sp = line.find(' ', 7);
      EXPECT_EQ(line.substr(7, sp - 7), current) << "TYPE without its HELP: " << line;
      p.type[current] = line.substr(sp + 1);
    } else {
      auto sp = line.rfind(' ');
      std::string key = line.substr(0, sp);
      EXPECT_EQ(key.substr(0, key.find('{')), current) << "sample outside its family: " << line;
      EXPECT_TRUE(p.samples.emplace(key, line.substr(sp + 1)).second) << "duplicate: " << line;
    }
  }
  return p;
}

coreio::task<int> leaf(int i) { co_return i; }

coreio::task<int> work() {
  std::vector<coreio::task<int>> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(leaf(i));
  auto rs = co_await coreio::gather(std::move(ts));
  int sum = 0;
  for (int r : rs) sum += r;
  co_return sum;
}

TEST(MetricsTextTest, EveryFamilyHasHelpTypeAndOneSamplePerWorker) {
  coreio::runtime rt{{.workers = 2}};
  EXPECT_EQ(rt.block_on(work()), 4950);
  const coreio::runtime_metrics m = rt.metrics();
  const parsed p = parse(coreio::metrics_text(m));

  ASSERT_FALSE(p.type.empty());
  for (const auto& [family, type] : p.type) {
    EXPECT_TRUE(p.help.contains(family)) << family;
    EXPECT_TRUE(type == "counter" || type == "gauge") << family << " " << type;
    EXPECT_EQ(type == "counter", family.ends_with("_total")) << family;
    if (family.rfind("coreio_worker_", 0) == 0) {
      for (int w = 0; w < 2; ++w) {
        EXPECT_TRUE(p.samples.contains(family + "{worker=\"" + std::to_string(w) + "\"}"))
            << family << " worker " << w;
      }
    }
  }
  // Values are the snapshot's, not another one's.
  EXPECT_EQ(p.samples.at("coreio_workers"), "2");
  EXPECT_EQ(p.samples.at("coreio_tasks_spawned_total"), std::to_string(m.tasks_spawned));
  EXPECT_GE(m.tasks_spawned, 100u);
  EXPECT_EQ(p.samples.at("coreio_worker_polls_total{worker=\"1\"}"),
            std::to_string(m.workers[1].polls));
  EXPECT_DOUBLE_EQ(std::stod(p.samples.at("coreio_worker_busy_seconds_total{worker=\"0\"}")),
                   static_cast<double>(m.workers[0].busy_ns) * 1e-9);
}

TEST(MetricsTextTest, OfARuntimeIsItsSnapshotRendered) {
  coreio::runtime rt{{.workers = 1}};
  const std::string text = coreio::metrics_text(rt);
  EXPECT_NE(text.find("coreio_workers 1\n"), std::string::npos);
  EXPECT_NE(text.find("coreio_worker_polls_total{worker=\"0\"} "), std::string::npos);
  EXPECT_EQ(text.find("worker=\"1\""), std::string::npos);
}

// promtool check metrics lints names, units and types and exits non-zero on any problem.
void expect_promtool_accepts(const std::string& text) {
  if (coreio_test::run_shell("command -v promtool").status != 0) {
    FAIL() << "promtool not found: tools/dev setup installs Debian's prometheus package";
  }
  const std::string path = coreio_test::write_temp_file("coreio_metrics_text_test", text);
  const coreio_test::shell_result r = coreio_test::run_shell("promtool check metrics < " + path);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "") << r.output;
  std::remove(path.c_str());
}

TEST(MetricsTextTest, PromtoolAcceptsIt) {
  coreio::runtime rt{{.workers = 2}};
  EXPECT_EQ(rt.block_on(work()), 4950);
  expect_promtool_accepts(coreio::metrics_text(rt));
}

coreio::task<int> named(int i) {
  if (i == 0) throw std::runtime_error("the failing one");
  co_return i;
}

coreio::task<int> named_work() {
  int sum = co_await work();
  for (int i = 0; i < 5; ++i) {
    try {
      auto h = coreio::spawn(named(i), "fetch \"x\"");  // quotes: escaped in the label
      sum += co_await h;
    } catch (const std::runtime_error&) {
    }
  }
  co_return sum;
}

TEST(MetricsTextTest, HistogramsAndTaskNamesWhenOn) {
  coreio::runtime rt{{.workers = 2, .metrics_histograms = true}};
  EXPECT_EQ(rt.block_on(named_work()), 4950 + 10);
  const coreio::runtime_metrics m = rt.metrics();
  const std::string text = coreio::metrics_text(m);
  expect_promtool_accepts(text);

  std::map<std::string, std::string> samples;  // "name{labels}" -> value
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    samples[line.substr(0, sp)] = line.substr(sp + 1);
  }
  EXPECT_NE(text.find("# TYPE coreio_worker_poll_time_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE coreio_worker_wake_to_poll_seconds histogram\n"), std::string::npos);
  for (int w = 0; w < 2; ++w) {
    const std::string lw = "{worker=\"" + std::to_string(w) + "\"";
    const coreio::duration_histogram& h = m.workers[w].poll_time;
    // Cumulative buckets: the first bound, and +Inf equal to _count, the snapshot's count.
    EXPECT_EQ(samples.at("coreio_worker_poll_time_seconds_bucket" + lw + ",le=\"1.28e-07\"}"),
              std::to_string(h.counts[0]));
    EXPECT_EQ(samples.at("coreio_worker_poll_time_seconds_bucket" + lw + ",le=\"+Inf\"}"),
              std::to_string(h.count));
    EXPECT_EQ(samples.at("coreio_worker_poll_time_seconds_count" + lw + "}"),
              std::to_string(h.count));
    EXPECT_TRUE(samples.contains("coreio_worker_poll_time_seconds_sum" + lw + "}"));
  }
  const std::string name = "{name=\"fetch \\\"x\\\"\"}";
  EXPECT_EQ(samples.at("coreio_task_name_spawned_total" + name), "5");
  EXPECT_EQ(samples.at("coreio_task_name_completed_total" + name), "5");
  EXPECT_EQ(samples.at("coreio_task_name_failed_total" + name), "1");
  EXPECT_EQ(samples.at("coreio_task_name_alive" + name), "0");
  EXPECT_TRUE(samples.contains("coreio_task_name_busy_seconds_total" + name));
}

}  // namespace
