// net/resolver_pool.hpp — the threads that run getaddrinfo for coreio::net::resolve: one pool for
// the whole process, bounded, whose threads no runtime ever waits for.
//
// Why not the runtime's blocking pool (to_thread): its close at runtime shutdown (runtime_impl.hpp,
// step 3b) waits for every running call, and getaddrinfo cannot be interrupted: one lookup stuck on
// an unanswering DNS server (5 s per try by default, several tries) would hold ~runtime that long.
// Why not Asio's resolver: it runs one lookup at a time per io_context (a worker's lookups queue
// behind a slow one), its cancel takes effect only when getaddrinfo returns, and the io_context's
// destruction joins its thread. Why one pool per process rather than per runtime: name resolution
// is a process resource (glibc's resolver state, nscd, /etc/hosts), a lookup needs nothing of a
// runtime, and a pool that belongs to no runtime is one no runtime's shutdown can wait for.
//
// Owns: a FIFO of lookups not started, and the counts below, all guarded by mu_. Lookups run
// outside the lock. Threads are detached: nobody joins them; each exits after k_keep_alive idle.
// The pool itself is never destroyed (instance() leaks it), so a thread still inside getaddrinfo
// when main returns never touches a destroyed pool.
//
// Protocol (every step under mu_):
//   submit:  queue the lookup; if more lookups are queued than threads are idle, and fewer than
//            resolver_max_lookups threads live, start one (detached); then notify one idle thread.
//            If no thread lives and none can be started, the lookup is taken back out and the
//            error (std::system_error) thrown.
//   thread:  pop the oldest lookup and run it (lock released): skipped if its awaiter has already
//            abandoned it, else getaddrinfo, then its promise is set. The promise hands the result
//            to the awaiting task (future.hpp); if that task stopped waiting, set_value touches
//            only the shared state and no runtime (completion_cell: no waiter registered). With the
//            queue empty, wait idle (idle_++) up to k_keep_alive; on a timeout with the queue still
//            empty, exit (live_--).
//
// Thread safety: instance() and submit() from any thread.
// Memory ordering: the lookup's fields written before submit happen-before the pool thread reads
// them (mu_); its result happens-before the awaiter's co_await returns (the promise).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <coreio/future.hpp>
#include <coreio/net/endpoint.hpp>

namespace coreio::detail {

/// One getaddrinfo call and where its result goes. Shared by the awaiting task and the pool.
struct lookup {
  lookup(std::string h, std::uint16_t p) : host(std::move(h)), port(p) {}
  const std::string host;
  const std::uint16_t port;
  /// The result: the addresses, or a std::system_error naming the host.
  promise<std::vector<net::endpoint>> result;
  /// Set by the awaiting task when it stops waiting (cancelled, timed out) before the result came;
  /// read by the pool thread before it starts the call. Relaxed on both sides: a skip is an
  /// optimisation only (a lookup that runs anyway just has its result dropped), and nothing else is
  /// published through the flag.
  std::atomic<bool> abandoned{false};
};

class resolver_pool {
 public:
  /// An idle thread exits after this long without a lookup.
  static constexpr std::chrono::seconds k_keep_alive{10};

  /// The process's pool (created on first use, never destroyed).
  static resolver_pool& instance();

  /// Queues l; a pool thread runs it. Throws std::system_error if no thread runs and none can be
  /// started (l is not queued then). Any thread.
  void submit(std::shared_ptr<lookup> l);

 private:
  resolver_pool() = default;
  void thread_main();

  // Guards everything below.
  std::mutex mu_;
  // Idle threads wait here for a lookup.
  std::condition_variable work_cv_;
  // Lookups not started, oldest first.
  std::deque<std::shared_ptr<lookup>> queue_;
  // Threads started and not exited.
  std::size_t live_ = 0;
  // Threads waiting on work_cv_.
  std::size_t idle_ = 0;
};

/// Runs getaddrinfo for l and sets its promise (addresses or a std::system_error). Pool thread.
void run_lookup(lookup& l) noexcept;

}  // namespace coreio::detail
