// coreio/detail/wait_list.hpp — the intrusive FIFO of suspended waiters behind every sync primitive.
//
// A waiter_node lives in the awaiter, that is in the suspended coroutine's frame: waiting allocates
// nothing. Each primitive owns one detail::spinlock and one or more wait_lists; the lock guards the
// lists, every node's `state`, and the primitive's own bookkeeping (count, items, flag).
//
// Node states (all reads and writes under the primitive's spinlock):
//   init      set up, not in a list yet (the awaiter is inside await_suspend).
//   queued    in a list; whoever unlinks it (a granter or the canceller) resumes the coroutine.
//   granted   the granter handed the resource over (lock, permit, item, wake-up) and resumes it.
//   cancelled the canceller unlinked it (or saw it in init) and resumes it / await_suspend sees it.
//   closed    the primitive was shut under the waiter: a queue's shutdown() (await_resume throws
//             queue_closed) or a barrier's abort() / reset() (it throws broken_barrier).
// Only queued -> granted / cancelled / closed and init -> cancelled happen after publication; a
// node leaves `queued` exactly once, so exactly one thread resumes the coroutine.
//
// Protocol of one wait (waiter_base::suspend, called from await_suspend):
//   1. If the cancel scope is already cancelled: do not suspend; await_resume throws cancelled_error.
//   2. fn = cancel function; scope->arm(node). If arm refuses (cancelled meanwhile): as in 1.
//   3. Lock. If state == cancelled (the cancel function ran between 2 and 3): unlock, do not suspend.
//   4. Still under the lock, attempt the operation (the primitive's `attempt`). If it completed
//      (granted or closed): unlock, wake what the attempt collected, do not suspend.
//   5. Else push the node at the back, state = queued, unlock, return true (suspend). After this
//      unlock nothing of the node or the awaiter may be touched: another thread may resume the
//      coroutine and free the frame at once.
// Cancel function (any thread, from cancel_scope::cancel): lock; queued -> unlink, state =
//   cancelled, unlock, schedule the coroutine; init -> state = cancelled, unlock (step 3 sees it);
//   granted / closed -> unlock, nothing (the granter resumes it; the sticky cancel hits the next
//   suspension point).
// Granter (release/set/put/notify/close, any thread): under the lock unlink waiters, hand each its
//   resource, state = granted, collect them in a wake_list; after unlocking wake_list::wake_all()
//   schedules them. A coroutine is never scheduled while the spinlock is held, and a collected
//   node's `next` is read before the node is scheduled (after that it may already be freed).
// Budget (detail/coop.hpp): an operation that completes without suspending, in await_ready (ready())
//   or in step 4, spends one unit of the task's budget; when it is spent the operation still
//   completes, and the task then yields (goes to the back of the run queue) before resuming.
// await_resume: disarm the node if it was armed (waits for a canceller still inside fn, so the
//   node outlives every use), then act on the state.
//
// Memory ordering: a granted or cancelled waiter is resumed through detail::schedule, whose queue
// hand-off orders everything the waking thread did before schedule() before the resumed coroutine
// runs; the state written under the lock is therefore visible to await_resume without the lock.
//
// Thread safety: every member of wait_list and every node field marked "guarded" requires the
// owning primitive's spinlock.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

#include <coreio/detail/cancel_scope.hpp>
#include <coreio/detail/coop.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/detail/spinlock.hpp>
#include <coreio/errors.hpp>

namespace coreio::detail {

enum class wait_state : std::uint8_t { init, queued, granted, cancelled, closed };

class wait_list;

/// One suspended (or suspending) waiter. Lives in the awaiter; never copied, and moved only before
/// it is first awaited (so that an awaitable can be handed to wait_for, shield, spawn, ...).
struct waiter_node : cancel_node {
  /// Neighbours in the list; guarded. `next` also chains a wake_list after unlinking.
  waiter_node* prev = nullptr;
  waiter_node* next = nullptr;
  /// The coroutine to resume and the runtime it ran on when it suspended. Written before the node
  /// is published (arm / push under the lock), read by whoever resumes it.
  std::coroutine_handle<> handle{};
  runtime_impl* rt = nullptr;
  /// The primitive's lock and the list the node waits in; set before publication.
  spinlock* lock = nullptr;
  wait_list* list = nullptr;
  /// See the file comment; guarded.
  wait_state state = wait_state::init;
  /// Guarded. A permit_core handed this waiter a permit from its queue (detail/permit_core.hpp):
  /// its await_resume reports that it has resumed.
  bool handed = false;

  waiter_node() noexcept = default;
  /// Movable until first awaited (it is then in no list and in state init): a fresh node.
  waiter_node(waiter_node&& o) noexcept : cancel_node(std::move(o)) {}
  waiter_node& operator=(const waiter_node&) = delete;
};

/// Intrusive doubly-linked FIFO of waiter_nodes. Every member requires the primitive's spinlock.
class wait_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  waiter_node* front() const noexcept { return head_; }

  void push_back(waiter_node* n) noexcept {
    n->next = nullptr;
    n->prev = tail_;
    if (tail_ != nullptr) tail_->next = n;
    else head_ = n;
    tail_ = n;
    ++size_;
  }

  /// Unlinks and returns the first node, or null.
  waiter_node* pop_front() noexcept {
    waiter_node* n = head_;
    if (n != nullptr) erase(n);
    return n;
  }

