// sched/park.hpp — who is searching for work, who is parked, and how a worker parks (Tokio's
// idle.rs and park.rs, simplified). The counters and the sleeper list are class idle below; the
// parking itself is one function, worker::park (park.cpp).
//
// A worker with nothing to run becomes a *searcher* (steals, looks at the global queue) if fewer
// than half of the workers already search; otherwise, or when the search finds nothing, it *parks*
// (worker::park, in this order): registers as a sleeper (add_sleeper), issues a seq_cst fence,
// re-checks every queue and its own due timers (and returns to work if any holds something), arms
// its wake timer for its earliest sleep, blocks in its event loop's run_one(), and on waking
// unregisters (remove_sleeper; a notifier may have done it already, counting it as a searcher).
//
// Wake-up protocol (no lost wake-ups for work that only a sleeper could run):
//   1. A thread that makes work visible to other workers (global queue push) does so, then a seq_cst
//      fence, then reads num_searching / num_sleeping (notify_one).
//   2. A parking worker adds itself to the sleepers (seq_cst RMW on num_sleeping) and then, after a
//      seq_cst fence, re-checks every queue before it blocks.
//   By the fence pair, either the notifier sees the sleeper (and wakes one: it pops a sleeper,
//   counts it as a searcher and posts a no-op to its event loop), or the parker sees the work.
//   Pushes on a worker's own queues use a cheaper, relaxed check: if a wake-up is missed there, the
//   pushing worker still runs the item itself; if it stays busy in one long poll instead, or never
//   runs out of work for a whole tick, the runtime's monitor (monitor.hpp) sees its queued work and
//   wakes a sleeper. A worker's own wake-ups (worker::push_woken) skip the check until
//   runtime_options::wake_backlog tasks wait: that backlog is left to the monitor's tick.
//   3. A woken searcher that finds work and was the last searcher wakes the next sleeper (the chain),
//      so a burst of work spreads one worker at a time without a thundering herd.
//
// Thread safety: all members from any worker; the sleeper list is guarded by mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace coreio::detail {

class idle {
 public:
  explicit idle(std::uint32_t workers) : workers_(workers) { sleepers_.reserve(workers); }

  std::uint32_t workers() const noexcept { return workers_; }

  /// Becomes a searcher if fewer than half of the workers search. False: do not search.
  bool try_begin_search() noexcept {
    // Relaxed: a heuristic bound; a few extra searchers at once are harmless.
    std::uint32_t s = num_searching_.load(std::memory_order_relaxed);
    if (2 * s >= workers_) return false;
    num_searching_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }

  /// Stops searching. True if this was the last searcher (the caller should wake another worker if
  /// it found work).
  bool end_search() noexcept {
    // seq_cst: part of the fence protocol (a notifier that saw us searching relies on our re-check).
    return num_searching_.fetch_sub(1, std::memory_order_seq_cst) == 1;
  }

  /// Registers `index` as parked. `searching`: the worker was a searcher (it stops now).
  void add_sleeper(std::uint32_t index, bool searching) {
    std::lock_guard<std::mutex> g(mu_);
    sleepers_.push_back(index);
    // seq_cst: step 2 of the protocol; the caller follows with a fence and the re-check.
    num_sleeping_.fetch_add(1, std::memory_order_seq_cst);
    if (searching) num_searching_.fetch_sub(1, std::memory_order_seq_cst);
  }

  /// Removes `index` from the sleepers if it is still there. False: a notifier removed it, which
  /// means it was woken as a searcher and is counted as one.
  bool remove_sleeper(std::uint32_t index) {
    std::lock_guard<std::mutex> g(mu_);
    for (std::size_t i = 0; i < sleepers_.size(); ++i) {
      if (sleepers_[i] == index) {
        sleepers_[i] = sleepers_.back();
        sleepers_.pop_back();
        num_sleeping_.fetch_sub(1, std::memory_order_seq_cst);
        return true;
      }
    }
    return false;
  }

  /// Step 1, after the caller's seq_cst fence: pick a sleeper to wake, counted as a searcher, or -1
  /// if none is needed.
  int pick_sleeper_to_wake() {
    // seq_cst loads: read after the caller's fence, in the total order with add_sleeper's RMW.
    if (num_sleeping_.load(std::memory_order_seq_cst) == 0) return -1;
    if (num_searching_.load(std::memory_order_seq_cst) != 0) return -1;  // a searcher will find it
    std::lock_guard<std::mutex> g(mu_);
    if (sleepers_.empty()) return -1;
    // Re-check under the lock so that two notifiers do not both wake for one item of work.
    if (num_searching_.load(std::memory_order_seq_cst) != 0) return -1;
    std::uint32_t w = sleepers_.back();
    sleepers_.pop_back();
    num_sleeping_.fetch_sub(1, std::memory_order_seq_cst);
    num_searching_.fetch_add(1, std::memory_order_seq_cst);
    return static_cast<int>(w);
  }

  /// Workers parked now. seq_cst: the monitor's half of its deep-sleep Dekker pair (monitor.hpp).
  std::uint32_t sleeping() const noexcept { return num_sleeping_.load(std::memory_order_seq_cst); }

  /// Relaxed hints for the cheap local-push check and the monitor.
  std::uint32_t sleeping_hint() const noexcept {
    return num_sleeping_.load(std::memory_order_relaxed);
  }
  std::uint32_t searching_hint() const noexcept {
    return num_searching_.load(std::memory_order_relaxed);
  }

 private:
  const std::uint32_t workers_;
  // Workers searching for work now. Writers: workers (RMW), notifiers (RMW). Readers: all.
  std::atomic<std::uint32_t> num_searching_{0};
  // Workers in sleepers_. Writers: under mu_. Readers: notifiers, without the lock first.
  std::atomic<std::uint32_t> num_sleeping_{0};
  std::mutex mu_;
  // Parked workers, guarded by mu_.
  std::vector<std::uint32_t> sleepers_;
};

}  // namespace coreio::detail
