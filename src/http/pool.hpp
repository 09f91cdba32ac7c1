// src/http/pool.hpp — the client's connection pool: slot accounting (limit, limit_per_host),
// waiters served in order, idle keep-alive connections kept per worker.
//
// Slots. A slot is held from the moment a request decides to open a connection until that
// connection is closed; idle connections hold theirs. total_ and per_host_ count slots, under m_.
// Every closed connection (or failed connect) gives its slot back through closed_one().
//
// Idle connections live in shards, one per worker (index current_worker() modulo shard_count): a
// released connection goes to the shard of the worker that released it; a request looks in its
// own worker's shard first, then in the others. A shard has its own lock (a spinlock: its sections
// are a map lookup and a deque push or pop), so two workers reusing connections never touch the
// same lock; m_ is only taken to open, close or wait. An origin's queue stays in its shard when
// it empties (while the shard holds at most kept_empty_origins origins), so that a pool whose
// connections are all busy does not free and remake it on every request.
//
// Waiting. A request that finds no idle connection and no free slot queues a waiter (FIFO) under
// m_ and waits on the waiter's event. pump() (under m_) walks the waiters in order and serves each
// that can be served now: with an idle connection of its origin, a free slot, or, when only the
// total limit is full, the slot of an idle connection of another origin, which it closes (a waiter
// that cannot be served does not block the ones behind it for other origins). A fresh waiter (a
// retry, which must go out on a new connection) takes no idle connection: it gets a free slot, or
// the slot of an idle connection of its own origin (or, as above, of another), which pump closes.
// pump runs when a waiter queues, when a slot is freed, and when a connection is put back while
// waiters exist.
//
// The put-back race (a connection put back while a waiter queues). put_back pushes into a shard
// (under the shard's lock), then reads waiting_; a waiter increments waiting_ (under m_), then its
// pump scans the shards (under their locks). If the waiter's scan missed the connection, the
// scan's shard lock came before the push's (the spinlock's release unlock and acquire lock order
// them as a mutex would), so the push (and the load after it) happens after the increment, and put_back sees waiting_ > 0 and pumps. Either way the connection reaches it.
//
// Held connections. A response's body reader that must wait on its socket holds the connection
// (hold, on the shard of the worker it runs on: an uncontended lock, taken only by bodies that
// did not come whole with the head) until the connection leaves it. close() sets closing_, then
// closes every held connection under its shard's lock; hold reads closing_ under the same lock
// and closes a connection held after that itself. The closing is the stream's own (any thread:
// the read waiting on it ends with an error), and a reader unholds under the lock before it puts
// the connection back or closes and frees it, so close() never touches a freed connection.
//
// Cancellation. A waiter whose wait is cancelled (pool_wait timeout, the caller cancelled) takes
// m_ and either removes itself, or, if pump served it meanwhile, gives back what it got (the
// connection to the pool, or the slot).
//
// Thread safety: shared objects: safe (locks as above); acquire from tasks on any worker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <coreio/detail/spinlock.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/task.hpp>

#include "http/connection.hpp"
#include "http/deadline.hpp"

namespace coreio::http::detail {

/// What acquire() gives: an idle connection to reuse, or a slot to open a new one with.
struct pool_grant {
  std::unique_ptr<connection> conn;  ///< null: a slot is reserved for `key`; connect
  bool waited = false;               ///< queued for it
};

class pool {
 public:
  static constexpr std::size_t shard_count = 8;
  /// Origins whose idle queue a shard keeps when it empties (see take_idle).
  static constexpr std::size_t kept_empty_origins = 16;

  pool(std::size_t limit, std::size_t limit_per_host);
  ~pool();

  /// A connection or a slot for `key` (which must outlive the await). fresh: a slot to open a new
  /// connection with, never an idle one (a retry); at the limits, an idle connection is closed for
  /// its slot. retryable: the request may be retried on a new connection if a reused
  /// one fails before any response byte (connection::reusable_now). Throws http::error once
  /// closed, phase_timeout_error(pool_wait) when `wait` runs out.
  task<pool_grant> acquire(const std::string& key, bool fresh, bool retryable, limit wait);
  /// acquire()'s first step without a task: an idle connection of `key` that passes
  /// connection::reusable_now, or null (then acquire; expired ones found are closed). Throws
  /// http::error once closed.
  std::unique_ptr<connection> try_reuse(const std::string& key, bool retryable);
  /// A connection whose response ended cleanly and that may be reused: kept idle until
  /// idle_deadline (closed instead if the pool is closed). Any thread.
  void put_back(std::unique_ptr<connection> c) noexcept;
  /// Closes c and frees its slot. Any thread.
  void discard(std::unique_ptr<connection> c) noexcept;
  /// Frees a slot reserved for key that never got a connection (connect failed). Any thread.
  void closed_one(const std::string& key) noexcept;
  /// Closes the idle connections, fails the waiters, and closes the held connections (hold) so
  /// that the body reads waiting on them end; later acquires throw. Any thread.
  void close() noexcept;
  /// A connection that a response's body reader is about to wait on (body_reader::read_more):
  /// close() closes it too, so the read ends (aiohttp's session close closes the connections
  /// its responses hold as well). Once the pool is closing, closes it at once. unhold before the
  /// connection leaves the reader (put_back, discard). Any thread.
  void hold(connection* c) noexcept;
  void unhold(connection* c) noexcept;
  /// True once close() began. Any thread.
  bool closing() const noexcept { return closing_.load(std::memory_order_acquire); }

