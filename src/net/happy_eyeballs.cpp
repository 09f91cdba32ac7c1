// net/happy_eyeballs.cpp — the connection race of RFC 8305 (protocol: happy_eyeballs.hpp).
#include "net/happy_eyeballs.hpp"

#include <coreio/join_handle.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/queue.hpp>
#include <coreio/wait_for.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

namespace coreio::detail {

std::vector<generic_stream::endpoint> interleave_families(
    std::vector<generic_stream::endpoint> eps) {
  if (eps.size() < 3 &&
      (eps.size() < 2 || eps[0].protocol().family() != eps[1].protocol().family())) {
    return eps;  // nothing to reorder
  }
  const int first = eps.front().protocol().family();
  std::vector<generic_stream::endpoint> mine, others, out;
  for (auto& e : eps) (e.protocol().family() == first ? mine : others).push_back(std::move(e));
  out.reserve(mine.size() + others.size());
  for (std::size_t i = 0; i < mine.size() || i < others.size(); ++i) {
    if (i < mine.size()) out.push_back(std::move(mine[i]));
    if (i < others.size()) out.push_back(std::move(others[i]));
  }
  return out;
}

namespace {

/// What the racing tasks share; each holds it through a shared_ptr, so it outlives all of them.
struct race {
  explicit race(std::vector<generic_stream::endpoint> e)
      : eps(std::move(e)), sockets(eps.size()), errors(eps.size()) {}
  // The addresses, in race order. Read-only once the race starts.
  const std::vector<generic_stream::endpoint> eps;
  // sockets[i]: attempt i's socket, opened by the parent before it spawns the attempt; moved out by
  // the parent for the winner once the attempt has put its index (its last use of it).
  std::vector<stream_socket_ptr> sockets;
  // errors[i]: attempt i's outcome, written by the attempt before it puts i on `ended`.
  std::vector<std::error_code> errors;
  // Indexes of the attempts that ended (connected or failed), in the order they ended. Unbounded:
  // try_put never fails. Its hand-off orders errors[i] before the parent reads it.
  queue<std::size_t> ended;
};

task<void> attempt(std::shared_ptr<race> r, std::size_t i) {
  const std::error_code ec = co_await connect_op(*r->sockets[i], r->eps[i]);
  r->errors[i] = ec;
  r->ended.try_put(i);
}

task<std::size_t> next_ended(race* r) { co_return co_await r->ended.get(); }

/// Cancels the attempts still running when the race is left early (the caller cancelled).
struct cancel_on_exit {
  std::vector<join_handle<void>>* running;
  ~cancel_on_exit() {
    for (auto& h : *running) {
      if (h.valid()) h.cancel();
    }
  }
};

}  // namespace

task<stream_socket_ptr> happy_eyeballs_connect(std::vector<generic_stream::endpoint> eps,
                                               std::chrono::milliseconds delay, int on_worker) {
  const std::size_t n = eps.size();
  auto r = std::make_shared<race>(std::move(eps));
  std::vector<join_handle<void>> running(n);
  cancel_on_exit guard{&running};
  std::size_t next = 0;     // the next address to try
  std::size_t pending = 0;  // attempts started and not ended
  std::error_code last = std::make_error_code(std::errc::host_unreachable);

  // Starts the next attempt whose socket opens; false if none is left.
  auto start_next = [&]() -> bool {
    while (next < n) {
      const std::size_t i = next++;
      try {
        r->sockets[i] = open_stream_socket(worker_for(on_worker, this_worker()),
                                           r->eps[i].protocol(), "coreio::net: open socket");
      } catch (const std::system_error& e) {
        last = e.code();
        continue;
      }
      running[i] = spawn(attempt(r, i));
      ++pending;
      return true;
    }
    return false;
  };

  std::optional<std::size_t> winner;
  start_next();
  while (pending > 0) {
    std::optional<std::size_t> ended;
    if (next < n) {
      try {
        ended = co_await wait_for(next_ended(r.get()), delay);
      } catch (const timeout_error&) {
        // The head start is over: race the next address too.
      }
      if (!ended) {
        start_next();
        continue;
      }
    } else {
      ended = co_await next_ended(r.get());
    }
    --pending;
    if (!r->errors[*ended]) {
      winner = *ended;
      break;
    }
    last = r->errors[*ended];
    start_next();  // a failure starts the next attempt at once
  }
  if (!winner) throw std::system_error(last);

  // The losers: cancel them all first, then wait for each, so none outlives connect.
  for (std::size_t i = 0; i < n; ++i) {
    if (i != *winner && running[i].valid()) running[i].cancel();
  }
  for (auto& h : running) {
    if (!h.valid()) continue;
    try {
      co_await h;
    } catch (...) {
      // cancelled_error from a loser (or a failure it had already recorded): nothing to report.
    }
  }
  co_return std::move(r->sockets[*winner]);
}

}  // namespace coreio::detail
