// coreio/sync/queue.hpp — queue<T>, priority_queue<T, Compare> and lifo_queue<T> (asyncio.Queue,
// asyncio.PriorityQueue, asyncio.LifoQueue): bounded, fair channels between tasks that can be shut
// down.
//
// One implementation, basic_queue<T, Storage>; the storage policy decides only which stored item
// get() takes (oldest, smallest, newest). Everything — the items, the shut-down flag, the getters'
// and the putters' wait lists and every node's state — is guarded by one spinlock.
// Invariants (under the lock):
//   getters queued  => no item stored    (a put with a getter waiting hands the item straight to the
//                                         first getter's slot instead of storing it)
//   putters queued  => the queue is full (a get that frees a slot moves the first putter's item in)
//   shut down       => no getter or putter queued (shutdown() wakes them all)
// so a newcomer can never overtake a waiter: items go to getters, and room to putters, in FIFO
// order. A getter is granted by moving the item into its `slot` under the lock; a putter by moving
// its item (which lives in its awaiter) into the storage under the lock. A cancel that finds the
// node still queued unlinks it (nothing was transferred); one that finds it granted does nothing,
// and the operation completes normally with its item: no item is ever lost or duplicated.
// Waking happens after the lock is released (detail/wait_list.hpp).
//
// capacity 0 means unbounded (asyncio's maxsize=0): put never waits.
//
// close() and shutdown(immediate): close() is asyncio 3.13's Queue.shutdown() (the name the
// project's API contract gives it), shutdown(immediate) its full form: close() is shutdown(false),
// one operation; the error is queue_closed (asyncio's QueueShutDown). Under
// the lock, shutdown sets the flag and unlinks every queued getter and putter with state `closed`
// (their awaits throw queue_closed; a putter's item was never stored and is destroyed with its
// awaiter); from then on put / try_put throw queue_closed, get / try_get take what is left and
// then throw queue_closed. With immediate = true it also swaps the stored items out (they are
// destroyed after the unlock, so that no item destructor runs under the spinlock), counting each
// as done for join() (as asyncio: one task_done per dropped item while the count is above zero),
// and the joiners are woken if the count reaches zero.
// As in asyncio, items already taken by a get stay unfinished until their task_done().
//
// task_done() / join() (asyncio's): every item that enters the queue (stored, or handed to a
// getter) counts as unfinished until a task_done() (or until shutdown(true) drops it); join()
// waits, on a third wait list, until the count is zero, and whoever brings it to zero wakes every
// joiner.
//
// T must be nothrow move constructible (an item moved under the lock must not throw half-way).
//
// Thread safety: distinct objects: safe. Shared objects: safe; put() / get() / join() from tasks on
// any worker; try_put(), try_get(), shutdown(), task_done() and the observers from any thread.
// Memory ordering: everything a producer did before put / try_put of an item happens-before the
// return of the get / try_get that takes it.
#pragma once

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <coreio/detail/wait_list.hpp>
#include <coreio/errors.hpp>

namespace coreio {

namespace detail {

[[noreturn]] inline void throw_queue_closed() { throw queue_closed{}; }

/// FIFO storage (asyncio.Queue).
template <class T>
class fifo_storage {
 public:
  void push(T&& x) { d_.push_back(std::move(x)); }
  /// An item given back (getter::give_back): the next pop takes it.
  void push_front(T&& x) { d_.push_front(std::move(x)); }
  T pop() noexcept {
    T x = std::move(d_.front());
    d_.pop_front();
    return x;
  }
  std::size_t size() const noexcept { return d_.size(); }
  void swap(fifo_storage& o) noexcept { d_.swap(o.d_); }

 private:
  std::deque<T> d_;
};

/// LIFO storage (asyncio.LifoQueue): the newest item first.
template <class T>
class lifo_storage {
 public:
  void push(T&& x) { v_.push_back(std::move(x)); }
  /// An item given back (getter::give_back): the next pop takes it.
  void push_front(T&& x) { v_.push_back(std::move(x)); }
  T pop() noexcept {
    T x = std::move(v_.back());
    v_.pop_back();
    return x;
  }
  std::size_t size() const noexcept { return v_.size(); }
  void swap(lifo_storage& o) noexcept { v_.swap(o.v_); }

