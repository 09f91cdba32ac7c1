// tracer_test.cpp — trace/tracer.hpp's close_polls: a poll records only its poll_begin; the dump
// ends it at the worker's next scheduler event (not at the events recorded during the poll) and
// leaves out a poll that nothing has followed yet.
#include "trace/tracer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace {

using coreio::detail::trace::close_polls;
using coreio::detail::trace::event;
using coreio::detail::trace::kind;

TEST(TracerTest, APollEndsAtTheNextSchedulerEventOnly) {
  std::vector<event> ev = {
      {.ts_ns = 10, .what = kind::poll_begin, .task = 1},
      {.ts_ns = 12, .what = kind::wake, .task = 7, .arg = 1},   // during poll 1
      {.ts_ns = 13, .what = kind::spawn, .task = 8, .arg = 1},  // during poll 1
      {.ts_ns = 20, .what = kind::poll_begin, .task = 2},       // ends poll 1
      {.ts_ns = 30, .what = kind::steal, .aux = 3, .arg = 1},   // ends poll 2
      {.ts_ns = 40, .what = kind::park},
      {.ts_ns = 50, .what = kind::unpark},
      {.ts_ns = 60, .what = kind::poll_begin, .task = 3},  // nothing after it: left out
      {.ts_ns = 61, .what = kind::wake, .task = 9, .arg = 3},
  };
  close_polls(ev);
  std::vector<std::pair<kind, std::uint64_t>> got;
  for (const event& e : ev) got.emplace_back(e.what, e.ts_ns);
  const std::vector<std::pair<kind, std::uint64_t>> want = {
      {kind::poll_begin, 10}, {kind::wake, 12},     {kind::spawn, 13}, {kind::poll_end, 20},
      {kind::poll_begin, 20}, {kind::poll_end, 30}, {kind::steal, 30}, {kind::park, 40},
      {kind::unpark, 50},     {kind::wake, 61}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(ev[3].task, 1u);
  EXPECT_EQ(ev[5].task, 2u);
}

TEST(TracerTest, TimerAndIoWakesAndTheStopEndAPollButSpansDoNot) {
  std::vector<event> ev = {
      {.ts_ns = 1, .what = kind::poll_begin, .task = 1},
      {.ts_ns = 2, .what = kind::span_begin, .task = 1},
      {.ts_ns = 3, .what = kind::span_end, .task = 1},
      {.ts_ns = 4, .what = kind::timer_fire, .task = 5},
      {.ts_ns = 5, .what = kind::poll_begin, .task = 5},
      {.ts_ns = 6, .what = kind::io_complete, .task = 6},
      {.ts_ns = 7, .what = kind::poll_begin, .task = 6},
      {.ts_ns = 9, .what = kind::stop},
  };
  close_polls(ev);
  std::vector<std::uint64_t> ends;
  for (const event& e : ev)
    if (e.what == kind::poll_end) ends.push_back(e.ts_ns);
  EXPECT_EQ(ends, (std::vector<std::uint64_t>{4, 6, 9}));
}

}  // namespace
