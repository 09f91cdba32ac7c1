// coreio/detail/timeout_state.hpp — the state of one timeout_scope: its deadline, its one timer
// entry, and who may still touch it while its body runs.
//
// A timeout_scope (coreio/timeout.hpp) runs one body B: a task started inline as an independent
// child, under a cancel scope of its own, by the awaitable in the awaiting task P's frame. Its
// deadline is one timer_entry E, embedded here and reused by every reschedule. Every field below is
// guarded by one spinlock: the critical sections are a few stores, a compare-exchange on E and a
// heap insert or erase (and, for a reschedule from a plain thread, a wake-up post), and a
// reschedule is rare, so one lock is simpler to argue than a state word.
//
// Phases (phase_, only forwards):
//   created -> entered   run() was awaited (a second run() is a usage error). A caller that was
//                        already cancelled never starts B: the scope stays entered.
//   entered -> running   start(), in P's await_suspend, just before B runs.
//   running -> ended     finish_body(), at B's final suspend.
//   A reschedule before running only records the deadline; after ended it changes nothing.
//
// Holds: the parties that may still touch this state or B's frame while B runs, counted as the
// shares of the awaitable's child_join (detail/child_join.hpp): B itself (from start() to its final
// suspend); E while it is armed (in a queue, or popped and being fired); and each thread that
// cancels B outside the lock (E's on_done, a reschedule to a due time). A hold is taken
// (child_join::add_share) only under the lock while phase_ is running, that is while B's own hold
// is there, so the count never rises again from zero. Whoever drops the last hold resumes P: B by
// symmetric transfer from its final suspend, anyone else by scheduling it
// (child_join::drop_share_and_resume); P then destroys B's frame and later this state, so nobody
// touches either after dropping its hold.
//
// E's life (the claims of time/timer.cpp: pending -> fired or pending -> cancelled, each won once):
//   arm       (start, reschedule) E set pending with the new deadline and inserted into the calling
//             worker's queue, or, from a thread that is not a worker of B's runtime, into the queue
//             of the worker B started on, which is woken to re-arm its wake-up (timer_insert_on).
//   take back (reschedule, finish_body) claim E cancelled; if that wins, erase it: E is then in no
//             queue and seen by no firer, so it may be armed again. If it loses, E has fired: its
//             on_done is on its way (E's hold keeps the state), and the deadline has expired.
//   fire      (on_timer, on the thread that won `fired`: a worker, or the runtime's monitor when
//             E's worker is stuck in a long poll) marks the scope expired and, if B still runs,
//             cancels B's scope, then drops E's hold.
//   A deadline already due (at start or in a reschedule) is not armed: it fires at once on the
//   calling thread (fire_now), with a hold of its own for the cancel.
// Exactly one firing cancels B: E is armed again only after a take-back that won, and nothing is
// armed or fired once expired_ is set (set by every firing, and by a take-back that lost).
// A reschedule racing with E's firing: the claim decides. Won: the new deadline replaces E's, no
// timeout. Lost: reschedule returns false, expired() is already true, and E's on_done cancels B.
// Nothing fires after the scope has ended: finish_body takes E back, or, if E fired, P waits
// (through E's hold) for its on_done, which sees phase ended and leaves B alone.
//
// Memory ordering: the lock's acquire/release orders every field between the threads above; P
// reads its flags under the lock; B's result is published to P by the countdown (child_join's acq_rel
// drops, the last one on the thread that resumes P or before its run-queue push). E's fields are written while E is in no queue and published to
// firers by the queue's lock on insert.
//
// Thread safety: reschedule, when, expired from any thread; enter, start and finish_body from the
// awaitable that runs B (P's await_ready / await_suspend on a worker, B's final suspend, which
// drops B's hold itself after finish_body).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <optional>

#include <coreio/detail/cancel_scope.hpp>
#include <coreio/detail/child_join.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/detail/spinlock.hpp>
#include <coreio/detail/timer_entry.hpp>
#include <coreio/errors.hpp>
#include <coreio/spawn.hpp>

namespace coreio::detail {

class timeout_state {
 public:
  using time_point = steady_clock::time_point;

  explicit timeout_state(std::optional<time_point> when) noexcept : deadline_(when) {
    entry_.self = this;
    entry_.on_done = &on_timer;
  }
  timeout_state(const timeout_state&) = delete;
  timeout_state& operator=(const timeout_state&) = delete;

  /// The deadline, nullopt for none. Any thread.
  std::optional<time_point> when() const noexcept {
    std::lock_guard<spinlock> g(lock_);
    return deadline_;
  }

  /// Whether the deadline has fired (the body was running or about to run). Any thread.
  bool expired() const noexcept {
    std::lock_guard<spinlock> g(lock_);
    return expired_;
  }

  /// Whether this deadline cancelled the body. P, after resuming.
  bool timed_out() const noexcept {
    std::lock_guard<spinlock> g(lock_);
    return timed_out_;
  }

