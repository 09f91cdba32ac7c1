// coreio/detail/gather_core.hpp — the fork-join machinery shared by the gather forms.
//
// Three modes share it (fixed at construction):
//   all       gather: the first child that fails wins; the others are cancelled; P rethrows it.
//   settled   gather_settled: nobody wins, nothing is cancelled; P reads every outcome.
//   any       when_any: the first child to end (value or exception) wins; the others are cancelled.
//
// Protocol: detail/child_join.hpp's, with P awaiting N children (task<...> frames owned by the
// awaitable in P's frame). The core keeps no array of the children: the awaitable hands start() an
// accessor and a static cancel function, so a gather of a vector allocates nothing beyond the
// children's frames and its result. What is particular to gather:
//   1. start(): the node armed on P's scope cancels every child; it pushes children N-1..1 on the
//      worker's fork deque (stealable, child 1 on top, so the owner starts them in argument order)
//      and transfers control to child 0 inline (libfork's fork + call).
//   2. Each child, at its final suspend, calls child_done(): the winner (see the modes) is
//      recorded (CAS on winner_) and cancels its siblings; then it drops its share, and the last
//      child resumes P (child_join step 3). In mode any, a child that gives back what it took when
//      it loses (a queue get, a socket read: detail/as_task.hpp, await_giving_back) makes the same
//      CAS earlier, through claim_first(), once it has its value and before it returns it: a child
//      that lost gives the value back instead of returning it, and its child_done finds winner_
//      set; the winner's own child_done finds it set to itself and changes nothing.
//   3. P resumes in finish(): child_join's join_end, then it rethrows the first failure (mode all)
//      or returns the winner, or throws cancelled_error if the children were never started.
//
// Memory ordering: as child_join's; the winner CAS only has to pick one winner.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>

#include <coreio/detail/child_join.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/errors.hpp>

namespace coreio::detail {

enum class gather_mode : std::uint8_t { all, settled, any };

class gather_core : public child_join {
 public:
  std::coroutine_handle<> child_done(promise_base* c) noexcept final {
    if (mode_ == gather_mode::any || (mode_ == gather_mode::all && c->exception_)) {
      promise_base* expected = nullptr;
      // acq_rel: finish() reads the winner's exception_ after acquiring via the countdown anyway;
      // the CAS only has to pick one winner.
      if (winner_.compare_exchange_strong(expected, c, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
        cancel_(this, c);
      }
    }
    return drop_share();
  }
  bool claim_first(promise_base* c) noexcept final {
    if (mode_ != gather_mode::any) return true;
    promise_base* expected = nullptr;
    // acq_rel, as child_done's CAS on the same word (a child that claimed here finds itself there).
    if (winner_.compare_exchange_strong(expected, c, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
      cancel_(this, c);
      return true;
    }
    return expected == c;
  }

 protected:
  explicit gather_core(gather_mode mode = gather_mode::all) noexcept : mode_(mode) {}
  /// Movable until awaited (start() not called): a fresh core of the same mode.
  gather_core(gather_core&& o) noexcept : child_join(std::move(o)), mode_(o.mode_) {}
  ~gather_core() = default;

  void check_fresh() const {
    if (started_) throw_usage("a gather awaitable was awaited twice");
  }

  /// Cancels the scope of every child but `except` (null: every child). A static function of the
  /// awaitable, which owns the children; self is the awaitable's gather_core. Any thread.
  using cancel_fn = void (*)(gather_core* self, const promise_base* except) noexcept;

  /// Step 1, for n >= 1 children. `child(i)` gives child i: something with promise() (a
  /// promise_base) that converts to its std::coroutine_handle<> (a task's typed handle).
  template <class Child>
  std::coroutine_handle<> start(std::coroutine_handle<> parent, cancel_scope* scope, std::size_t n,
                                Child child, cancel_fn cancel) noexcept {
    started_ = true;
    cancel_ = cancel;
    n_ = static_cast<std::uint32_t>(n);
    if (!bind(parent, scope)) return parent;
    for (std::size_t i = 0; i < n; ++i) adopt(child(i).promise());
    set_shares(n);
    if (!arm(&cancel_children, wait_sites::gather, static_cast<std::int64_t>(n))) return parent;
    count_child_spawned(static_cast<std::uint32_t>(n));
    for (std::size_t i = n; i-- > 1;) push_fork(child(i));
    return transfer(child(0));
  }

  /// Step 3. Mode all: returns normally if every child succeeded, else rethrows the first failure.
  /// Modes settled and any: returns the winner (any) or null. Throws cancelled_error if the
  /// children were never started because P was already cancelled, or (settled) if P was cancelled.
  promise_base* finish() {
    join_end();
    // Every child has ended (they were launched: the node was armed); counted here at once rather
    // than in each child's child_done, a call per child on the fork-join hot path.
    count_child_completed(n_);
    // Relaxed: ordered by the acquire of the last share's fetch_sub, which happened-before P ran.
    promise_base* w = winner_.load(std::memory_order_relaxed);
    if (mode_ == gather_mode::all && w != nullptr) std::rethrow_exception(w->exception_);
    // Settled: a cancelled awaiter gets cancelled_error, not a list of cancelled outcomes (asyncio).
    if (mode_ == gather_mode::settled && parent_cancelled()) throw_cancelled();
    return w;
  }

 private:
  static void cancel_children(cancel_node* n) noexcept {
    auto* self = static_cast<gather_core*>(n);
    self->cancel_(self, nullptr);
  }

  // The awaitable's cancel function and its number of children; set by start().
  cancel_fn cancel_ = nullptr;
  std::uint32_t n_ = 0;
  // The first child that failed (all) or ended (any). Writers: children (CAS). Reader: P in finish().
  std::atomic<promise_base*> winner_{nullptr};
  bool started_ = false;
  gather_mode mode_;
};

}  // namespace coreio::detail
