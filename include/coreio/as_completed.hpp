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
// Protocol: detail/completion_state.hpp (the FIFO of outcomes, the wrappers that fill it, the
// next() awaiter and its cancellation).
//
// Thread safety: the set and its awaitables are used by one task at a time; the wrappers run
// anywhere. The set is move-only.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <coreio/detail/completion_state.hpp>
#include <coreio/errors.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/outcome.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task.hpp>

namespace coreio {

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
    for (auto& t : tasks)
      handles_.push_back(
          coreio::spawn(detail::must_start(detail::completed_child<T>(s_, std::move(t)))));
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
