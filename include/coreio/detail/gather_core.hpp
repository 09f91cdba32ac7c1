// coreio/detail/gather_core.hpp — the fork-join machinery shared by the gather forms.
//
// Three modes share it (fixed at construction):
//   all       gather: the first child that fails wins; the others are cancelled; P rethrows it.
//   settled   gather_settled: nobody wins, nothing is cancelled; P reads every outcome.
//   any       when_any: the first child to end (value or exception) wins; the others are cancelled.
//
// Protocol (parent P awaits N children, all task<...> frames owned by the awaitable in P's frame):
//   1. start(): give each child its own cancel scope and this sink; arm a node on P's scope whose
//      fn cancels every child; push children N-1..1 on the worker's fork deque (stealable, child 1
//      on top, so the owner starts them in argument order) and transfer control to child 0 inline
//      (libfork's fork + call).
//   2. Each child, at its final suspend, calls child_done(): the winner (see the modes) is
//      recorded (CAS on winner_) and cancels its siblings; then remaining_ is
//      decremented. The child that takes it to zero resumes P by symmetric transfer, on whatever
//      worker it ran; the others return to their worker's loop and never touch *this again (P may
//      already be running and about to destroy it).
//   3. P resumes in finish(): disarms its node (waiting out a concurrent canceller), then rethrows
//      the first failure (mode all) or returns the winner, or throws cancelled_error if the
//      children were never started.
// Every child has ended before P resumes, so the children's frames (destroyed with the awaitable)
// are never freed under a running child.
//
// Memory ordering: each child's result is written before its acq_rel fetch_sub on remaining_; the
// last decrement acquires all of them, and P resumes on that same thread.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>

#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/stack_guard.hpp>
#include <coreio/errors.hpp>

namespace coreio::detail {

enum class gather_mode : std::uint8_t { all, settled, any };

class gather_core : public child_sink, public cancel_node {
 public:
  std::coroutine_handle<> child_done(promise_base* c) noexcept final {
    if (mode_ == gather_mode::any || (mode_ == gather_mode::all && c->exception_)) {
      promise_base* expected = nullptr;
      // acq_rel: finish() reads the winner's exception_ after acquiring via remaining_ anyway;
      // the CAS only has to pick one winner.
      if (winner_.compare_exchange_strong(expected, c, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < n_; ++i) {
          if (children_[i] != c) children_[i]->own_scope_.cancel();
        }
      }
    }
    count_child_completed();
    // acq_rel: release publishes this child's result; the last decrement acquires every result.
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) return parent_;
    return std::noop_coroutine();
  }

 protected:
  explicit gather_core(gather_mode mode = gather_mode::all) noexcept : mode_(mode) {}
  /// Movable until awaited (start() not called): a fresh core of the same mode.
  gather_core(gather_core&& o) noexcept : child_sink(), cancel_node(std::move(o)), mode_(o.mode_) {}
  ~gather_core() = default;

  void check_fresh() const {
    if (started_) throw_usage("a gather awaitable was awaited twice");
  }

  /// Step 1. `children` and `handles` hold n entries and outlive the await.
  std::coroutine_handle<> start(std::coroutine_handle<> parent, cancel_scope* scope,
                                promise_base* const* children, const std::coroutine_handle<>* handles,
                                std::size_t n) noexcept {
    started_ = true;
    parent_ = parent;
    scope_ = scope;
    children_ = children;
    n_ = n;
    if (scope->cancelled()) return parent;
    for (std::size_t i = 0; i < n; ++i) {
      children[i]->make_independent(completion_kind::gathered);
      children[i]->sink_ = this;
    }
    // Relaxed: published to the children by the release of the deque push below.
    remaining_.store(n, std::memory_order_relaxed);
    fn = &cancel_children;
    if (!scope->arm(this)) return parent;
    armed_ = true;
    count_child_spawned(static_cast<std::uint32_t>(n));
    for (std::size_t i = n; i-- > 1;) push_fork(handles[i]);
    return transfer(handles[0]);
  }

  /// Step 3. Mode all: returns normally if every child succeeded, else rethrows the first failure.
  /// Modes settled and any: returns the winner (any) or null. Throws cancelled_error if the
  /// children were never started because P was already cancelled, or (settled) if P was cancelled.
  promise_base* finish() {
    if (!armed_) throw_cancelled();
    scope_->disarm(this);
    // Relaxed: ordered by the acquire of the last fetch_sub, which happened on this thread.
    promise_base* w = winner_.load(std::memory_order_relaxed);
    if (mode_ == gather_mode::all && w != nullptr) std::rethrow_exception(w->exception_);
    // Settled: a cancelled awaiter gets cancelled_error, not a list of cancelled outcomes (asyncio).
    if (mode_ == gather_mode::settled && scope_->cancelled()) throw_cancelled();
    return w;
  }

 private:
  static void cancel_children(cancel_node* n) noexcept {
    auto* self = static_cast<gather_core*>(n);
    for (std::size_t i = 0; i < self->n_; ++i) self->children_[i]->own_scope_.cancel();
  }

  promise_base* const* children_ = nullptr;
  std::size_t n_ = 0;
  // Children still running. Writers: children (fetch_sub). Reader: the last child.
  std::atomic<std::size_t> remaining_{0};
  // The first child that failed (all) or ended (any). Writers: children (CAS). Reader: P in finish().
  std::atomic<promise_base*> winner_{nullptr};
  std::coroutine_handle<> parent_{};
  cancel_scope* scope_ = nullptr;
  bool armed_ = false;
  bool started_ = false;
  gather_mode mode_;
};

}  // namespace coreio::detail
