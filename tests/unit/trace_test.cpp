// trace_test.cpp — the tracer end to end (runtime_options::trace_path, runtime::write_trace): the
// file parses as JSON (python3's json module), has a track per worker, one poll slice per poll the
// metrics counted, a spawn instant per spawn and a steal instant per steal operation, the tasks'
// names and spawn places, and tools/coreio-trace summarises it naming every worker.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/gather.hpp>
#include <coreio/log.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>
#include <coreio/time.hpp>

#include "support/shell.hpp"
#include "support/test_support.hpp"

#ifndef COREIO_SOURCE_DIR
#define COREIO_SOURCE_DIR "."
#endif

namespace {

using namespace std::chrono_literals;

std::string run(const std::string& cmd) { return coreio_test::run_shell(cmd).output; }

// "key=count" lines from the trace: ph:cat pairs, names of poll slices, thread names.
std::map<std::string, long> census(const std::string& path) {
  const std::string out =
      run("python3 -c 'import json,sys,collections\n"
          "d=json.load(open(sys.argv[1]))\n"
          "c=collections.Counter()\n"
          "for e in d[\"traceEvents\"]:\n"
          "  c[e[\"ph\"]+\":\"+e.get(\"cat\",\"\")]+=1\n"
          "  if e[\"ph\"]==\"X\" and e[\"cat\"]==\"poll\": c[\"name:\"+e[\"name\"]]+=1\n"
          "  if e[\"ph\"]==\"M\" and e[\"name\"]==\"thread_name\": "
          "c[\"thread:\"+e[\"args\"][\"name\"]]+=1\n"
          "  if \"spawned_at\" in e.get(\"args\",{}) and \"trace_test.cpp\" in "
          "e[\"args\"][\"spawned_at\"]: c[\"here\"]+=1\n"
          "for k,v in sorted(c.items()): print(k+\"=\"+str(v))' " +
          path);
  std::map<std::string, long> m;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.rfind('=');
    if (eq == std::string::npos) {
      ADD_FAILURE() << "unexpected output: " << out;
      break;
    }
    m[line.substr(0, eq)] = std::stol(line.substr(eq + 1));
  }
  return m;
}

coreio::task<int> leaf(int i) {
  if (i % 8 == 0) co_await coreio::sleep_for(1ms);  // timer wakes
  co_return i;
}

coreio::task<int> fetch(int i) {
  std::vector<coreio::task<int>> ts;
  for (int k = 0; k < 8; ++k) ts.push_back(leaf(i * 8 + k));
  int sum = 0;
  for (int r : co_await coreio::gather(std::move(ts))) sum += r;
  co_return sum;
}

coreio::task<int> root(int n) {
  std::vector<coreio::join_handle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(coreio::spawn(fetch(i), "fetch"));
  int sum = 0;
  for (auto& h : hs) sum += co_await h;
  co_return sum;
}

std::uint64_t sum_of(const coreio::runtime_metrics& m, std::uint64_t coreio::worker_metrics::* f) {
  std::uint64_t n = 0;
  for (const auto& w : m.workers) n += w.*f;
  return n;
}

