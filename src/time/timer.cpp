// time/timer.cpp — sleep_for / sleep_until on the worker's timer heap.
//
// An entry's state word decides who resumes the sleeping coroutine, exactly once:
//   pending -> fired      by the owner worker when the deadline passes (worker.cpp fire_timers);
//   pending -> cancelled  by a canceller (timer_cancel), on any thread.
// Whoever makes the transition (an acq_rel compare-exchange from pending) resumes the waiter; the
// loser does nothing and leaves the winner's state in place (the sleeper reads it on resuming).
// A canceller on another thread cannot touch the owner's heap, so it posts the removal and the
// resumption to the owner's event loop; the entry stays alive until then because only that posted
// handler will resume the coroutine that holds it.
#include <coreio/time.hpp>

#include "runtime_impl.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

void timer_insert(timer_entry* e) {
  worker* w = this_worker();
  e->owner = w;
  w->insert_timer(e);
}

void timer_erase(timer_entry* e) noexcept { e->owner->erase_timer(e); }

void timer_finish(timer_entry* e, bool fired) noexcept {
  if (e->on_done != nullptr) e->on_done(e, fired);
  else e->owner->push_local(e->waiter);  // e may be gone once pushed: a thief can run the waiter
}

void timer_cancel(cancel_node* n) noexcept {
  auto* e = static_cast<timer_entry*>(n);
  // A compare-exchange: an entry that fired keeps `fired` (its sleeper may be reading it).
  std::uint8_t expected = timer_entry::pending;
  if (!e->state.compare_exchange_strong(expected, timer_entry::cancelled, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    return;  // it fired first; the waiter resumes normally
  }
  worker* w = e->owner;
  if (this_worker() == w) {
    w->erase_timer(e);
    timer_finish(e, false);
  } else {
    w->post_timer_cancel(e);
  }
}

}  // namespace coreio::detail