  /// Sets the deadline (nullopt: none). True if it took effect; false once the deadline has fired
  /// or the body has ended (nothing changes then). Any thread; may throw bad_alloc (heap growth),
  /// leaving no deadline armed.
  bool reschedule(std::optional<time_point> when) {
    std::unique_lock<spinlock> lk(lock_);
    switch (phase_) {
      case phase::created:
      case phase::entered:
        deadline_ = when;
        return true;
      case phase::ended:
        return false;
      case phase::running:
        break;
    }
    if (expired_) return false;
    if (armed_ && !take_back()) {
      expired_ = true;  // E fired first; its on_done cancels the body
      return false;
    }
    deadline_ = when;
    arm(lk);  // may unlock lk (a due deadline fires now); touches nothing after its last hold
    return true;
  }

  /// The awaitable's await_ready: a scope runs one body. Throws usage_error the second time.
  void enter() {
    std::lock_guard<spinlock> g(lock_);
    if (phase_ != phase::created) throw_usage("a coreio::timeout_scope was entered twice");
    phase_ = phase::entered;
  }

  /// P's await_suspend, just before B starts: arms the deadline (or fires it, if due). `join` is the
  /// awaitable's countdown, holding B's share. Worker only. A failed heap allocation for E
  /// terminates (as it would in the scheduler).
  void start(cancel_scope* body, child_join* join, runtime_impl* rt) noexcept {
    std::unique_lock<spinlock> lk(lock_);
    body_ = body;
    join_ = join;
    rt_ = rt;
    home_ = static_cast<std::uint32_t>(current_worker());
    phase_ = phase::running;
    arm(lk);
  }

  /// B's final suspend, before B drops its own hold: ends the deadline (takes E back, or, if E
  /// fired, leaves E's on_done to drop E's hold).
  void finish_body() noexcept {
    std::lock_guard<spinlock> g(lock_);
    phase_ = phase::ended;
    if (armed_ && !take_back()) expired_ = true;  // E fired; its on_done will drop E's hold
  }

 private:
  enum class phase : std::uint8_t { created, entered, running, ended };

  struct deadline_entry : timer_entry {
    timeout_state* self = nullptr;
  };

  /// Locked, E armed. Claims E cancelled and erases it; true if that won (E's hold is dropped).
  bool take_back() noexcept {
    if (!timer_claim_cancelled(&entry_)) return false;
    timer_erase(&entry_);
    armed_ = false;
    (void)join_->drop_share();  // E's; B's hold remains: never the last
    return true;
  }

  /// Locked, running, E not armed, not expired: arms deadline_, or fires it now if it is due (then
  /// lk is unlocked on return).
  void arm(std::unique_lock<spinlock>& lk) {
    if (!deadline_ || *deadline_ == time_point::max()) return;  // none, or never
    if (*deadline_ <= steady_clock::now()) {
      fire_now(lk);
      return;
    }
    entry_.deadline = *deadline_;
    // Relaxed: E is in no queue (never armed, or taken back); the queue's lock publishes the
    // insert, and every claim on E happens after it.
    entry_.state.store(timer_entry::pending, std::memory_order_relaxed);
    if (this_runtime() == rt_) timer_insert(&entry_);
    else timer_insert_on(rt_, home_, &entry_);
    armed_ = true;
    join_->add_share();  // E's
  }

  /// Locked, running, not expired, E not armed: the deadline has passed. Cancels B on this thread
  /// under a hold of its own; lk is unlocked on return.
  void fire_now(std::unique_lock<spinlock>& lk) noexcept {
    expired_ = true;
    timed_out_ = true;
    join_->add_share();  // this thread's, for the cancel
    cancel_scope* body = body_;
    child_join* join = join_;
    runtime_impl* rt = rt_;
    lk.unlock();
    body->cancel();  // a cancel fn never takes this lock: no deadlock, and B may end meanwhile
    join->drop_share_and_resume(rt);  // this state may be gone from here on
  }

  /// E's on_done, on the thread that won `fired` (never with fired == false: the scope takes E back
  /// itself and never through timer_cancel, the only caller that passes false).
  static void on_timer(timer_entry* e, bool) noexcept {
    timeout_state* s = static_cast<deadline_entry*>(e)->self;
    std::unique_lock<spinlock> lk(s->lock_);
    s->armed_ = false;
    s->expired_ = true;
    child_join* join = s->join_;
    runtime_impl* rt = s->rt_;
    if (s->phase_ == phase::running) {
      s->timed_out_ = true;
      cancel_scope* body = s->body_;
      lk.unlock();
      body->cancel();  // under E's hold
    } else {
      lk.unlock();
    }
    join->drop_share_and_resume(rt);  // E's hold; this state may be gone from here on
  }

  mutable spinlock lock_;
  // Everything below: guarded by lock_.
  // The deadline; nullopt for none.
  std::optional<time_point> deadline_;
  // E, armed while armed_.
  deadline_entry entry_{};
  // B's cancel scope, the countdown of holds that resumes P (file comment), the runtime B runs on
  // and the worker it started on. Set by start().
  cancel_scope* body_ = nullptr;
  child_join* join_ = nullptr;
  runtime_impl* rt_ = nullptr;
  std::uint32_t home_ = 0;
  phase phase_ = phase::created;
  // E is in a queue, or popped and not yet through on_timer; it holds a hold.
  bool armed_ = false;
  // The deadline has fired (expired() is true); never unset.
  bool expired_ = false;
  // This deadline cancelled B (at most once); never unset.
  bool timed_out_ = false;
};

}  // namespace coreio::detail
