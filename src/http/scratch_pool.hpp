// src/http/scratch_pool.hpp — the HTTP server's per-request scratch (the request parser, the input
// buffer, the output buffer), lent to a plain-TCP connection only while it serves a request, from
// a free list per worker.
//
// Why: an idle keep-alive connection needs none of it, and with many connections the scratch a
// connection used a request ago has left the CPU's caches by its next request (cachegrind, 1
// worker, `wrk -c1000`, L2 modelled at 1 MiB: the parser, its fields and the buffers were 16 of
// a request's 40 L2 misses). Taken last-in first-out, the scratch a request gets is the one the
// worker's previous request has just given back. A TLS connection keeps its scratch: its idle
// read needs a buffer.
//
// Protocol: slot i is worker i's, touched only by code running on worker i's thread
// (this_worker()); so no lock and no atomic. A connection's task may run on another worker after
// a steal: it takes from and gives to the slot of the worker it runs on at that moment (the
// scratch is plain memory and may change slots). give() keeps at most k_keep per slot and passes
// the rest to the shared spares (under a spinlock), up to k_keep per worker, freeing beyond;
// take() tries its slot, then the spares, and makes a new scratch only when both are empty. Both
// run only on workers.
//
// Why the spares: a task stolen from the socket's owner takes its scratch on the thief and may
// give it back on the owner (a read the thief could not make, because the readiness was
// unconfirmed, is made by the owner's loop, which resumes the task there; stream.cpp, "Read
// readiness"). So scratch flows from the thieves' slots to the owner's: with 2 workers at
// `wrk -t1 -c1000`, when every stolen read went to the owner, the thief made a new scratch (a
// parser and an 8 KiB buffer, mimalloc faulting the pages in again after purging them) for 70k of
// the 84k requests it took in 4 s, and the owner freed 41k. Through the spares the owner's
// surplus goes back to the thief.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <coreio/detail/spinlock.hpp>

#include "net/read_buffer.hpp"
#include "parser.hpp"
#include "sched/worker.hpp"

namespace coreio::http::detail {

/// What a connection needs only while it serves a request.
struct request_scratch {
  explicit request_scratch(const parse_limits& limits) : p(parser::mode::request, limits) {}
  parser p;                        ///< reset between requests
  coreio::detail::read_buffer in;  ///< bytes read and not yet parsed
  std::string out;                 ///< responses not yet written
};

using scratch_ptr = std::unique_ptr<request_scratch>;

class scratch_pool {
 public:
  /// Scratch kept per worker: a worker serves one request at a time, so more are needed only while
  /// handlers that suspend overlap.
  static constexpr std::size_t k_keep = 16;

  /// workers: the runtime's worker count; limits: those of every parser made here.
  scratch_pool(std::size_t workers, parse_limits limits)
      : limits_(limits), slots_(std::make_unique<slot[]>(workers)), spare_cap_(k_keep * workers) {
    for (std::size_t i = 0; i < workers; ++i) slots_[i].free.reserve(k_keep);
    spare_.reserve(spare_cap_);
  }

  /// A scratch from this worker's list (the one given back last), else from the spares, else a
  /// new one. Throws std::bad_alloc if none is free and a new one cannot be made.
  scratch_ptr take() {
    std::vector<scratch_ptr>& free = here().free;
    if (free.empty()) {
      {
        std::lock_guard lock(spare_mu_);
        if (!spare_.empty()) {
          scratch_ptr s = std::move(spare_.back());
          spare_.pop_back();
          return s;
        }
      }
      return std::make_unique<request_scratch>(limits_);
    }
    scratch_ptr s = std::move(free.back());
    free.pop_back();
    return s;
  }

  /// Takes s back (its parser reset, in and out empty); s is null after.
  void give(scratch_ptr& s) noexcept {
    std::vector<scratch_ptr>& free = here().free;
    if (free.size() < k_keep) {
      free.push_back(std::move(s));  // capacity reserved: no allocation
      return;
    }
    {
      std::lock_guard lock(spare_mu_);
      if (spare_.size() < spare_cap_) {
        spare_.push_back(std::move(s));  // capacity reserved: no allocation
        return;
      }
    }
    s.reset();  // outside the lock
  }

 private:
  struct alignas(64) slot {  // a line of its own per worker: no false sharing
    std::vector<scratch_ptr> free;
  };

  slot& here() const noexcept { return slots_[coreio::detail::this_worker()->index()]; }

  parse_limits limits_;
  std::unique_ptr<slot[]> slots_;
  const std::size_t spare_cap_;
  alignas(64) coreio::detail::spinlock spare_mu_;  // guards spare_
  std::vector<scratch_ptr> spare_;
};

}  // namespace coreio::http::detail