 private:
  std::vector<T> v_;
};

/// Heap storage (asyncio.PriorityQueue): the smallest item by Compare first. std::push_heap keeps
/// the largest by its comparator on top, so the heap uses Compare with the arguments swapped.
template <class T, class Compare>
class heap_storage {
 public:
  void push(T&& x) {
    v_.push_back(std::move(x));
    std::push_heap(v_.begin(), v_.end(), reversed{&cmp_});
  }
  /// An item given back (getter::give_back): it takes its place by priority again.
  void push_front(T&& x) { push(std::move(x)); }
  T pop() {
    std::pop_heap(v_.begin(), v_.end(), reversed{&cmp_});
    T x = std::move(v_.back());
    v_.pop_back();
    return x;
  }
  std::size_t size() const noexcept { return v_.size(); }
  /// Swaps the items only: both heaps keep their comparator (stateless in practice).
  void swap(heap_storage& o) noexcept { v_.swap(o.v_); }

 private:
  struct reversed {
    Compare* c;
    bool operator()(const T& a, const T& b) const { return (*c)(b, a); }
  };
  std::vector<T> v_;
  Compare cmp_{};
};

}  // namespace detail

/// A bounded, fair queue of T between tasks that can be shut down; Storage picks the order (see
/// queue, priority_queue, lifo_queue).
///
/// put() on a queue with room and get() on a queue with an item complete without suspending and
/// without looking at cancellation (like asyncio's put/get); otherwise they wait in FIFO order, and
/// a cancel makes them throw cancelled_error with nothing transferred (the put's item is not in the
/// queue; the get took nothing). If a cancel races the transfer and the transfer wins, the
/// operation returns normally.
///
/// Thread safety: distinct objects: safe. Shared objects: safe; put() / get() from tasks on any
/// worker; everything else from any thread.
/// Memory ordering: what the producer did before putting an item happens-before the return of the
/// get that takes it.
template <class T, class Storage>
class basic_queue {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "coreio queues move items under a spinlock: T's move constructor must be noexcept");

 public:
  using value_type = T;

  /// capacity 0 = unbounded.
  explicit basic_queue(std::size_t capacity = 0) : capacity_(capacity) {}
  basic_queue(const basic_queue&) = delete;
  basic_queue& operator=(const basic_queue&) = delete;

