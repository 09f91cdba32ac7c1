// coreio/join_handle.hpp — join_handle<T>: the handle of a spawned task.
//
// co_await it (from a task) or get() it (from a plain thread) for the task's result or exception;
// cancel() it; done() polls. Dropping the handle detaches: the task runs on and its frame is freed
// when it ends. The result can be retrieved once; a second retrieval throws usage_error. The frame
// holds the result, so a task that has ended keeps its parameters and locals (a stream moved into
// it stays open) until its result is retrieved or the handle dropped, whichever comes first:
// retrieving it frees the frame at once, and the handle is then no longer valid() (done() stays
// true).
//
// Awaiting a handle from a task that gets cancelled forwards the cancel to the awaited task and
// keeps waiting for it to end (asyncio semantics), so no child is left running behind the awaiter.
//
// Thread safety: distinct objects: safe. Shared objects: cancel() and done() from any thread;
// co_await / get() / destruction by one owner.
#pragma once

#include <coroutine>
#include <utility>

#include <coreio/detail/coop.hpp>
#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/spawned_task.hpp>
#include <coreio/detail/task_graph.hpp>
#include <coreio/errors.hpp>
#include <coreio/task.hpp>

namespace coreio {

namespace detail {
template <class T>
struct shield_awaiter;
}  // namespace detail

/// The handle of a spawned task.
///
/// Example:
///   auto h = coreio::spawn(fetch());
///   int v = co_await h;      // or h.get() on a thread that is not a worker
template <class T>
class join_handle {
 public:
  using handle_type = std::coroutine_handle<detail::task_promise<T>>;

  join_handle() noexcept = default;
  explicit join_handle(handle_type h) noexcept : h_(h) {}
  join_handle(join_handle&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)), consumed_(std::exchange(o.consumed_, false)) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      release();
      h_ = std::exchange(o.h_, nullptr);
      consumed_ = std::exchange(o.consumed_, false);
    }
    return *this;
  }
  join_handle(const join_handle&) = delete;
  join_handle& operator=(const join_handle&) = delete;
  ~join_handle() { release(); }

  /// Requests cancellation: the task's current or next suspension point throws cancelled_error; a
  /// task that has not started yet ends with it without running its body (as asyncio).
  /// Any thread; idempotent; a no-op once the task has ended.
  void cancel() noexcept {
    if (h_) h_.promise().own_scope_.cancel();
  }

  /// The task's process-unique id (current_task.hpp). Any thread; the handle must be valid.
  std::uint64_t id() const noexcept { return h_.promise().spawned_->id; }

  /// True once the task has ended (with a value or an exception). Any thread.
  bool done() const noexcept {
    return consumed_ || (h_ && h_.promise().spawned_->cell.is_complete());
  }

  /// Blocks the calling thread until the task ends; returns its result or rethrows its exception.
  /// Not from a worker thread: it would block that worker (throws usage_error; co_await instead).
  T get() {
    check_retrievable();
    if (detail::this_worker() != nullptr) {
      detail::throw_usage("join_handle::get() on a worker thread would block it; co_await it");
    }
    h_.promise().spawned_->cell.wait_blocking();
    consumed_ = true;
    return take_result();
  }

  /// Lets the task run on unobserved (what the destructor does).
  void detach() noexcept { release(); }

  /// True if this handle refers to a task.
  bool valid() const noexcept { return h_ != nullptr; }

  auto operator co_await() noexcept { return awaiter{this}; }

 private:
  template <class>
  friend struct detail::shield_awaiter;

  struct awaiter : detail::cancel_node {
    join_handle* self;
    detail::cancel_scope* scope = nullptr;
    detail::async_waiter rec{};
    bool armed = false;
    detail::coop_point coop;

    explicit awaiter(join_handle* s) noexcept : self(s) {}

    bool await_ready() {
      self->check_retrievable();
      if (!self->h_.promise().spawned_->cell.is_complete()) return false;
      coop.completed = true;  // a finished task: spend the budget (detail/coop.hpp)
      return coop.take();
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      if (coop.completed) return coop.yield(caller);
      scope = detail::scope_of(caller);
      detail::note_awaited_by(&self->h_.promise(), scope);  // throws if the caller is the task
      fn = &forward_cancel;
      scope->note_wait(&detail::wait_sites::join, static_cast<std::int64_t>(self->id()));
      armed = scope->arm(this);
      if (!armed) self->cancel();  // already cancelled: cancel the child, then wait for it
      rec = {caller, detail::this_runtime()};
      // Nothing withdraws a join waiter (a cancel is forwarded to the child instead), so the
      // result is suspended or complete. After registering, *this may be resumed at any moment.
      if (self->h_.promise().spawned_->cell.set_async_waiter(&rec) ==
          detail::completion_cell::registration::suspended) {
        return true;
      }
      if (armed) scope->disarm(this);
      armed = false;
      return false;
    }
    T await_resume() {
      if (armed) scope->disarm(this);
      self->consumed_ = true;
      return self->take_result();
    }
    static void forward_cancel(detail::cancel_node* n) noexcept {
      static_cast<awaiter*>(n)->self->cancel();
    }
  };

  void check_retrievable() const {
    if (consumed_)
      detail::throw_usage("join_handle result already retrieved (awaited or get() twice)");
    if (!h_) detail::throw_usage("join_handle is empty (moved from or detached)");
  }
  /// The ended task's result, or its exception rethrown; either way the frame is released after
  /// (see the file comment: the task's parameters and locals go with it).
  T take_result() {
    struct release_after {
      join_handle* self;
      ~release_after() { self->release(); }
    } after{this};
    return h_.promise().result();
  }
  void release() noexcept {
    if (!h_) return;
    handle_type h = std::exchange(h_, nullptr);
    detail::spawned_task_release(&h.promise(), h, consumed_);
  }

  handle_type h_{};
  bool consumed_ = false;
};

}  // namespace coreio
