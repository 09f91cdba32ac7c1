// time/timer.cpp — a sleep's life, one named function per state transition.
//
// An entry (coreio/detail/timer_entry.hpp) is inserted `pending` into the timer queue of the worker
// its task runs on (timer_insert), or, from a thread that is not a worker, into a given worker's
// queue, which is then woken to re-arm its wake-up (timer_insert_on). Then exactly one of two
// transitions happens, each an acq_rel compare-exchange from `pending`, so that exactly one thread
// finishes the entry:
//   pending -> fired      timer_claim_fired, inside timer_fire_due, under the queue's lock while the
//                         entry is popped: by the owner worker between polls, or by the runtime's
//                         monitor when the owner is stuck in a long poll (sched/monitor.hpp).
//   pending -> cancelled  timer_claim_cancelled: by a canceller on any thread (timer_cancel), or by
//                         the sleeper itself when its cancel registration fails (time.hpp).
// The winner finishes the entry (timer_finish): resumes the sleeper on the entry's runtime, or
// calls on_done. The loser leaves the winner's state in place (the sleeper reads it on resuming).
// Claiming `fired` under the queue's lock matters: a cancelled entry's frame may be freed as soon
// as its canceller resumes it, so a firer may only touch entries still in the heap. For the same
// reason an entry its owner claimed `cancelled` and then erased is in no queue and seen by no
// firer: the owner may set it `pending` again and re-insert it (timeout_scope::reschedule does).
#include <coreio/time.hpp>

#include "runtime_impl.hpp"
#include "sched/worker.hpp"
#include "time/timer_queue.hpp"

namespace coreio::detail {

namespace {

bool timer_claim_fired(timer_entry* e) noexcept {
  std::uint8_t expected = timer_entry::pending;
  // acq_rel: the winner of pending -> x resumes the waiter; acquire sees the inserter's writes.
  return e->state.compare_exchange_strong(expected, timer_entry::fired, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
}

/// The end of an entry's life in the queue: resume the sleeper, or tell whoever set on_done. On the
/// thread that won the entry; e may be gone once this returns.
void timer_finish(timer_entry* e, bool fired) noexcept {
  if (e->on_done != nullptr) e->on_done(e, fired);
  // The winner's share (detail/timer_entry.hpp, timer_entry::shares): resume the sleeper only if its
  // await_suspend is done with it. e may be gone once scheduled: a thief can run the waiter.
  else if (e->drop_share()) schedule(e->rt, e->waiter);
}

}  // namespace

void timer_insert(timer_entry* e) {
  worker* w = this_worker();
  e->queue = &w->remote().timers();
  e->rt = &w->rt();
  e->queue->insert(e);
}

void timer_insert_on(runtime_impl* rt, std::uint32_t index, timer_entry* e) {
  worker_remote& w = rt->remote(index);
  e->queue = &w.timers();
  e->rt = rt;
  e->queue->insert(e);
  // A parked worker armed its wake timer for the deadline it saw before the insert; the post makes
  // its run_one() return (or its next one return at once) and the park re-reads next_deadline
  // (sched/park.cpp, steps 3-4). A busy worker fires the entry between polls as any other.
  w.wake();
}

bool timer_claim_cancelled(timer_entry* e) noexcept {
  std::uint8_t expected = timer_entry::pending;
  // acq_rel: as in timer_claim_fired. An entry that fired keeps `fired`.
  return e->state.compare_exchange_strong(expected, timer_entry::cancelled,
                                          std::memory_order_acq_rel, std::memory_order_acquire);
}

void timer_erase(timer_entry* e) noexcept { e->queue->erase(e); }

void timer_cancel(cancel_node* n) noexcept {
  auto* e = static_cast<timer_entry*>(n);
  if (!timer_claim_cancelled(e)) return;  // it fired first; the firer resumes the waiter
  e->queue->erase(e);
  timer_finish(e, false);
}

std::size_t timer_fire_due(timer_queue& q, std::chrono::steady_clock::time_point now,
                           owned_counter& fired) noexcept {
  std::size_t total = 0;
  constexpr std::size_t batch = 64;
  timer_entry* due[batch];
  for (;;) {
    const std::size_t n = q.pop_due(now, due, batch, &timer_claim_fired);
    // Counted first: the resumes below publish (release) what precedes them.
    if (n != 0) fired.add(n);
    // Finished after the lock is released: an on_done may cancel a child whose own sleep is in
    // this same queue.
    for (std::size_t i = 0; i < n; ++i) timer_finish(due[i], true);
    total += n;
    if (n < batch) return total;
  }
}

}  // namespace coreio::detail
