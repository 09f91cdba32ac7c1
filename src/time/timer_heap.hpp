// time/timer_heap.hpp — the pending sleeps of one worker, earliest deadline first.
//
// A binary min-heap of timer_entry pointers; each entry knows its index, so a cancelled sleep is
// removed in O(log n) without searching. Entries live in the sleeping coroutines' frames: the heap
// allocates nothing per sleep (only its vector grows), which keeps 100,000 concurrent sleeps at a
// few bytes of overhead each.
//
// Thread safety: owner worker only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <coreio/time.hpp>

namespace coreio::detail {

class timer_heap {
 public:
  static constexpr std::uint32_t npos = static_cast<std::uint32_t>(-1);

  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  timer_entry* top() const noexcept { return heap_.front(); }

  void insert(timer_entry* e) {
    e->heap_index = static_cast<std::uint32_t>(heap_.size());
    heap_.push_back(e);
    sift_up(e->heap_index);
  }

  /// Removes e if it is in the heap.
  void erase(timer_entry* e) noexcept {
    if (e->heap_index == npos) return;
    std::size_t i = e->heap_index;
    e->heap_index = npos;
    timer_entry* last = heap_.back();
    heap_.pop_back();
    if (last == e) return;
    place(i, last);
    if (i > 0 && less(last, heap_[(i - 1) / 2])) sift_up(i);
    else sift_down(i);
  }

  timer_entry* pop() noexcept {
    timer_entry* e = heap_.front();
    erase(e);
    return e;
  }

 private:
  static bool less(const timer_entry* a, const timer_entry* b) noexcept {
    return a->deadline < b->deadline;
  }
  void place(std::size_t i, timer_entry* e) noexcept {
    heap_[i] = e;
    e->heap_index = static_cast<std::uint32_t>(i);
  }
  void sift_up(std::size_t i) noexcept {
    timer_entry* e = heap_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!less(e, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  void sift_down(std::size_t i) noexcept {
    timer_entry* e = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && less(heap_[c + 1], heap_[c])) ++c;
      if (!less(heap_[c], e)) break;
      place(i, heap_[c]);
      i = c;
    }
    place(i, e);
  }

  std::vector<timer_entry*> heap_;
};

}  // namespace coreio::detail
