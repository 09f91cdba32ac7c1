// src/http/stats.hpp — the server's counters (server_stats) and the process-wide registry of live
// servers and clients that http::metrics_text() renders (coreio/http/stats.hpp).
//
// server_counters / client_counters: written by every connection task / request, read by
// server::stats() / client::stats() and the registry. Sharded by the worker running the writer
// (counter_shard: current_worker() modulo `shards`, one cache line set per shard), so that writers
// on different workers do not bounce one line; each increment is a relaxed fetch_add (two workers
// may share a shard past `shards` workers; a non-worker thread uses the last shard). Relaxed:
// statistics that publish nothing; a snapshot sums the shards.
//
// Registry: a server_state or client_core holds a stats_registration as its last member (so it is
// unregistered first when the state dies); the registration keeps a snapshot function that reads
// the state. Register, unregister and render all take the registry's mutex, so a snapshot function
// never runs on a state being destroyed.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <variant>

#include <coreio/http/client.hpp>
#include <coreio/http/stats.hpp>
#include <coreio/spawn.hpp>

#include "http/deadline.hpp"

namespace coreio::http::detail {

/// The shard of counters the calling thread writes: its worker's index modulo `shards`, the last
/// shard off the runtime (see the file comment).
inline std::size_t counter_shard(std::size_t shards) noexcept {
  // -1 (not a worker) wraps to the last shard.
  return static_cast<unsigned>(coreio::current_worker()) % shards;
}

class server_counters {
 public:
  enum field : unsigned {
    requests,
    r1xx,
    r2xx,
    r3xx,
    r4xx,
    r5xx,
    accepted,
    closed,
    bytes_in,
    bytes_out,
    s400,
    s404,
    s408,
    s413,
    s414,
    s431,
    s500,
    send_timeouts,
    field_count
  };

  void add(field f, std::uint64_t n = 1) noexcept {
    mine().v[f].fetch_add(n, std::memory_order_relaxed);  // see the file comment
  }
  /// A response head with this status was written (100 Continue is not a response here).
  void response(int status) noexcept;
  /// A request's duration, head received to response ended.
  void duration(std::uint64_t ns) noexcept;
  server_stats snapshot() const noexcept;

 private:
  static constexpr std::size_t shards = 8;
  struct alignas(64) shard {
    std::array<std::atomic<std::uint64_t>, field_count> v{};
    std::array<std::atomic<std::uint64_t>, duration_histogram::buckets> buckets{};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  shard& mine() noexcept { return shards_[counter_shard(shards)]; }
  std::array<shard, shards> shards_{};
};

/// A client's counters (client_stats), sharded as server_counters: the requests of one client run
/// on every worker, and three or four of these go up per request.
///
/// Thread safety: add() and get() from any thread (get() sums relaxed loads: a snapshot that may
/// miss increments made meanwhile).
class client_counters {
 public:
  enum field : unsigned {
    requests,
    responses,
    failures,
    opened,
    reused,
    retries,
    redirects,
    timeouts,  // then one per phase, in phase order
    field_count = timeouts + phase_count
  };
  static field timeout_in(phase p) noexcept {
    return static_cast<field>(timeouts + static_cast<unsigned>(p));
  }

  void add(field f) noexcept {
    // Relaxed: see the file comment.
    shards_[counter_shard(shards)].v[f].fetch_add(1, std::memory_order_relaxed);
  }
  /// The sum over the shards.
  std::uint64_t get(field f) const noexcept;

 private:
  static constexpr std::size_t shards = 8;
  struct alignas(64) shard {
    std::array<std::atomic<std::uint64_t>, field_count> v{};
  };
  std::array<shard, shards> shards_{};
};

/// Keeps a live server's or client's snapshot function in the process registry while it exists.
class stats_registration {
 public:
  using source = std::variant<std::function<server_stats()>, std::function<client_stats()>>;
  explicit stats_registration(source s);
  ~stats_registration();
  stats_registration(const stats_registration&) = delete;
  stats_registration& operator=(const stats_registration&) = delete;

 private:
  std::uint64_t id_;
};

}  // namespace coreio::http::detail
