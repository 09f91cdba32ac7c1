// coreio/detail/completion_state.hpp — what as_completed's set (coreio/as_completed.hpp) shares
// with its tasks: a FIFO of outcomes in completion order and the one next() that may wait on it.
//
// Protocol: each spawned wrapper (completed_child) stores its outcome in the state's FIFO under a
// spinlock and, if a next() is waiting, hands it the front result and resumes it after unlocking.
// A next() (completed_next) arms its cancel node on its task's scope through parent_link
// (detail/child_join.hpp), then, under the spinlock, takes a ready result or registers as the
// waiter. Its states: init -> waiting -> granted or cancelled, every change under the spinlock. A
// waiting next() is withdrawn by its cancel node under the same spinlock, so a result is either
// handed to it or stays in the FIFO, never both, never lost. Unlike a join there is no countdown
// to the awaiter: every completion is a wake-up of its own.
//
// Memory ordering: every field is guarded by the spinlock; a granted next() is scheduled after the
// unlock that released its item, and a cancelled one after the canceller's unlock.
//
// Thread safety: the set and its awaitables are used by one task at a time; the wrappers run
// anywhere and hold a reference to the state, which outlives the set if they do.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <coreio/detail/child_join.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/sched_hooks.hpp>
#include <coreio/detail/spinlock.hpp>
#include <coreio/errors.hpp>
#include <coreio/outcome.hpp>
#include <coreio/task.hpp>

namespace coreio::detail {

template <class T>
struct completed_state {
  /// A next() awaiter's fields that push() uses; the awaiter is completed_next.
  struct waiter : parent_link {
    enum : std::uint8_t { init, waiting, granted, cancelled };
    // init -> waiting -> granted or cancelled (file comment); guarded by lock.
    std::uint8_t state = init;
    // The awaiting task and its runtime, for the wake-up.
    async_waiter rec{};
    // The result handed to this next(); set under lock.
    std::optional<outcome<T>> item;
    // The state this next() waits on.
    completed_state* owner = nullptr;
  };

  explicit completed_state(std::size_t n) noexcept : total(n) {}

  const std::size_t total;  // tasks in the set
  spinlock lock;
  std::deque<outcome<T>> ready;  // results not yet handed out, in completion order
  std::size_t handed = 0;        // results given to a next(); guarded by lock
  waiter* waiting = nullptr;     // the blocked next(), if any

  std::size_t handed_out() {
    std::lock_guard<spinlock> g(lock);
    return handed;
  }

  void push(outcome<T> r) {
    waiter* w = nullptr;
    {
      std::lock_guard<spinlock> g(lock);
      if (waiting != nullptr) {
        w = std::exchange(waiting, nullptr);
        w->item.emplace(std::move(r));
        w->state = waiter::granted;
        ++handed;
      } else {
        ready.push_back(std::move(r));
      }
    }
    if (w != nullptr) schedule(w->rec.rt, w->rec.handle);
  }
};

template <class T>
task<void> completed_child(std::shared_ptr<completed_state<T>> s, task<T> t) {
  std::optional<outcome<T>> r;
  const cancel_scope* scope = co_await current_scope_awaiter{};
  try {
    // Started under must_start (as_completed.hpp): cancelled before it first ran (the set was
    // dropped), it reports cancelled_error without starting the user's task.
    if (scope->cancelled()) {
      t = task<T>{};  // freed now, with its arguments, as a task that ran would have been
      throw_cancelled();
    }
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      r.emplace(std::in_place);
    } else {
      r.emplace(std::in_place, co_await std::move(t));
    }
  } catch (...) {
    r.emplace(std::current_exception());
  }
  s->push(std::move(*r));
}

template <class T>
class completed_next : completed_state<T>::waiter {
  using base = typename completed_state<T>::waiter;

 public:
  explicit completed_next(completed_state<T>* s) noexcept { this->owner = s; }

  bool await_ready() {
    std::lock_guard<spinlock> g(this->owner->lock);
    if (take_ready()) return true;
    if (this->owner->handed == this->owner->total) {
      throw_usage("as_completed: every result was already taken");
    }
    return false;
  }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    (void)this->bind(caller, scope_of(caller));  // a cancelled scope makes the arm below fail
    this->rec = {caller, this_runtime()};
    if (!this->arm(&on_cancel, wait_sites::as_completed)) {
      this->state = base::cancelled;
      return false;
    }
    std::lock_guard<spinlock> g(this->owner->lock);
    if (this->state == base::cancelled) return false;
    if (take_ready()) return false;
    this->state = base::waiting;
    this->owner->waiting = this;
    return true;  // after unlocking, a wrapper may resume us at any moment
  }
  T await_resume() {
    this->disarm_if_armed();
    if (!this->item) throw_cancelled();
    return std::move(*this->item).value();
  }

 private:
  // Under the lock.
  bool take_ready() {
    if (this->owner->ready.empty()) return false;
    this->item.emplace(std::move(this->owner->ready.front()));
    this->owner->ready.pop_front();
    this->state = base::granted;
    ++this->owner->handed;
    return true;
  }
  static void on_cancel(cancel_node* n) noexcept {
    auto* self = static_cast<completed_next*>(n);
    bool resume = false;
    {
      std::lock_guard<spinlock> g(self->owner->lock);
      if (self->state == base::waiting) {
        self->owner->waiting = nullptr;
        resume = true;
      }
      if (self->state != base::granted) self->state = base::cancelled;
    }
    if (resume) schedule(self->rec.rt, self->rec.handle);
  }
};

}  // namespace coreio::detail
