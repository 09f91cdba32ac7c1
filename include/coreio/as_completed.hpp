// coreio/as_completed.hpp — as_completed: the results of several tasks in the order they finish
// (asyncio.as_completed).
//
//   for (auto next : coreio::as_completed(std::move(tasks))) {
//     int v = co_await next;          // the next result to come in, or its exception rethrown
//   }
//
// as_completed(tasks) spawns every task at once (they run in parallel on the pool) and returns a
// set; each `co_await set.next()` (or each element of a range-for over the set) gives the next
// result in completion order. Cancelling a task blocked in next() throws cancelled_error there and
// loses nothing: the result stays for the next call. Destroying the set cancels the tasks whose
// results were not taken yet; they unwind on their own, holding the shared state alive.
//
// Protocol: each spawned wrapper stores its outcome in the state's FIFO under a spinlock and, if a
// next() is waiting, hands it the front result and resumes it after unlocking. A waiting next() is
// withdrawn by its cancel node under the same spinlock (states init -> waiting -> granted or
// cancelled), so a result is either handed to it or stays in the FIFO, never both, never lost.
//
// Thread safety: the set and its awaitables are used by one task at a time; the wrappers run
// anywhere. The set is move-only.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/spinlock.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/outcome.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task.hpp>

namespace coreio {

namespace detail {

template <class T>
struct completed_state {
  struct waiter : cancel_node {
    enum : std::uint8_t { init, waiting, granted, cancelled };
    std::uint8_t state = init;  // guarded by lock
    async_waiter rec{};
    std::optional<outcome<T>> item;
    completed_state* owner = nullptr;
  };

  explicit completed_state(std::size_t n) noexcept : total(n) {}

  const std::size_t total;       // tasks in the set
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
  try {
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
    scope_ = scope_of(caller);
    this->fn = &on_cancel;
    this->rec = {caller, this_runtime()};
    if (!scope_->arm(this)) {
      this->state = base::cancelled;
      return false;
    }
    armed_ = true;
    std::lock_guard<spinlock> g(this->owner->lock);
    if (this->state == base::cancelled) return false;
    if (take_ready()) return false;
    this->state = base::waiting;
    this->owner->waiting = this;
    return true;  // after unlocking, a wrapper may resume us at any moment
  }
  T await_resume() {
    if (armed_) scope_->disarm(this);
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

  cancel_scope* scope_ = nullptr;
  bool armed_ = false;
};

}  // namespace detail

/// The set returned by as_completed: hands out results in the order the tasks finish.
template <class T>
class completion_set {
 public:
  explicit completion_set(std::vector<task<T>> tasks)
      : s_(std::make_shared<detail::completed_state<T>>(tasks.size())) {
    for (auto& t : tasks) {
      if (!t.valid()) detail::throw_usage("as_completed of a moved-from or already-awaited task");
    }
    handles_.reserve(tasks.size());
    for (auto& t : tasks) handles_.push_back(coreio::spawn(detail::completed_child<T>(s_, std::move(t))));
  }
  completion_set(completion_set&&) noexcept = default;
  completion_set& operator=(completion_set&&) = delete;
  completion_set(const completion_set&) = delete;
  completion_set& operator=(const completion_set&) = delete;

  /// Cancels the tasks that may still run (a no-op for those that ended); they unwind on their own.
  ~completion_set() {
    for (auto& h : handles_) h.cancel();
  }

  /// How many tasks the set was made of.
  std::size_t size() const noexcept { return handles_.size(); }
  /// How many results have not been handed out yet. A result counts as handed out when a next()
  /// returns it (or rethrows its exception); a cancelled next() leaves it for the next call.
  std::size_t remaining() const { return s_ ? s_->total - s_->handed_out() : 0; }

  /// An awaitable for the next result to finish (its value, or its exception rethrown).
  /// Awaiting it when every result has been handed out throws usage_error.
  detail::completed_next<T> next() {
    if (remaining() == 0) detail::throw_usage("as_completed: every result was already taken");
    return detail::completed_next<T>(s_.get());
  }

  struct sentinel {};
  class iterator {
   public:
    explicit iterator(completion_set* s) noexcept : s_(s) {}
    detail::completed_next<T> operator*() const { return s_->next(); }
    iterator& operator++() noexcept { return *this; }
    bool operator!=(sentinel) const { return s_->remaining() > 0; }
    bool operator==(sentinel) const { return s_->remaining() == 0; }

   private:
    completion_set* s_;
  };
  /// Range-for: each element is the awaitable of the next result; co_await it once per iteration.
  iterator begin() noexcept { return iterator{this}; }
  sentinel end() const noexcept { return {}; }

 private:
  std::shared_ptr<detail::completed_state<T>> s_;
  std::vector<join_handle<void>> handles_;
};

/// Spawns every task and returns a set that gives their results in completion order. Worker only.
///
/// Example:
///   for (auto next : coreio::as_completed(std::move(tasks))) total += co_await next;
template <class T>
completion_set<T> as_completed(std::vector<task<T>> tasks) {
  return completion_set<T>(std::move(tasks));
}

}  // namespace coreio