  /// Awaitable: stores x, waiting for room while the queue is full. Throws queue_closed if the
  /// queue is or gets shut down, cancelled_error if cancelled while waiting (x is then dropped in
  /// both cases, not queued). Worker only.
  [[nodiscard]] auto put(T x) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return putter(this, std::move(x));
  }

  /// Awaitable: takes the next item, waiting while the queue is empty. Throws queue_closed once
  /// the queue is shut down and empty, cancelled_error if cancelled while waiting. Worker only.
  [[nodiscard]] auto get() noexcept { return getter(this); }

  /// Stores x if there is room (x is moved from only then); false if full. queue_closed if shut
  /// down. Any thread.
  bool try_put(T&& x) {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    switch (put_locked(x, wake)) {
      case detail::wait_state::granted:
        return true;
      case detail::wait_state::closed:
        detail::throw_queue_closed();
      default:
        return false;
    }
  }
  bool try_put(const T& x) {
    T copy(x);
    return try_put(std::move(copy));
  }

  /// The next item if there is one; nullopt if the queue is empty and not shut down.
  /// queue_closed if it is empty and shut down. Any thread.
  std::optional<T> try_get() {
    std::optional<T> slot;
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    switch (get_locked(slot, wake)) {
      case detail::wait_state::granted:
        return slot;
      case detail::wait_state::closed:
        detail::throw_queue_closed();
      default:
        return std::nullopt;
    }
  }

  /// Shuts the queue down (asyncio 3.13's Queue.shutdown): put / try_put throw queue_closed
  /// from now on, and so do the puts waiting now (their items are not stored); get / try_get take
  /// what is left, then throw queue_closed, and the getters waiting now on the empty queue
  /// throw it at once. With immediate = true the items still stored are dropped (destroyed before
  /// this returns, outside the queue's lock) and counted as done for join(), which returns once
  /// the items already taken are marked too. Idempotent; shutdown(true) after shutdown(false)
  /// drops what is left. Any thread. Throws only std::bad_alloc (immediate: an empty storage for
  /// the dropped items is made before locking).
  ///
  /// Example:
  ///   q.shutdown();       // the producers are done: consumers drain, then see queue_closed
  ///   q.shutdown(true);   // stop now: the queued work is discarded
  void shutdown(bool immediate = false) { shut_down(immediate); }

  /// Closes the queue: shutdown(false). Producers are done; consumers drain what is left, then
  /// get queue_closed. Any thread; idempotent.
  void close() { shut_down(false); }

 private:
  void shut_down(bool immediate) {
    std::optional<Storage> dropped;
    if (immediate) dropped.emplace();
    detail::wake_list wake;  // destroyed last: wakes after the unlock and after the items are gone
    {
      std::lock_guard<detail::spinlock> g(lock_);
      shut_down_ = true;
      wake.take_all(getters_, detail::wait_state::closed);
      wake.take_all(putters_, detail::wait_state::closed);
      if (immediate && items_.size() != 0) {
        // As asyncio: one task_done per dropped item while any is unfinished (task_done() may
        // have been called ahead of the gets, so the count can be below the stored items).
        unfinished_ -= std::min(unfinished_, items_.size());
        items_.swap(*dropped);
        if (unfinished_ == 0) wake.take_all(joiners_, detail::wait_state::granted);
      }
    }
    dropped.reset();  // the items' destructors run here, outside the lock
  }

 public:
  /// Marks one item taken by a get as processed (asyncio's Queue.task_done). When every item ever
  /// put has been marked (or dropped by shutdown(true)), the tasks blocked in join() resume.
  /// usage_error if called more times than there are unfinished items. Any thread, also after
  /// shutdown.
  void task_done() {
    detail::wake_list wake;
    std::lock_guard<detail::spinlock> g(lock_);
    if (unfinished_ == 0) {
      detail::throw_usage("queue::task_done() called more times than there are unfinished items");
    }
    if (--unfinished_ == 0) wake.take_all(joiners_, detail::wait_state::granted);
  }

  /// Awaitable: waits until every item put so far has been got and marked with task_done(), or
  /// dropped by shutdown(true) (asyncio's Queue.join). Completes at once when nothing is
  /// unfinished; cancellable while it waits. Worker only.
  [[nodiscard]] auto join() noexcept { return joiner(this); }

  /// Items put and not yet marked with task_done() nor dropped. Any thread; a snapshot.
  std::size_t unfinished() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return unfinished_;
  }

  /// Items stored now (not counting pending puts). Any thread; a snapshot.
  std::size_t size() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return items_.size();
  }
  bool empty() const noexcept { return size() == 0; }
  /// True if a put would have to wait (never for an unbounded queue).
  bool full() const noexcept { return capacity_ != 0 && size() >= capacity_; }
  /// The maximum number of stored items; 0 = unbounded.
  std::size_t capacity() const noexcept { return capacity_; }
  /// True once close() or shutdown() was called. Any thread; a snapshot (never false again).
  bool closed() const noexcept {
    std::lock_guard<detail::spinlock> g(lock_);
    return shut_down_;
  }

 private:
  struct get_node : detail::waiter_base {
    std::optional<T> slot;
  };
  struct put_node : detail::waiter_base {
    T* item = nullptr;
  };

  bool full_locked() const noexcept { return capacity_ != 0 && items_.size() >= capacity_; }

  /// Under lock_: transfers x to a waiting getter or the storage (granted), or reports full (init)
  /// or shut down (closed). x is moved from only when granted.
  detail::wait_state put_locked(T& x, detail::wake_list& wake) {
    if (shut_down_) return detail::wait_state::closed;
    if (detail::waiter_node* n = getters_.pop_front()) {
      auto* gn = static_cast<get_node*>(n);
      gn->slot.emplace(std::move(x));
      gn->state = detail::wait_state::granted;
      wake.push(gn);
      ++unfinished_;
      return detail::wait_state::granted;
    }
    if (full_locked()) return detail::wait_state::init;
    items_.push(std::move(x));
    ++unfinished_;
    return detail::wait_state::granted;
  }

  /// Under lock_: moves the next item into slot (granted) and refills from the first putter, or
  /// reports empty (init) or shut-down-and-empty (closed).
  detail::wait_state get_locked(std::optional<T>& slot, detail::wake_list& wake) {
    if (items_.size() == 0) {
      return shut_down_ ? detail::wait_state::closed : detail::wait_state::init;
    }
    slot.emplace(items_.pop());
    if (detail::waiter_node* n = putters_.pop_front()) {
      auto* pn = static_cast<put_node*>(n);
      items_.push(std::move(*pn->item));
      pn->state = detail::wait_state::granted;
      wake.push(pn);
      ++unfinished_;
    }
    return detail::wait_state::granted;
  }

  /// Under lock_: an item a get took goes back (getter::give_back): to the first waiting getter,
  /// else to the head of the storage (it still counts as unfinished, as when it came in). The
  /// storage may then hold one item over the capacity (a putter may have filled the slot the get
  /// freed) until the next get; no putter is woken for it.
  void give_back_locked(T&& x, detail::wake_list& wake) {
    if (detail::waiter_node* n = getters_.pop_front()) {
      auto* gn = static_cast<get_node*>(n);
      gn->slot.emplace(std::move(x));
      gn->state = detail::wait_state::granted;
      wake.push(gn);
      return;
    }
    items_.push_front(std::move(x));
  }

  class putter : put_node {
   public:
    putter(basic_queue* q, T&& x) noexcept : q_(q), x_(std::move(x)) {}
    bool await_ready() {
      detail::wake_list wake;
      std::unique_lock<detail::spinlock> g(q_->lock_);
      const detail::wait_state s = q_->put_locked(x_, wake);
      g.unlock();
      return this->ready(s);
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      this->item = &x_;
      return this->suspend(h, q_->lock_, q_->putters_, detail::wait_sites::queue_put,
                           [this](detail::wake_list& wake) { return q_->put_locked(x_, wake); });
    }
    void await_resume() {
      switch (this->finish()) {
        case detail::wait_state::granted:
          return;
        case detail::wait_state::closed:
          detail::throw_queue_closed();
        default:
          detail::throw_cancelled();
      }
    }

   private:
    basic_queue* q_;
    T x_;
  };

  class getter : get_node {
   public:
    explicit getter(basic_queue* q) noexcept : q_(q) {}
    bool await_ready() {
      detail::wake_list wake;
      std::unique_lock<detail::spinlock> g(q_->lock_);
      const detail::wait_state s = q_->get_locked(this->slot, wake);
      g.unlock();
      return this->ready(s);
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return this->suspend(
          h, q_->lock_, q_->getters_, detail::wait_sites::queue_get,
          [this](detail::wake_list& wake) { return q_->get_locked(this->slot, wake); });
    }
    T await_resume() {
      switch (this->finish()) {
        case detail::wait_state::granted:
          return std::move(*this->slot);
        case detail::wait_state::closed:
          detail::throw_queue_closed();
        default:
          detail::throw_cancelled();
      }
    }
    /// Puts back the item this get returned, ahead of every stored item, as if it had not been
    /// taken: what when_any does with a losing get (coreio/gather.hpp). Throws what the storage's
    /// growth throws (std::bad_alloc), the item then lost with the exception.
    void give_back(T&& x) {
      detail::wake_list wake;
      std::unique_lock<detail::spinlock> g(q_->lock_);
      q_->give_back_locked(std::move(x), wake);
    }

   private:
    basic_queue* q_;
  };

  class joiner : detail::waiter_base {
   public:
    explicit joiner(basic_queue* q) noexcept : q_(q) {}
    bool await_ready() {
      std::unique_lock<detail::spinlock> g(q_->lock_);
      const bool done = q_->unfinished_ == 0;
      g.unlock();
      return this->ready(done ? detail::wait_state::granted : detail::wait_state::init);
    }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return this->suspend(
          h, q_->lock_, q_->joiners_, detail::wait_sites::queue_join, [this](detail::wake_list&) {
            return q_->unfinished_ == 0 ? detail::wait_state::granted : detail::wait_state::init;
          });
    }
    void await_resume() {
      if (this->finish() != detail::wait_state::granted) detail::throw_cancelled();
    }

   private:
    basic_queue* q_;
  };

  const std::size_t capacity_;
  // Guards everything below and the state of every queued node.
  mutable detail::spinlock lock_;
  Storage items_;
  // Set by shutdown(); never cleared.
  bool shut_down_ = false;
  // Items put and not yet marked with task_done() nor dropped by shutdown(true).
  std::size_t unfinished_ = 0;
  detail::wait_list getters_;
  detail::wait_list putters_;
  detail::wait_list joiners_;
};