  /// Unlinks n, which must be in this list.
  void erase(waiter_node* n) noexcept {
    if (n->prev != nullptr) n->prev->next = n->next;
    else head_ = n->next;
    if (n->next != nullptr) n->next->prev = n->prev;
    else tail_ = n->prev;
    n->prev = n->next = nullptr;
    --size_;
  }

 private:
  waiter_node* head_ = nullptr;
  waiter_node* tail_ = nullptr;
  std::size_t size_ = 0;
};

/// Waiters unlinked under the lock, to be scheduled after it is released. A local of the granter.
class wake_list {
 public:
  wake_list() noexcept = default;
  wake_list(const wake_list&) = delete;
  wake_list& operator=(const wake_list&) = delete;
  ~wake_list() { wake_all(); }

  /// Under the lock: n is unlinked and its state is final (granted / cancelled / closed).
  void push(waiter_node* n) noexcept {
    n->next = nullptr;
    if (tail_ != nullptr) tail_->next = n;
    else head_ = n;
    tail_ = n;
  }
  /// Moves every node of l into this list, setting each one's state to s. Under the lock.
  void take_all(wait_list& l, wait_state s) noexcept {
    while (waiter_node* n = l.pop_front()) {
      n->state = s;
      push(n);
    }
  }
  bool empty() const noexcept { return head_ == nullptr; }

  /// After the lock is released: schedules every collected coroutine, in order.
  void wake_all() noexcept {
    waiter_node* n = std::exchange(head_, nullptr);
    tail_ = nullptr;
    while (n != nullptr) {
      // Safety: read everything needed before schedule(); once scheduled, the coroutine may run
      // on another worker and free the frame holding n.
      waiter_node* next = n->next;
      runtime_impl* rt = n->rt;
      std::coroutine_handle<> h = n->handle;
      schedule(rt, h);
      n = next;
    }
  }

 private:
  waiter_node* head_ = nullptr;
  waiter_node* tail_ = nullptr;
};

/// The cancel function of a plain waiter (steps in the file comment). Any thread.
inline void cancel_waiter(cancel_node* c) noexcept {
  auto* n = static_cast<waiter_node*>(c);
  n->lock->lock();
  switch (n->state) {
    case wait_state::queued: {
      n->list->erase(n);
      n->state = wait_state::cancelled;
      runtime_impl* rt = n->rt;
      std::coroutine_handle<> h = n->handle;
      n->lock->unlock();
      // Safety: n is unlinked and cancelled; only this thread resumes it, and its frame lives
      // until it runs (and then disarm waits for cancel() to finish with n).
      schedule(rt, h);
      return;
    }
    case wait_state::init:
      n->state = wait_state::cancelled;
      break;
    case wait_state::granted:
    case wait_state::cancelled:
    case wait_state::closed:
      break;
  }
  n->lock->unlock();
}

/// The awaiter side of the protocol: a waiter_node plus its cancel registration.
struct waiter_base : waiter_node {
  cancel_scope* scope = nullptr;
  bool armed = false;
  /// ready() completed the operation but the budget was spent: suspend() yields first thing.
  bool yield_pending = false;

  /// For await_ready: s is the outcome of trying the operation at once (init: it must wait).
  /// Returns true if the task may go on without suspending; false if it must wait, or if the
  /// operation completed but the budget is spent (then suspend() yields).
  bool ready(wait_state s) noexcept {
    state = s;
    if (s == wait_state::init) return false;
    if (coop_take()) return true;
    yield_pending = true;
    return false;
  }

  /// Steps 1-5 of the file comment. `attempt(wake_list&)` runs under the lock and returns
  /// wait_state::granted or ::closed if the operation completed, ::init if the caller must wait.
  /// Returns true to suspend. `site`: what the task waits on (detail/wait_site.hpp). `cancel_fn`
  /// defaults to cancel_waiter.
  template <class P, class Attempt>
  bool suspend(std::coroutine_handle<P> h, spinlock& lk, wait_list& l, const wait_site& site,
               Attempt&& attempt, void (*cancel_fn)(cancel_node*) = &cancel_waiter) {
    if (yield_pending) {
      yield_to_back(h);  // completed in await_ready; *this may be resumed from here on
      return true;
    }
    scope = scope_of(h);
    handle = h;
    rt = this_runtime();
    lock = &lk;
    list = &l;
    if (scope->cancelled()) {
      state = wait_state::cancelled;
      return false;
    }
    fn = cancel_fn;
    scope->note_wait(&site);
    if (!scope->arm(this)) {
      state = wait_state::cancelled;
      return false;
    }
    armed = true;
    wake_list wake;
    std::unique_lock<spinlock> g(lk);
    if (state == wait_state::cancelled) return false;
    wait_state s;
    try {
      s = attempt(wake);
    } catch (...) {
      g.unlock();
      finish();
      throw;
    }
    if (s != wait_state::init) {
      state = s;
      g.unlock();
      wake.wake_all();
      if (coop_take()) return false;
      yield_to_back(h);  // budget spent: the operation is done, the task goes behind the others
      return true;
    }
    l.push_back(this);
    state = wait_state::queued;
    return true;  // after g unlocks, *this belongs to whoever dequeues it
  }

  /// The first thing await_resume does: disarms; returns the final state.
  wait_state finish() noexcept {
    if (armed) {
      scope->disarm(this);
      armed = false;
    }
    return state;
  }
};

}  // namespace coreio::detail
