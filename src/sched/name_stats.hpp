// sched/name_stats.hpp — a runtime's counters per task name (metrics_histograms only), keyed by
// the name's index in the process's name table (trace/name_table.hpp).
//
// Layout: up to max_chunks chunks of chunk_size entries, entry i in chunk i / chunk_size; a chunk
// is allocated by the first task with a name in its range (compare-exchange; the loser frees its
// copy) and lives until the table dies. Names beyond max_chunks * chunk_size are not counted.
// Writers: any worker (a task spawned on one may end or be polled on another): relaxed fetch_add,
// since the counters are statistics that publish nothing. The chunk pointers: release on install,
// acquire on load, so a reader that finds a chunk sees it constructed (zeroed). Readers (metrics)
// load each counter relaxed; alive is derived as spawned - completed (clamped at 0, since the two
// are read at slightly different instants).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <coreio/metrics.hpp>

#include "trace/name_table.hpp"

namespace coreio::detail {

class name_stats {
 public:
  static constexpr std::size_t chunk_size = 64;
  static constexpr std::size_t max_chunks = 256;

  name_stats() = default;
  name_stats(const name_stats&) = delete;
  name_stats& operator=(const name_stats&) = delete;
  ~name_stats() {
    for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);  // no writer is left
  }

  /// A task named `name` (index, not 0) was spawned / ended / ran a poll. Any thread.
  void spawned(std::uint32_t name) noexcept { add(name, &entry::spawned, 1); }
  void ended(std::uint32_t name, bool failed) noexcept {
    add(name, &entry::completed, 1);
    if (failed) add(name, &entry::failed, 1);
  }
  void busy(std::uint32_t name, std::uint64_t ns) noexcept { add(name, &entry::busy_ns, ns); }

  /// Every name counted so far, in index order. Any thread.
  std::vector<task_name_metrics> snapshot() const {
    std::vector<task_name_metrics> out;
    for (std::size_t c = 0; c < max_chunks; ++c) {
      const chunk* ch = chunks_[c].load(std::memory_order_acquire);  // see the file comment
      if (ch == nullptr) continue;
      for (std::size_t i = 0; i < chunk_size; ++i) {
        const entry& e = (*ch)[i];
        task_name_metrics m;
        // Relaxed: statistics (file comment). completed first, so alive errs on the high side.
        m.completed = e.completed.load(std::memory_order_relaxed);
        m.spawned = e.spawned.load(std::memory_order_relaxed);
        if (m.spawned == 0) continue;
        m.failed = e.failed.load(std::memory_order_relaxed);
        m.busy_ns = e.busy_ns.load(std::memory_order_relaxed);
        m.alive = m.spawned > m.completed ? m.spawned - m.completed : 0;
        m.name =
            std::string(trace::task_names().name(static_cast<std::uint32_t>(c * chunk_size + i)));
        out.push_back(std::move(m));
      }
    }
    return out;
  }

 private:
  struct entry {
    std::atomic<std::uint64_t> spawned{0}, completed{0}, failed{0}, busy_ns{0};
  };
  using chunk = std::array<entry, chunk_size>;

  void add(std::uint32_t name, std::atomic<std::uint64_t> entry::* field,
           std::uint64_t n) noexcept {
    const std::size_t c = name / chunk_size;
    if (c >= max_chunks) return;
    chunk* ch = chunks_[c].load(std::memory_order_acquire);  // see the file comment
    if (ch == nullptr) [[unlikely]] {
      ch = install(c);
      if (ch == nullptr) return;  // out of memory: not counted
    }
    // Relaxed: a statistic (file comment).
    ((*ch)[name % chunk_size].*field).fetch_add(n, std::memory_order_relaxed);
  }

  chunk* install(std::size_t c) noexcept {
    auto fresh = std::unique_ptr<chunk>(new (std::nothrow) chunk{});
    if (!fresh) return nullptr;
    chunk* expected = nullptr;
    // Release on success: publishes the zeroed chunk; acquire on failure: the winner's chunk.
    if (chunks_[c].compare_exchange_strong(expected, fresh.get(), std::memory_order_release,
                                           std::memory_order_acquire)) {
      return fresh.release();
    }
    return expected;
  }

  std::array<std::atomic<chunk*>, max_chunks> chunks_{};
};

}  // namespace coreio::detail
