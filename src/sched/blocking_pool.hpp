// sched/blocking_pool.hpp — the blocking pool behind coreio::to_thread: plain threads, started on
// demand up to a bound, that exit after a keep-alive without work (Tokio's blocking pool).
//
// Owns: a FIFO of queued jobs (intrusive through blocking_job::next), the std::thread of every pool
// thread (running_: alive; exited_: returned or about to, not yet joined) and the counters below,
// all guarded by the one mutex mu_. Jobs run outside it.
//
// Protocol (every step under mu_):
//   submit:  refused (runtime_closed, the job dropped) once closed_. Otherwise the job is queued,
//            then: if an idle thread is unclaimed (idle_ > 0), claim it (idle_--, notified_++) and
//            notify one waiter; else if fewer than max_threads_ threads live, start one (it takes
//            the job from the queue); else the job waits for the first thread that finishes its
//            job.
//   thread:  pops and runs jobs (lock released while running) until the queue is empty; then, if
//            not closed, becomes idle (idle_++) and waits on work_cv_ until its keep-alive
//            deadline. On waking: a pending claim (notified_ > 0) is taken by whichever waiter
//            wakes first (notified_--; the submitter already did idle_--) and the thread goes back
//            to the queue; else closed or the deadline passed: idle_--, exit; else a spurious wake:
//            wait again. A claim taken by a thread whose job another thread popped first just finds
//            the queue empty and goes idle again: harmless. Claims never exceed waiters, so idle_
//            counts the waiting threads nobody has claimed, and no queued job is left while a
//            thread waits unclaimed (the submit that queued it claimed one, or a thread was busy
//            and will pop it).
//   exit:    live_--; the thread moves its own std::thread from running_ to exited_, takes the
//            threads that exited before it out of exited_ and joins them after unlocking (they have
//            returned or are returning), so at most one exited thread waits to be joined at a time.
//   close_and_join (runtime shutdown step 3b, after every task has unwound): closed_ = true; take
//            the queued jobs; wake every waiter; drop the taken jobs (outside the lock: their
//            destructors are user code); wait until live_ == 0 (threads running a job finish it
//            first: a stderr line every 5 s names how many); join every std::thread left in exited_
//            (a thread still joining an earlier one is joined after it, so all are joined).
//
// Thread safety: submit and snapshot from any thread; close_and_join once, from the runtime's
// destructor (not from a pool thread: it would join itself).
// Memory ordering: the job's contents written by the submitter before submit happen-before the job
// runs (mu_: the push and the pop are under it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <thread>

#include <coreio/detail/blocking_job.hpp>

namespace coreio::detail {

class blocking_pool {
 public:
  /// One instant of the counters (runtime_metrics' blocking_* fields).
  struct counters {
    std::uint64_t threads = 0;
    std::uint64_t idle_threads = 0;
    std::uint64_t queued = 0;
    std::uint64_t completed = 0;
  };

  /// Starts no thread: the first submit does.
  blocking_pool(std::size_t max_threads, std::chrono::milliseconds keep_alive) noexcept;
  /// close_and_join() if it has not run (a runtime whose construction failed).
  ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  /// Queues job; the pool owns it from now on. Throws runtime_closed once closed (the job is
  /// dropped), or std::system_error if no thread runs and none can be started (dropped too).
  /// Any thread.
  void submit(blocking_job* job);

  /// Refuses further submits, drops the queued jobs, waits for the running ones, joins every
  /// thread. Idempotent. Not from a pool thread.
  void close_and_join();

  /// The counters, under the lock. Any thread.
  counters snapshot() const;

  /// True on a thread of this pool. Any thread.
  bool on_pool_thread() const noexcept;

 private:
  using thread_list = std::list<std::thread>;

  void thread_main(thread_list::iterator self);
  /// Starts one thread into running_ and counts it live. Throws std::system_error.
  void start_thread_locked();
  void push_locked(blocking_job* job) noexcept;
  blocking_job* pop_locked() noexcept;

  // Bounds; set at construction, read-only after.
  const std::size_t max_threads_;
  const std::chrono::milliseconds keep_alive_;

  // Guards everything below.
  mutable std::mutex mu_;
  // Idle threads wait here for a claim, close, or their keep-alive deadline.
  std::condition_variable work_cv_;
  // close_and_join waits here for live_ == 0; the last exiting thread notifies.
  std::condition_variable exit_cv_;
  // The queue of jobs not yet started, FIFO.
  blocking_job* head_ = nullptr;
  blocking_job* tail_ = nullptr;
  std::size_t queued_ = 0;
  // Threads started and not yet past their exit step.
  std::size_t live_ = 0;
  // Threads waiting on work_cv_ that no submit has claimed.
  std::size_t idle_ = 0;
  // Claims made by submits and not yet taken by a waking thread.
  std::size_t notified_ = 0;
  // Jobs run to their end (returned or threw).
  std::uint64_t completed_ = 0;
  // Set once by close_and_join; then submit refuses and threads exit when out of jobs.
  bool closed_ = false;
  // Set once close_and_join has joined every thread.
  bool joined_ = false;
  // The std::thread of every live thread (a thread removes its own node on exit).
  thread_list running_;
  // Threads that have exited (or are returning) and are not yet joined.
  thread_list exited_;
};

}  // namespace coreio::detail