TEST(TraceTest, TheTraceCountsWhatTheRuntimeDid) {
  const std::string path = ::testing::TempDir() + "coreio_trace_test.json";
  coreio::runtime rt{{.workers = 2, .trace_path = path}};
  ASSERT_TRUE(rt.tracing());
  constexpr int n = 50;
  EXPECT_EQ(rt.block_on(root(n)), (n * 8) * (n * 8 - 1) / 2);
  // Wait until the block_on task's last poll has been counted, then bracket the dump.
  ASSERT_TRUE(coreio_test::wait_until([&] {
    const auto m = rt.metrics();
    return m.tasks_alive == 0;
  }));
  const coreio::runtime_metrics before = rt.metrics();
  rt.write_trace(path);
  const coreio::runtime_metrics after = rt.metrics();

  auto c = census(path);
  EXPECT_EQ(c["thread:worker 0"], 1);
  EXPECT_EQ(c["thread:worker 1"], 1);
  EXPECT_EQ(c["name:fetch"] > 0, true);
  EXPECT_GE(c["here"], n);  // the fetch polls carry their spawn place
  const long polls = c["X:poll"];
  // A poll's end takes the time of its worker's next event (tracer.hpp): a worker's last poll is
  // left out until that worker records something after it (its park), at most one per worker.
  EXPECT_GE(static_cast<std::uint64_t>(polls) + 2, sum_of(before, &coreio::worker_metrics::polls));
  EXPECT_LE(static_cast<std::uint64_t>(polls), sum_of(after, &coreio::worker_metrics::polls) + 2);
  EXPECT_EQ(c["i:spawn"], n);  // the n spawns ran on workers (block_on's task came from outside)
  EXPECT_EQ(c["s:spawn"], n);
  EXPECT_EQ(c["f:spawn"], n);  // every spawned task was polled
  EXPECT_EQ(static_cast<std::uint64_t>(c["i:sched"]),
            sum_of(after, &coreio::worker_metrics::steal_operations));
  // One sleeping leaf per fetch, woken by its timer: fired by its worker (a trace event), or, when
  // that worker was inside a poll as the sleep fell due, by the monitor thread, which has no ring
  // and is counted in the metrics instead (sched/monitor.hpp; seen under TSan on a loaded machine).
  EXPECT_GE(static_cast<std::uint64_t>(c["i:timer"]) +
                sum_of(after, &coreio::worker_metrics::timers_fired_by_monitor),
            static_cast<std::uint64_t>(n));
  EXPECT_EQ(
      static_cast<std::uint64_t>(c["X:park"]) <= sum_of(after, &coreio::worker_metrics::parks),
      true);

  // tools/coreio-trace reads it and names every worker.
  const std::string tool = std::string(COREIO_SOURCE_DIR) + "/tools/coreio-trace";
  const std::string svg = ::testing::TempDir() + "coreio_trace_test.svg";
  const std::string out = run("python3 " + tool + " " + path + " --svg " + svg);
  EXPECT_NE(out.find("worker 0"), std::string::npos) << out;
  EXPECT_NE(out.find("worker 1"), std::string::npos) << out;
  EXPECT_NE(out.find("fetch"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(svg));
  std::filesystem::remove(svg);
  std::filesystem::remove(path);
}

TEST(TraceTest, TheFileIsWrittenAtShutdown) {
  const std::string path = ::testing::TempDir() + "coreio_trace_test_shutdown.json";
  std::filesystem::remove(path);
  {
    coreio::runtime rt{{.workers = 1, .trace_path = path}};
    EXPECT_EQ(rt.block_on(root(3)), (3 * 8) * (3 * 8 - 1) / 2);
  }
  auto c = census(path);
  EXPECT_EQ(c["thread:worker 0"], 1);
  EXPECT_EQ(c["i:spawn"], 3);
  EXPECT_GT(c["X:poll"], 3 * 9);
  std::filesystem::remove(path);
}

TEST(TraceTest, OffByDefaultAndWriteTraceThenSaysSo) {
  coreio::runtime rt{{.workers = 1}};
  if (std::getenv("COREIO_TRACE") == nullptr) {
    EXPECT_FALSE(rt.tracing());
    EXPECT_THROW(rt.write_trace("/tmp/never.json"), coreio::usage_error);
  }
}

TEST(TraceTest, AnUnwritablePathIsASystemErrorOnDemandAndALogLineAtShutdown) {
  std::vector<std::string> logged;
  coreio::set_log_sink([&](coreio::log_level, std::string_view t) { logged.emplace_back(t); });
  {
    coreio::runtime rt{{.workers = 1, .trace_path = "/nonexistent-dir/x.json"}};
    EXPECT_THROW(rt.write_trace("/nonexistent-dir/x.json"), std::system_error);
  }
  coreio::set_log_sink(nullptr);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("cannot write the trace"), std::string::npos) << logged[0];
  EXPECT_NE(logged[0].find("/nonexistent-dir/x.json"), std::string::npos) << logged[0];
}

}  // namespace
