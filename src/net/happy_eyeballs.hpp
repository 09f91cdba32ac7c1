// net/happy_eyeballs.hpp — connecting to the first of several addresses that answers, as RFC 8305
// ("Happy Eyeballs Version 2") races them (tcp_stream::connect by name).
//
// Order (RFC 8305 section 4): the addresses interleaved by family, starting with the family of the
// first one (the resolver's preference, RFC 6724), one of each in turn ("First Address Family
// Count" 1); the order within a family is kept.
//
// Race (section 5), run by the calling task:
//   1. Start attempt 0: a socket of its family opened on the worker the caller runs on at that
//      moment (so every socket is opened on its owner's thread), and a spawned task
//      that connects it (connect_op) and then puts its index on the race's queue (its error first,
//      in race::errors; the queue hand-off orders that write before the parent's read).
//   2. Wait for the next index on the queue, for at most `delay` while addresses remain untried.
//      - Nothing within the delay: start the next attempt (the earlier ones go on); back to 2.
//      - An attempt failed: remember its error, start the next attempt at once; back to 2.
//      - An attempt connected: it wins. Cancel every other attempt still running and await each
//        (a cancelled connect aborts at once), so no attempt outlives connect. Return the winner's
//        socket. The losers' sockets are released with the race's state when the last attempt frame
//        and the caller's are gone; each is deleted on its owner's loop (destroy_on_owner).
//   3. No attempt left and none running: throw the last error.
// A socket that cannot even be opened (no IPv6 on this host) counts as an attempt that failed.
// If the calling task is cancelled (or throws) meanwhile, the attempts still running are cancelled
// on the way out (not awaited: they own their state through a shared_ptr and unwind by themselves).
#pragma once

#include <chrono>
#include <vector>

#include <coreio/task.hpp>

#include "net/sockets.hpp"

namespace coreio::detail {

/// The addresses in the order the race tries them (see the file comment).
std::vector<generic_stream::endpoint> interleave_families(
    std::vector<generic_stream::endpoint> eps);

/// Connects to the first of eps (in the given order; non-empty) that answers, racing them with
/// `delay` between starts; the winner's socket is owned by worker `on_worker` (modulo the worker
/// count), or with -1 by the worker the caller ran on when that attempt started. Throws
/// std::system_error with the last error if none connects, cancelled_error if the caller is
/// cancelled. Worker only.
task<stream_socket_ptr> happy_eyeballs_connect(std::vector<generic_stream::endpoint> eps,
                                               std::chrono::milliseconds delay, int on_worker);

}  // namespace coreio::detail
