// time/timer_queue.hpp — the pending sleeps of one worker, shared with whoever may fire them.
//
// A timer_heap (earliest deadline first) behind a spinlock. The owner worker inserts the sleeps of
// the tasks it runs and fires its due entries between polls; any thread may remove a cancelled
// entry, and the runtime's monitor (sched/monitor.hpp) fires the due entries of a worker that is
// stuck in a long poll, so that no sleep ends late behind a busy worker while another is idle.
// The critical sections are a heap insert, erase or pop: the lock is uncontended except in that
// rescue.
//
// Which thread moves an entry out of `pending` and what follows is time/timer.cpp's business; this
// file keeps the heap and publishes its earliest deadline.
//
// Thread safety: every member from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include <coreio/detail/spinlock.hpp>
#include <coreio/time.hpp>

#include "time/timer_heap.hpp"

namespace coreio::detail {

class timer_queue;
class owned_counter;
/// Fires the entries of q that are due at now (pending -> fired, then resume or on_done), earliest
/// first; returns how many. The owner worker between polls, or the monitor. time/timer.cpp.
/// `fired` (the caller's own counter) grows by each batch before its waiters resume, so a thread
/// that sees a sleep's end through the task it woke also sees the sleep counted.
std::size_t timer_fire_due(timer_queue& q, std::chrono::steady_clock::time_point now,
                           owned_counter& fired) noexcept;

class timer_queue {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  void insert(timer_entry* e) {
    std::lock_guard<spinlock> g(lock_);
    heap_.insert(e);
    publish_next();
  }

  /// Removes e if it is still in the heap.
  void erase(timer_entry* e) noexcept {
    std::lock_guard<spinlock> g(lock_);
    heap_.erase(e);
    publish_next();
  }

  /// Pops the entries whose deadline is <= now, earliest first, and claims each with claim (under
  /// the lock: time/timer.cpp says why); the claimed ones, up to max, go to out. Returns how many.
  std::size_t pop_due(time_point now, timer_entry** out, std::size_t max,
                      bool (*claim)(timer_entry*) noexcept) noexcept {
    std::lock_guard<spinlock> g(lock_);
    std::size_t n = 0;
    while (n < max && !heap_.empty() && heap_.top()->deadline <= now) {
      timer_entry* e = heap_.pop();
      if (claim(e)) out[n++] = e;
    }
    publish_next();
    return n;
  }

  /// The earliest deadline, time_point::max() if none. Any thread; relaxed: a hint for the monitor
  /// and for parking, re-checked under the lock by pop_due.
  time_point next_deadline() const noexcept {
    return time_point(time_point::duration(next_.load(std::memory_order_relaxed)));
  }
  bool empty() const noexcept { return next_deadline() == time_point::max(); }

 private:
  void publish_next() noexcept {
    const time_point d = heap_.empty() ? time_point::max() : heap_.top()->deadline;
    // Relaxed: a hint (see next_deadline).
    next_.store(d.time_since_epoch().count(), std::memory_order_relaxed);
  }

  mutable spinlock lock_;
  // Guarded by lock_.
  timer_heap heap_;
  // heap_'s earliest deadline in clock ticks. Writer: under lock_. Readers: any thread.
  std::atomic<time_point::rep> next_{time_point::max().time_since_epoch().count()};
};

}  // namespace coreio::detail
