// trace_buffer_test.cpp — src/trace: the per-thread ring keeps the newest events whole while any
// thread reads it, and the Chrome Trace writer turns events into JSON that parses, with one slice
// per poll, one flow per spawn and wake that reached a poll, and names from the name table.
#include "trace/trace_buffer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/shell.hpp"
#include "support/test_support.hpp"
#include "trace/chrome_trace.hpp"
#include "trace/name_table.hpp"

namespace {

using coreio::detail::trace::chrome_trace_counts;
using coreio::detail::trace::event;
using coreio::detail::trace::kind;
using coreio::detail::trace::name_table;
using coreio::detail::trace::thread_events;
using coreio::detail::trace::trace_buffer;

event numbered(std::uint64_t j) {
  return event{.ts_ns = j,
               .what = kind::wake,
               .aux = static_cast<std::uint32_t>(j),
               .task = j,
               .arg = j * 3};
}

TEST(TraceBufferTest, KeepsEveryEventInOrderUntilFull) {
  trace_buffer b(100);  // rounded up to 128
  EXPECT_EQ(b.capacity(), 128u);
  for (std::uint64_t j = 0; j < 128; ++j) b.record(numbered(j));
  const auto s = b.snapshot();
  ASSERT_EQ(s.size(), 128u);
  for (std::uint64_t j = 0; j < 128; ++j) {
    EXPECT_EQ(s[j].task, j);
    EXPECT_EQ(s[j].what, kind::wake);
    EXPECT_EQ(s[j].aux, j);
    EXPECT_EQ(s[j].arg, j * 3);
  }
  EXPECT_EQ(b.dropped(), 0u);
}

TEST(TraceBufferTest, AFullRingKeepsTheNewestAndCountsTheRest) {
  trace_buffer b(64);
  for (std::uint64_t j = 0; j < 64 * 3 + 5; ++j) b.record(numbered(j));
  const auto s = b.snapshot();
  ASSERT_EQ(s.size(), 64u);
  EXPECT_EQ(s.front().task, 64u * 2 + 5);
  EXPECT_EQ(s.back().task, 64u * 3 + 4);
  EXPECT_EQ(b.dropped(), 64u * 2 + 5);
}

// A reader racing the writer sees only whole events, consecutive, each one as written. The writer
// goes on until the reader has taken `wanted` snapshots, so the two always overlap.
TEST(TraceBufferTest, ASnapshotDuringWritesHasNoTornEvents) {
  trace_buffer b(256);
  const std::uint64_t min_events = coreio_test::sanitized<std::uint64_t>(2'000'000, 200'000);
  const std::uint64_t wanted = coreio_test::sanitized<std::uint64_t>(2'000, 200);
  std::atomic<std::uint64_t> snapshots{0};  // seq_cst: a test, clarity over cost
  std::atomic<bool> done{false};
  std::uint64_t written = 0;
  std::thread writer([&] {
    std::uint64_t j = 0;
    while (j < min_events || snapshots.load() < wanted) b.record(numbered(++j));
    written = j;
    done.store(true);
  });
  std::uint64_t last_newest = 0;
  while (!done.load()) {
    const auto s = b.snapshot();
    for (std::size_t i = 0; i < s.size(); ++i) {
      const event& e = s[i];
      ASSERT_EQ(e.ts_ns, e.task);
      ASSERT_EQ(e.arg, e.task * 3);
      ASSERT_EQ(e.aux, static_cast<std::uint32_t>(e.task));
      if (i > 0) {
        ASSERT_EQ(e.task, s[i - 1].task + 1);
      }
    }
    if (!s.empty()) {
      ASSERT_GE(s.back().task, last_newest);  // the ring never goes back in time
      last_newest = s.back().task;
    }
    snapshots.fetch_add(1);
  }
  writer.join();
  const auto s = b.snapshot();
  ASSERT_EQ(s.size(), 256u);
  EXPECT_EQ(s.back().task, written);
  EXPECT_GE(snapshots.load(), wanted);
}

TEST(NameTableTest, SameTextSameIndexAndZeroForNone) {
  name_table t;
  EXPECT_EQ(t.intern(""), 0u);
  const auto a = t.intern("fetch");
  const auto b = t.intern("parse");
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(t.intern(std::string("fet") + "ch"), a);
  EXPECT_EQ(t.name(a), "fetch");
  EXPECT_EQ(t.name(b), "parse");
  EXPECT_EQ(t.name(0), "");
  EXPECT_EQ(t.name(99), "");
}

// Runs python3's json module on the text: the document parses, and its events by phase.
std::string python_summary(const std::string& json) {
  const std::string path = coreio_test::write_temp_file("coreio_trace_buffer_test", json);
  const std::string out =
      coreio_test::run_shell(
          "python3 -c 'import json,sys,collections; d=json.load(open(sys.argv[1])); "
          "c=collections.Counter(e[\"ph\"] for e in d[\"traceEvents\"]); "
          "print(\" \".join(k+\"=\"+str(c[k]) for k in sorted(c)))' " +
          path)
          .output;
  std::remove(path.c_str());
  return out;
}

TEST(ChromeTraceTest, PollsSpawnsWakesAndStealsBecomeSlicesFlowsAndInstants) {
  name_table names;
  const std::uint32_t fetch = names.intern("fetch \"quoted\"");
  static const char file[] = "scraper.cpp";
  const std::uint64_t root = 1, child = 2;
  // worker 0: the root spawns the child and parks; worker 1 steals the child, runs it, wakes root.
  thread_events w0{"worker 0", 0, {}};
  w0.events = {
      {.ts_ns = 1'000, .what = kind::poll_begin, .task = root},
      {.ts_ns = 1'500, .what = kind::spawn, .aux = 42, .task = child, .arg = root},
      {.ts_ns = 1'501,
       .what = kind::spawn_where,
       .aux = fetch,
       .task = child,
       .arg = reinterpret_cast<std::uint64_t>(file)},
      {.ts_ns = 2'000, .what = kind::poll_end, .task = root},
      {.ts_ns = 2'100, .what = kind::park},
      {.ts_ns = 9'000, .what = kind::unpark},
      {.ts_ns = 9'100, .what = kind::poll_begin, .task = root},
      {.ts_ns = 9'900, .what = kind::poll_end, .aux = 1, .task = root},
      {.ts_ns = 9'950, .what = kind::poll_end, .task = 77},  // no begin: left out
  };
  thread_events w1{"worker 1", 1, {}};
  w1.events = {
      {.ts_ns = 2'500, .what = kind::steal, .aux = 1, .arg = 0},
      {.ts_ns = 3'000, .what = kind::poll_begin, .task = child},
      {.ts_ns = 8'000, .what = kind::wake, .task = root, .arg = child},
      {.ts_ns = 8'500, .what = kind::poll_end, .aux = 1, .task = child},
      {.ts_ns = 8'600, .what = kind::poll_begin, .task = 5},  // still running at the dump
  };
  std::ostringstream out;
  const std::vector<thread_events> threads{w0, w1};
  const chrome_trace_counts c = coreio::detail::trace::write_chrome_trace(out, threads, names);
  EXPECT_EQ(c.polls, 3u);
  EXPECT_EQ(c.spawns, 1u);
  EXPECT_EQ(c.flows, 2u);  // spawn -> first poll of the child, wake -> next poll of the root
  EXPECT_EQ(c.steals, 1u);
  EXPECT_EQ(c.parks, 1u);
  const std::string json = out.str();
  EXPECT_NE(json.find("\"name\":\"fetch \\\"quoted\\\"\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"spawned_at\":\"scraper.cpp:42\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"dur\":5.500"), std::string::npos) << json;  // the child's poll, in µs
  // M: process + 2 threads; X: 3 polls + 1 park; i: spawn, steal; s: spawn + wake; f: 2.
  EXPECT_EQ(python_summary(json), "M=3 X=4 f=2 i=2 s=2\n");
  EXPECT_EQ(c.events, 13u);
}

}  // namespace
