// coreio/metrics.hpp — runtime_metrics: a snapshot of the scheduler's counters.
//
// Taken by runtime::metrics() at any time from any thread; every scheduler counter is read with a
// relaxed load, so a snapshot is not one instant but each field is exact for some recent instant.
// The blocking_* fields are read together under the blocking pool's lock.
//
// The histograms and the per-name task counters are recorded only when runtime_options::
// metrics_histograms (or COREIO_METRICS=1) is on: they read the clock twice per poll. Off, their
// fields stay empty (zero counts, no task_names).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace coreio {

/// A histogram of durations in log2 buckets: counts[i] holds the durations of at most
/// upper_ns(i) nanoseconds and more than upper_ns(i - 1); the last bucket has no upper bound.
/// Bounds: 128 ns, 256 ns, ... 2.1 s, then +Inf. counts are per bucket (not cumulative).
struct duration_histogram {
  static constexpr std::size_t buckets = 26;
  static constexpr std::uint64_t first_upper_ns = 128;
  /// The upper bound of bucket i < buckets - 1, in nanoseconds.
  static constexpr std::uint64_t upper_ns(std::size_t i) noexcept { return first_upper_ns << i; }

  std::array<std::uint64_t, buckets> counts{};
  std::uint64_t count = 0;   ///< the sum of counts
  std::uint64_t sum_ns = 0;  ///< the sum of the durations counted
};

/// Counters of the spawned tasks given one name (spawn(t, "fetch")), from the whole runtime.
struct task_name_metrics {
  std::string name;
  std::uint64_t spawned = 0;
  std::uint64_t completed = 0;  ///< ended, whatever the outcome
  std::uint64_t failed = 0;     ///< of those, ended by an exception other than cancellation
  std::uint64_t alive = 0;      ///< spawned - completed
  std::uint64_t busy_ns = 0;    ///< time spent in their polls (their awaited coroutines included)
};

/// Counters of one worker since the runtime started.
struct worker_metrics {
  std::uint64_t polls = 0;             ///< task resumptions run by this worker
  std::uint64_t steals = 0;            ///< tasks taken from other workers' queues
  std::uint64_t steal_operations = 0;  ///< successful steal-half operations
  /// Polls this worker ran of another worker's event loop that the monitor found unpolled for a
  /// tick with IO pending (its owner preempted or stuck in one poll): the IO completions there
  /// made their tasks ready here (README, threading model).
  std::uint64_t loop_steals = 0;
  std::uint64_t parks = 0;              ///< times the worker went to sleep in its event loop
  std::uint64_t local_queue_depth = 0;  ///< tasks in its run queue and fork deque now
  std::uint64_t overflows = 0;          ///< times a full queue of it moved half to the global queue
  std::uint64_t busy_ns = 0;            ///< time not parked, in nanoseconds
  std::uint64_t global_pulls = 0;       ///< tasks taken from the global queue
  std::uint64_t timers_fired = 0;       ///< sleeps that this worker fired itself
  /// Monitor ticks that found this worker stuck in one poll (longer than a tick) with tasks queued
  /// behind it; at each, the monitor woke a parked worker to take them (README, threading model).
  std::uint64_t stuck_with_queued_tasks = 0;
  /// Sleeps of this worker that the monitor fired because it was busy in a poll.
  std::uint64_t timers_fired_by_monitor = 0;
  /// How long each poll ran (metrics_histograms only).
  duration_histogram poll_time;
  /// From the moment a spawned task was made ready on this worker (spawned, or woken by a task, a
  /// timer or IO completion) to the start of its poll, on whichever worker ran it; counted by the
  /// worker that polled (metrics_histograms only; wakes from other threads are not timed).
  duration_histogram wake_to_poll;
};

/// A snapshot of a runtime's counters.
struct runtime_metrics {
  std::uint64_t tasks_spawned = 0;       ///< spawned and gathered tasks created
  std::uint64_t tasks_completed = 0;     ///< of those, the ones that have ended (a gather's
                                         ///< children: counted when the gather resumes)
  std::uint64_t tasks_alive = 0;         ///< spawned tasks not yet ended
  std::uint64_t global_queue_depth = 0;  ///< tasks in the global queue now (approximate)
  // The blocking pool (coreio::to_thread), read under the pool's lock: these four are one instant.
  std::uint64_t blocking_threads = 0;       ///< blocking-pool threads alive now
  std::uint64_t blocking_idle_threads = 0;  ///< of those, the ones waiting for a job
  std::uint64_t blocking_queue_depth = 0;   ///< to_thread calls queued, not yet started
  /// to_thread calls that have returned or thrown; counted by the pool thread just after it handed
  /// the result back, so it may lag the awaiting task by a moment.
  std::uint64_t blocking_jobs_completed = 0;
  std::vector<worker_metrics> workers;
  /// Per task name, in name order (metrics_histograms only; unnamed tasks are not in it).
  std::vector<task_name_metrics> task_names;
};

}  // namespace coreio