/// A FIFO queue (asyncio.Queue).
///
/// Example:
///   coreio::queue<int> q{100};           // capacity 0 = unbounded
///   co_await q.put(1);                   // waits while full (backpressure)
///   int x = co_await q.get();            // waits while empty
///   q.shutdown();                        // then get drains, then throws queue_closed
template <class T>
class queue : public basic_queue<T, detail::fifo_storage<T>> {
 public:
  using basic_queue<T, detail::fifo_storage<T>>::basic_queue;
};

/// A queue that gives the smallest item by Compare first (asyncio.PriorityQueue; with
/// std::less, the smallest value first). Ties come out in no particular order.
///
/// Example:
///   coreio::priority_queue<std::pair<int, std::string>> q;
///   co_await q.put({2, "later"});  co_await q.put({1, "first"});
///   auto [prio, what] = co_await q.get();   // {1, "first"}
template <class T, class Compare = std::less<T>>
class priority_queue : public basic_queue<T, detail::heap_storage<T, Compare>> {
 public:
  using basic_queue<T, detail::heap_storage<T, Compare>>::basic_queue;
};

/// A queue that gives the newest item first (asyncio.LifoQueue).
///
/// Example:
///   coreio::lifo_queue<int> q;  co_await q.put(1);  co_await q.put(2);
///   int x = co_await q.get();   // 2
template <class T>
class lifo_queue : public basic_queue<T, detail::lifo_storage<T>> {
 public:
  using basic_queue<T, detail::lifo_storage<T>>::basic_queue;
};

}  // namespace coreio
