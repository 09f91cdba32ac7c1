// coreio/detail/cancel_scope.hpp — the cancellation state of one thread of execution.
//
// A cancel_scope belongs to one sequential thread of execution: a spawned task, or one child of a
// gather. Coroutines awaited inline (`co_await some_task()`) share the scope of their awaiter. The
// scope holds a sticky `cancelled` flag and at most one armed cancel_node: the suspension point the
// thread of execution is parked at right now (a sleep, a future, a join, a gather's children).
//
// Protocol (owner = the thread of execution, which runs on one worker at a time):
//   1. arm(n): the owner publishes n in the slot, then reads the flag. If the flag is already set, it
//      tries to take n back; if it gets n back the suspension point reports "already cancelled" and
//      does not suspend. If a canceller took n first, n->fn runs (or ran) as for any cancel.
//   2. cancel() (any thread): sets the flag, then takes whatever node is armed and calls its fn, then
//      sets node->done. fn must be short and must not block: it claims the operation and schedules
//      the waiting coroutine, or forwards the cancel to a child.
//   3. disarm(n) (owner, after resumption): takes n back. If the slot no longer holds n, a canceller
//      took it; the owner spins until that canceller has set n->done, so n (which lives in the
//      suspended coroutine's frame) outlives every use by the canceller.
// Depth (trio issue 1235): a cancel function often cancels another scope (a join forwards the cancel
// to the awaited task, a gather to its children, wait_for to its child), which may forward again,
// a million levels down a spawn/join chain. Recursion would take the stack with it, so the nodes
// taken by cancels nested inside a cancel function on the same thread are queued on a thread-local
// list instead, and the outermost cancel() runs them one after the other (each node's fn, then its
// done). A queued node's done is still false, so its owner, if resumed meanwhile, waits in disarm
// and keeps the node's frame alive until its fn has run.
//
// Steps 1 and 2 are a Dekker pair (store slot / load flag against store flag / exchange slot): both
// sides use seq_cst so that at least one of them sees the other; the flag is then either seen by the
// owner or the node is seen by the canceller.
//
// What the owner waits on (detail/wait_site.hpp): every recording suspension point calls
// note_wait before arm; dump_tasks reads it with waits_on()/wait_arg()/waiting() from any thread.
//
// Thread safety: cancel(), cancelled(), waits_on(), wait_arg() and waiting() from any thread;
// arm/disarm/note_wait by the owner only.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include <coreio/detail/wait_site.hpp>

namespace coreio::detail {

/// A registered way to interrupt one suspension point; lives in the suspended coroutine's frame.
struct cancel_node {
  cancel_node() noexcept = default;
  /// Movable until armed (an awaitable is movable until first awaited): a fresh node, same fn.
  cancel_node(cancel_node&& o) noexcept : fn(o.fn) {}
  cancel_node& operator=(cancel_node&&) = delete;

  /// Called once, by the cancelling thread, with the node that was armed.
  void (*fn)(cancel_node*) = nullptr;
  /// Link in the cancelling thread's list of nodes whose fn is still to run (see "Depth").
  cancel_node* next_pending = nullptr;
  /// Set by the canceller after fn returned; read by disarm. Writer: canceller; reader: owner.
  /// Last, so that a derived class's leading small members (parent_link::armed_,
  /// detail/child_join.hpp) go into the tail padding after it: gather's awaitable, which lives in
  /// every fork-join frame, stays as small as it was before child_join.
  std::atomic<bool> done{false};
};

/// The cancelling thread's queue of taken nodes (see "Depth" above). Calling thread only.
struct cancel_drain {
  cancel_node* head = nullptr;
  cancel_node* tail = nullptr;
  bool running = false;
};
inline thread_local cancel_drain t_cancel_drain{};

/// Runs n->fn and marks n done; cancels nested inside fn are queued and run here, in order.
inline void run_cancel_node(cancel_node* n) noexcept {
  cancel_drain& d = t_cancel_drain;
  if (d.running) {
    n->next_pending = nullptr;
    if (d.tail != nullptr) d.tail->next_pending = n;
    else d.head = n;
    d.tail = n;
    return;
  }
  d.running = true;
  for (;;) {
    n->fn(n);
    // Release pairs with the acquire load in disarm(): fn's effects happen-before the owner goes
    // on. n may be freed from here on.
    n->done.store(true, std::memory_order_release);
    n = d.head;
    if (n == nullptr) break;
    d.head = n->next_pending;  // read before n's fn runs (and before n may be freed)
    if (d.head == nullptr) d.tail = nullptr;
  }
  d.running = false;
}

class cancel_scope {
 public:
  /// True once cancel() was called. Acquire pairs with the seq_cst exchange in cancel() so that what
  /// the canceller wrote before cancelling is visible to the code that observes the flag.
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }

  /// Owner only. Returns false, with nothing armed, if the scope is already cancelled.
  bool arm(cancel_node* n) noexcept {
    // Relaxed: n is published by the seq_cst store below; the canceller's exchange synchronises.
    n->done.store(false, std::memory_order_relaxed);
    // seq_cst: the store of the slot must be ordered before the load of the flag (StoreLoad), the
    // owner's half of the Dekker pair described in the file comment.
    slot_.store(n, std::memory_order_seq_cst);
    if (!cancelled_.load(std::memory_order_seq_cst)) return true;
    // Already cancelled. Take n back unless a canceller has it.
    cancel_node* expected = n;
    if (slot_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      return false;
    }
    return true;  // a canceller took n and runs n->fn: report as an armed node that gets cancelled
  }

  /// Owner only: arms n whether or not the scope is cancelled, for a wait that ignores
  /// cancellation but should show as a wait (waiting(), dump_tasks): n->fn must do nothing that
  /// matters. If the scope is already cancelled no canceller will take n (cancel() runs once);
  /// otherwise one may, as for arm(). Take it back with disarm.
  void park(cancel_node* n) noexcept {
    // Relaxed: n is published by the seq_cst store below.
    n->done.store(false, std::memory_order_relaxed);
    // seq_cst: as arm's store, so that a canceller that exchanges the slot sees n.
    slot_.store(n, std::memory_order_seq_cst);
  }

  /// Owner only, after the suspension point was resumed; waits for a canceller that holds n.
  void disarm(cancel_node* n) noexcept {
    cancel_node* expected = n;
    // acq_rel: on success nobody else saw n; on failure the acquire pairs with the canceller's
    // exchange and we wait below for its release of `done`.
    if (slot_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      return;
    }
    // Acquire pairs with the release store of done in cancel(): after it, the canceller no longer
    // touches n or the frame it lives in.
    while (!n->done.load(std::memory_order_acquire)) std::this_thread::yield();
  }

  /// Any thread. Idempotent; the first call interrupts the armed suspension point, if any.
  void cancel() noexcept {
    // seq_cst: the canceller's half of the Dekker pair (flag store before slot exchange).
    if (cancelled_.exchange(true, std::memory_order_seq_cst)) return;
    cancel_node* n = slot_.exchange(nullptr, std::memory_order_seq_cst);
    if (n == nullptr) return;
    run_cancel_node(n);  // fn, then done; iterative for cancels nested inside fn
  }

  /// Owner only, before arm: records what the coming suspension waits on (wait_site.hpp).
  void note_wait(const wait_site* site, std::int64_t arg = 0) noexcept {
    // Relaxed: the release store of the site below publishes it with the site.
    wait_arg_.store(arg, std::memory_order_relaxed);
    // Release: a reader that acquires this site sees this argument or a later one (a snapshot
    // taken while the owner moves on may pair a site with its next argument: a report, no more).
    waits_on_.store(site, std::memory_order_release);
  }
  /// The last recorded wait (null: none yet). Any thread; acquire pairs with note_wait's release.
  const wait_site* waits_on() const noexcept { return waits_on_.load(std::memory_order_acquire); }
  /// The argument recorded with it (after waits_on()). Any thread; relaxed: see note_wait.
  std::int64_t wait_arg() const noexcept { return wait_arg_.load(std::memory_order_relaxed); }
  /// True while a node is armed: the owner is parked at a suspension point (or about to be). Any
  /// thread; relaxed: a snapshot, no data is read through the pointer.
  bool waiting() const noexcept { return slot_.load(std::memory_order_relaxed) != nullptr; }

 private:
  // Writers: cancel() (any thread). Readers: the owner at every suspension point, anyone.
  std::atomic<bool> cancelled_{false};
  // Writers: arm/disarm (owner), cancel() (any thread, exchange). Holds the armed node or null.
  std::atomic<cancel_node*> slot_{nullptr};
  // Writer: the owner (note_wait). Readers: anyone (dump_tasks).
  std::atomic<const wait_site*> waits_on_{nullptr};
  std::atomic<std::int64_t> wait_arg_{0};
};

}  // namespace coreio::detail