  std::size_t open() const noexcept;
  std::size_t idle() const noexcept { return idle_count_.load(std::memory_order_relaxed); }
  std::size_t waiting() const noexcept { return waiting_.load(std::memory_order_relaxed); }
  std::uint64_t closed_total() const noexcept { return closed_.load(std::memory_order_relaxed); }
  /// Times an acquire queued for a slot, however its wait ended (stats).
  std::uint64_t queued_total() const noexcept { return queued_.load(std::memory_order_relaxed); }

 private:
  struct waiter {
    waiter(std::string k, bool f) : key(std::move(k)), fresh(f) {}
    const std::string key;
    const bool fresh;  // served with a slot, never an idle connection (acquire's `fresh`)
    coreio::event ready;
    // Under m_: set by pump (or close) with what the waiter gets.
    bool served = false;
    bool failed = false;  // the pool closed
    std::unique_ptr<connection> conn;
  };
  struct shard {
    // A spinlock: a request takes its shard's twice (take_idle, put_back) for a map lookup and a
    // deque push or pop.
    coreio::detail::spinlock m;
    // Guarded by m: origin -> idle connections, oldest first.
    std::unordered_map<std::string, std::deque<std::unique_ptr<connection>>> idle;
    // Guarded by m: the held connections whose hold ran on this shard's worker (hold), a list
    // through connection::held_prev / held_next.
    connection* held = nullptr;
  };

  bool can_open_locked(const std::string& key) const;
  void reserve_locked(const std::string& key);
  void release_slot_locked(const std::string& key);
  /// An idle connection of key (newest first), or null; expired ones (by `now`) go to `dead`.
  std::unique_ptr<connection> take_idle(const std::string& key,
                                        std::vector<std::unique_ptr<connection>>& dead,
                                        std::chrono::steady_clock::time_point now);
  /// An idle connection of any origin but `not_key` (oldest first), or null.
  std::unique_ptr<connection> take_any_idle(const std::string& not_key);
  /// Serves waiters in order (file comment); fills, for after the unlock, `wake` (waiters served),
  /// `dead` (expired idle connections: discard them, which frees their slots) and `evicted` (idle
  /// connections closed to pass their slot to a waiter: only destroy them).
  void pump_locked(std::vector<std::shared_ptr<waiter>>& wake,
                   std::vector<std::unique_ptr<connection>>& dead,
                   std::vector<std::unique_ptr<connection>>& evicted);
  void withdraw(const std::shared_ptr<waiter>& w) noexcept;
  static void finish(std::vector<std::shared_ptr<waiter>>& wake,
                     std::vector<std::unique_ptr<connection>>& dead) noexcept;
  std::size_t shard_index() const noexcept;

  const std::size_t limit_;
  const std::size_t limit_per_host_;
  // Guards total_, per_host_, waiters_, closed_flag_.
  mutable std::mutex m_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_host_;
  std::list<std::shared_ptr<waiter>> waiters_;
  bool closed_flag_ = false;
  // Waiters queued. Written under m_; read by put_back without it (the put-back race in the file
  // comment): seq_cst store and load, which with the shard mutexes order the push against the scan.
  std::atomic<std::size_t> waiting_{0};
  // Idle connections in all shards; a hint to skip scanning and for stats. Relaxed: no order.
  std::atomic<std::size_t> idle_count_{0};
  // Connections closed since the start (stats). Relaxed counter.
  std::atomic<std::uint64_t> closed_{0};
  // Acquires queued since the start (stats). Relaxed counter.
  std::atomic<std::uint64_t> queued_{0};
  // Set by close(); put_back then discards. Release store in close(), acquire load in put_back.
  std::atomic<bool> closing_{false};
  std::unique_ptr<shard[]> shards_;
};

}  // namespace coreio::http::detail
