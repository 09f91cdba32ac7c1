// tracer_test.cpp — trace/tracer.hpp's close_polls: a poll records only its poll_begin; the dump
// ends it at the worker's next scheduler event (not at the events recorded during the poll) and
// leaves out a poll that nothing has followed yet. fill_untimed places polls recorded without a
// time; poll_clock (trace/poll_clock.hpp) leaves a poll untimed only in a run of short polls.
#include "trace/tracer.hpp"
#include "trace/poll_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace {

using coreio::detail::trace::close_polls;
using coreio::detail::trace::event;
using coreio::detail::trace::fill_untimed;
using coreio::detail::trace::kind;
using coreio::detail::trace::poll_clock;

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

TEST(TracerTest, UntimedEventsArePlacedEvenlyBetweenTheirTimedNeighbours) {
  std::vector<event> ev = {
      {.ts_ns = 0, .what = kind::poll_begin, .task = 1},    // before any timed event
      {.ts_ns = 100, .what = kind::poll_begin, .task = 2},  // timed
      {.ts_ns = 0, .what = kind::poll_begin, .task = 3},
      {.ts_ns = 0, .what = kind::poll_begin, .task = 4},
      {.ts_ns = 0, .what = kind::poll_begin, .task = 5},
      {.ts_ns = 140, .what = kind::poll_begin, .task = 6},  // timed
      {.ts_ns = 150, .what = kind::park},                   // timed
      {.ts_ns = 0, .what = kind::poll_begin, .task = 7},    // after the last timed event
  };
  fill_untimed(ev);
  std::vector<std::uint64_t> ts;
  std::vector<bool> placed;
  for (const event& e : ev) {
    ts.push_back(e.ts_ns);
    placed.push_back(e.interpolated);
  }
  EXPECT_EQ(ts, (std::vector<std::uint64_t>{100, 100, 110, 120, 130, 140, 150, 150}));
  EXPECT_EQ(placed, (std::vector<bool>{true, false, true, true, true, false, false, true}));

  // The slices that follow: polls 3-5 get 10 each, poll 6 ends at the park.
  close_polls(ev);
  std::vector<std::uint64_t> durations;
  std::uint64_t begin = 0;
  for (const event& e : ev) {
    if (e.what == kind::poll_begin) begin = e.ts_ns;
    if (e.what == kind::poll_end) durations.push_back(e.ts_ns - begin);
  }
  EXPECT_EQ(durations, (std::vector<std::uint64_t>{0, 10, 10, 10, 10, 10}));
}

TEST(TracerTest, WithoutATimedEventNothingIsPlaced) {
  std::vector<event> ev = {{.ts_ns = 0, .what = kind::poll_begin, .task = 1},
                           {.ts_ns = 0, .what = kind::poll_begin, .task = 2}};
  fill_untimed(ev);
  EXPECT_EQ(ev[0].ts_ns, 0u);
  EXPECT_FALSE(ev[1].interpolated);
}

TEST(TracerTest, ThePollClockSamplesOnlyRunsOfShortPolls) {
  poll_clock c;
  // Short polls (nothing between stamps but the loop): the stride doubles up to its cap. A
  // preemption between two stamps makes one batch long and starts the doubling again, so run
  // until the cap is reached, then to the end of a batch.
  const auto to_a_full_stride = [&c] {
    for (int i = 0; i < 1'000'000; ++i) {
      if (c.stamp() != 0 && c.stride() == poll_clock::max_stride) return true;
    }
    return false;
  };
  ASSERT_TRUE(to_a_full_stride());
  // Within a batch only its last poll reads the clock.
  std::uint32_t timed = 0;
  const std::uint32_t polls = poll_clock::max_stride * 100;
  for (std::uint32_t i = 0; i < polls; ++i) timed += c.stamp() != 0 ? 1 : 0;
  EXPECT_GE(timed, 100u);
  EXPECT_LT(timed, 200u);  // 100 without preemption; each one costs about log2(32) reads more

  // A batch whose average is long (a wait of 1 ms in it: far above short_poll_ticks per poll at
  // any clock rate) brings the stride back to 1: every poll is timed again.
  ASSERT_TRUE(to_a_full_stride());
  for (std::uint32_t i = 0; i + 1 < poll_clock::max_stride; ++i) EXPECT_EQ(c.stamp(), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_NE(c.stamp(), 0u);  // the batch's last poll: read, and the batch was long
  EXPECT_EQ(c.stride(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_NE(c.stamp(), 0u);
  EXPECT_EQ(c.stride(), 1u);
}

}  // namespace
