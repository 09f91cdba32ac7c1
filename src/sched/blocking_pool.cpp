// sched/blocking_pool.cpp — the blocking pool's threads and queue (protocol: blocking_pool.hpp).
#include "sched/blocking_pool.hpp"

#include <coreio/detail/saturating_time.hpp>

#include <pthread.h>

#include <cstdio>
#include <utility>

namespace coreio::detail {

namespace {
// The pool whose thread this is, or null. Set by a pool thread at start; that thread only.
thread_local const blocking_pool* t_pool = nullptr;
}  // namespace

blocking_pool::blocking_pool(std::size_t max_threads, std::chrono::milliseconds keep_alive) noexcept
    : max_threads_(max_threads), keep_alive_(keep_alive) {}

blocking_pool::~blocking_pool() { close_and_join(); }

bool blocking_pool::on_pool_thread() const noexcept { return t_pool == this; }

void blocking_pool::push_locked(blocking_job* job) noexcept {
  job->next = nullptr;
  if (tail_ != nullptr) {
    tail_->next = job;
  } else {
    head_ = job;
  }
  tail_ = job;
  ++queued_;
}

blocking_job* blocking_pool::pop_locked() noexcept {
  blocking_job* job = head_;
  if (job == nullptr) return nullptr;
  head_ = job->next;
  if (head_ == nullptr) tail_ = nullptr;
  --queued_;
  return job;
}

void blocking_pool::start_thread_locked() {
  running_.emplace_back();
  const thread_list::iterator self = std::prev(running_.end());
  try {
    // The new thread's first act is to lock mu_, which the caller holds: it sees the node filled.
    *self = std::thread([this, self] { thread_main(self); });
  } catch (...) {
    running_.erase(self);
    throw;
  }
  ++live_;
}

void blocking_pool::submit(blocking_job* job) {
  std::unique_lock<std::mutex> lk(mu_);
  if (closed_) {
    lk.unlock();
    job->complete(job, blocking_job::action::drop);
    throw runtime_closed();
  }
  if (idle_ > 0) {
    push_locked(job);
    --idle_;
    ++notified_;
    // Notified after unlocking, so that the woken thread does not wake only to block on mu_. The
    // claim is already recorded (notified_), and the pool outlives every submit.
    lk.unlock();
    work_cv_.notify_one();
    return;
  }
  if (live_ < max_threads_) {
    try {
      start_thread_locked();
    } catch (...) {
      // With a thread alive the job still runs when one frees up; with none it never would.
      if (live_ == 0) {
        lk.unlock();
        job->complete(job, blocking_job::action::drop);
        throw;
      }
    }
  }
  push_locked(job);
}

void blocking_pool::thread_main(thread_list::iterator self) {
  t_pool = this;
  pthread_setname_np(pthread_self(), "coreio-blocking");
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    if (blocking_job* job = pop_locked()) {
      lk.unlock();
      job->complete(job, blocking_job::action::run);
      lk.lock();
      ++completed_;
      continue;
    }
    if (closed_) break;
    // Idle: wait for a claim, close, or the keep-alive deadline.
    ++idle_;
    const auto deadline = saturating_add(std::chrono::steady_clock::now(), keep_alive_);
    bool exit_now = false;
    for (;;) {
      const bool timed_out = work_cv_.wait_until(lk, deadline) == std::cv_status::timeout;
      if (notified_ > 0) {
        // A claim (the submitter already took us off idle_), whichever waiter it was meant for.
        --notified_;
        break;
      }
      if (closed_ || timed_out) {
        --idle_;
        exit_now = true;
        break;
      }
      // Spurious wake-up: wait again until the same deadline.
    }
    if (exit_now) break;
  }
  // Exit: hand our std::thread to whoever exits next (or to close_and_join), and join the threads
  // that exited before us.
  --live_;
  thread_list earlier;
  earlier.splice(earlier.end(), exited_);
  exited_.splice(exited_.end(), running_, self);
  if (live_ == 0) exit_cv_.notify_all();
  lk.unlock();
  for (std::thread& t : earlier) t.join();
}

void blocking_pool::close_and_join() {
  std::unique_lock<std::mutex> lk(mu_);
  if (joined_) return;
  closed_ = true;
  blocking_job* dropped = std::exchange(head_, nullptr);
  tail_ = nullptr;
  queued_ = 0;
  work_cv_.notify_all();
  lk.unlock();
  // Dropped outside the lock: destroying a job destroys the caller's function object.
  while (dropped != nullptr) {
    blocking_job* next = dropped->next;
    dropped->complete(dropped, blocking_job::action::drop);
    dropped = next;
  }
  lk.lock();
  while (!exit_cv_.wait_for(lk, std::chrono::seconds(5), [this] { return live_ == 0; })) {
    std::fprintf(
        stderr,
        "coreio: runtime shutdown is waiting for %zu blocking call(s) (to_thread) to return\n",
        live_ - idle_);
  }
  thread_list all;
  all.splice(all.end(), exited_);
  joined_ = true;
  lk.unlock();
  for (std::thread& t : all) t.join();
}

blocking_pool::counters blocking_pool::snapshot() const {
  std::lock_guard<std::mutex> g(mu_);
  return counters{
      .threads = live_, .idle_threads = idle_, .queued = queued_, .completed = completed_};
}

}  // namespace coreio::detail
