// coreio/metrics.hpp — runtime_metrics: a snapshot of the scheduler's counters.
//
// Taken by runtime::metrics() at any time from any thread; every scheduler counter is read with a
// relaxed load, so a snapshot is not one instant but each field is exact for some recent instant.
// The blocking_* fields are read together under the blocking pool's lock.
#pragma once

#include <cstdint>
#include <vector>

namespace coreio {

/// Counters of one worker since the runtime started.
struct worker_metrics {
  std::uint64_t polls = 0;              ///< task resumptions run by this worker
  std::uint64_t steals = 0;             ///< tasks taken from other workers' queues
  std::uint64_t steal_operations = 0;   ///< successful steal-half operations
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
};

}  // namespace coreio
