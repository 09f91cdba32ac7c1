// timer_heap_test.cpp — src/time/timer_heap.hpp: the per-worker min-heap of sleeps. Random inserts
// and erases keep the heap order and every entry's index; erasing the top, a middle entry or the
// last one works; pop returns deadlines in order.
#include "time/timer_heap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <set>
#include <vector>

#include "support/test_support.hpp"

namespace {

using coreio::detail::timer_entry;
using coreio::detail::timer_heap;
using tp = std::chrono::steady_clock::time_point;

tp at(long ms) { return tp{} + std::chrono::milliseconds(ms); }

class TimerHeapTest : public ::testing::Test {
 protected:
  timer_entry* make(long ms) {
    entries_.push_back(std::make_unique<timer_entry>());
    entries_.back()->deadline = at(ms);
    return entries_.back().get();
  }

  // Pops every entry; the deadlines must come out in order.
  static std::vector<tp> drain(timer_heap& h) {
    std::vector<tp> out;
    while (!h.empty()) {
      timer_entry* e = h.pop();
      EXPECT_EQ(e->heap_index, timer_heap::npos) << "a popped entry is marked as out of the heap";
      out.push_back(e->deadline);
    }
    return out;
  }

  std::deque<std::unique_ptr<timer_entry>> entries_;
};

TEST_F(TimerHeapTest, TopIsTheEarliestDeadline) {
  timer_heap h;
  EXPECT_TRUE(h.empty());
  for (long ms : {50, 10, 30, 20, 40}) h.insert(make(ms));
  EXPECT_EQ(h.size(), 5u);
  EXPECT_EQ(h.top()->deadline, at(10));
  EXPECT_EQ(drain(h), (std::vector<tp>{at(10), at(20), at(30), at(40), at(50)}));
}

TEST_F(TimerHeapTest, EraseTheTop) {
  timer_heap h;
  timer_entry* first = make(1);
  h.insert(make(5));
  h.insert(first);
  h.insert(make(3));
  h.insert(make(4));
  ASSERT_EQ(h.top(), first);
  h.erase(first);
  EXPECT_EQ(first->heap_index, timer_heap::npos);
  EXPECT_EQ(h.top()->deadline, at(3));
  EXPECT_EQ(drain(h), (std::vector<tp>{at(3), at(4), at(5)}));
}

TEST_F(TimerHeapTest, EraseAMiddleEntry) {
  timer_heap h;
  std::vector<timer_entry*> es;
  for (long ms = 1; ms <= 15; ++ms) {
    es.push_back(make(ms));
    h.insert(es.back());
  }
  // Erase entries that sit inside the tree, not at the root or the end.
  h.erase(es[6]);
  h.erase(es[2]);
  h.erase(es[9]);
  std::vector<tp> expected;
  for (long ms = 1; ms <= 15; ++ms) {
    if (ms != 7 && ms != 3 && ms != 10) expected.push_back(at(ms));
  }
  EXPECT_EQ(drain(h), expected);
}

TEST_F(TimerHeapTest, EraseTheLastEntry) {
  timer_heap h;
  std::vector<timer_entry*> es;
  for (long ms : {1, 2, 3, 4, 5, 6}) {
    es.push_back(make(ms));
    h.insert(es.back());
  }
  timer_entry* last = nullptr;
  for (timer_entry* e : es) {
    if (e->heap_index == h.size() - 1) last = e;
  }
  ASSERT_NE(last, nullptr);
  const tp gone = last->deadline;
  h.erase(last);
  EXPECT_EQ(h.size(), 5u);
  std::vector<tp> rest = drain(h);
  EXPECT_EQ(rest.size(), 5u);
  EXPECT_TRUE(std::is_sorted(rest.begin(), rest.end()));
  EXPECT_EQ(std::count(rest.begin(), rest.end(), gone), 0);
}

TEST_F(TimerHeapTest, EraseTheOnlyEntryAndEraseTwice) {
  timer_heap h;
  timer_entry* e = make(1);
  h.insert(e);
  h.erase(e);
  EXPECT_TRUE(h.empty());
  h.erase(e);  // not in the heap any more: a no-op
  EXPECT_TRUE(h.empty());
  timer_entry* never = make(2);
  h.insert(make(3));
  h.erase(never);  // never inserted (npos): a no-op
  EXPECT_EQ(h.size(), 1u);
}

TEST_F(TimerHeapTest, EqualDeadlinesAllComeOut) {
  timer_heap h;
  for (int i = 0; i < 10; ++i) h.insert(make(7));
  h.insert(make(1));
  const auto out = drain(h);
  EXPECT_EQ(out.size(), 11u);
  EXPECT_EQ(out.front(), at(1));
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
}

TEST_F(TimerHeapTest, RandomInsertsAndErasesKeepHeapOrderAndIndices) {
  coreio_test::rng r(2024);
  timer_heap h;
  std::vector<timer_entry*> live;
  std::multiset<tp> model;
  for (int step = 0; step < 20'000; ++step) {
    const auto choice = r.below(10);
    if (choice < 5 || live.empty()) {
      timer_entry* e = make(static_cast<long>(r.below(1000)));
      h.insert(e);
      live.push_back(e);
      model.insert(e->deadline);
    } else if (choice < 8) {
      // Erase a random live entry (top, middle or last, by chance).
      const std::size_t k = r.below(live.size());
      timer_entry* e = live[k];
      h.erase(e);
      EXPECT_EQ(e->heap_index, timer_heap::npos);
      model.erase(model.find(e->deadline));
      live[k] = live.back();
      live.pop_back();
    } else {
      timer_entry* e = h.pop();
      ASSERT_EQ(e->deadline, *model.begin()) << "pop returns the earliest deadline";
      model.erase(model.begin());
      live.erase(std::find(live.begin(), live.end(), e));
    }
    ASSERT_EQ(h.size(), model.size());
    if (!h.empty()) {
      ASSERT_EQ(h.top()->deadline, *model.begin());
    }
    // Every live entry knows its own slot, and the slots are a permutation of 0..size-1.
    if (step % 97 == 0) {
      std::vector<bool> seen(h.size(), false);
      for (timer_entry* e : live) {
        ASSERT_LT(e->heap_index, h.size());
        ASSERT_FALSE(seen[e->heap_index]);
        seen[e->heap_index] = true;
      }
    }
  }
  std::vector<tp> out = drain(h);
  EXPECT_TRUE(std::is_sorted(out.begin(), out.end()));
  EXPECT_EQ(out.size(), model.size());
}

}  // namespace
