// The plain-Asio baseline every coreio benchmark is compared with: one
// asio::io_context run by N threads, coroutines as asio::awaitable started
// with asio::co_spawn, as an Asio user would write them without coreio.
//
// Asio 1.22 has no join handle and no ranged parallel group, so this header
// adds the two small pieces the workloads need, built only on public Asio:
//   join_latch   a countdown a coroutine can co_await (fork-join of N children)
//   oneshot<T>   a single-value cross-thread promise/future pair
//   gather(...)  co_spawn every child on the pool and await all of them
//
// What Asio itself does that shapes the numbers: co_spawn from inside the
// pool starts the child with dispatch(), i.e. inline on the spawning thread,
// and its completion handler is posted to the shared queue. A fork-join tree
// therefore runs mostly depth-first on one thread, and the other threads take
// posted completions and whatever they unblock. The shared queue is one
// mutex-guarded list, woken through a condition variable.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace coreio_bench::asio_baseline {

/// One io_context with `threads` threads running it until destruction.
/// Created once per benchmark, like the coreio runtime it is compared with.
class pool {
 public:
  explicit pool(int threads) : ctx_(threads), work_(asio::make_work_guard(ctx_)) {
    threads_.reserve(std::size_t(threads));
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ctx_.run(); });
  }

  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  ~pool() {
    work_.reset();
    ctx_.stop();
    for (auto& t : threads_) t.join();
  }

  asio::io_context::executor_type executor() { return ctx_.get_executor(); }

  /// Runs `root` on the pool and blocks the calling (non-pool) thread until it
  /// finishes; returns its value or rethrows its exception.
  template <class T>
  T block_on(asio::awaitable<T> root) {
    return asio::co_spawn(ctx_, std::move(root), asio::use_future).get();
  }

 private:
  // The shared event loop and run queue.
  asio::io_context ctx_;
  // Keeps run() from returning while no work is queued between iterations.
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // The threads running ctx_.
  std::vector<std::thread> threads_;
};

namespace detail {

// A type-erased, move-only completion handler with signature void().
struct waiter_base {
  virtual ~waiter_base() = default;
  // Runs the handler now if the caller is on the handler's executor.
  virtual void dispatch() = 0;
  // Queues the handler on its executor.
  virtual void post() = 0;
};

template <class Handler>
struct waiter final : waiter_base {
  explicit waiter(Handler h) : handler_(std::move(h)) {}
  void dispatch() override { asio::dispatch(std::move(handler_)); }
  void post() override { asio::post(std::move(handler_)); }
  // The suspended coroutine's completion handler (from use_awaitable).
  Handler handler_;
};

}  // namespace detail

/// A countdown of `n` arrivals that one coroutine awaits.
///
/// The count starts at n + 1: the waiter's own arrival (after it has stored
/// its handler) is the extra one, so whoever brings the count to zero — the
/// last child, or the waiter when every child was already done — resumes the
/// waiter. Each fetch_sub is acq_rel: the waiter's release publishes
/// `waiter_`, the children's releases publish their results, and the final
/// decrement acquires all of them (a chain of RMWs is one release sequence).
class join_latch {
 public:
  explicit join_latch(std::size_t n) : count_(n + 1) {}
  join_latch(const join_latch&) = delete;
  join_latch& operator=(const join_latch&) = delete;

  /// How the last arrival resumes the waiter.
  enum class resume { inline_if_on_pool, queued };

  /// One child is done. The last arrival resumes the waiter: by default inline
  /// when it runs on the pool (as co_spawn completes a joined parent), or
  /// through the queue with resume::queued (as an Asio I/O completion would).
  /// `this` may be destroyed once the waiter resumes, so nothing touches a
  /// member after that.
  void arrive(resume how = resume::inline_if_on_pool) {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::unique_ptr<detail::waiter_base> w = std::move(waiter_);
      if (how == resume::queued) {
        w->post();
      } else {
        w->dispatch();
      }
    }
  }

  /// Completes when all `n` children have arrived. At most one waiter.
  asio::awaitable<void> wait() {
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [this](auto handler) {
          waiter_ = std::make_unique<detail::waiter<decltype(handler)>>(std::move(handler));
          if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            // Every child finished first: complete through the queue rather
            // than re-entering the coroutine from inside its own suspension.
            std::unique_ptr<detail::waiter_base> w = std::move(waiter_);
            w->post();
          }
        },
        asio::use_awaitable);
  }

 private:
  // Arrivals still missing, plus one for the waiter.
  std::atomic<std::size_t> count_;
  // The suspended waiter; written before the waiter's decrement.
  std::unique_ptr<detail::waiter_base> waiter_;
};

/// A one-shot value handed from any thread to one awaiting coroutine: the
/// Asio counterpart of coreio::promise<T> / coreio::future<T>.
template <class T>
class oneshot {
 public:
  /// Stores the value and queues the waiter, if it is already waiting: the
  /// woken coroutine goes through the pool's queue, where any thread may take
  /// it, rather than running nested inside the sender.
  void set_value(T v) {
    value_.emplace(std::move(v));
    ready_.arrive(join_latch::resume::queued);
  }

  /// Completes with the value once set_value has been called.
  asio::awaitable<T> get() {
    co_await ready_.wait();
    co_return std::move(*value_);
  }

 private:
  // Written by set_value before its release decrement of ready_.
  std::optional<T> value_;
  // One arrival: set_value.
  join_latch ready_{1};
};

namespace detail {

// Results and first failure of one gather; lives in the gathering frame,
// which outlives every child because it waits for all of them.
struct join_state {
  explicit join_state(std::size_t n) : latch(n) {}
  void fail(std::exception_ptr e) {
    bool expected = false;
    if (failed.compare_exchange_strong(expected, true, std::memory_order_relaxed)) error = e;
  }
  join_latch latch;
  std::atomic<bool> failed{false};
  std::exception_ptr error;
};

template <class T>
auto store_into(join_state& st, T& slot) {
  return [&st, &slot](std::exception_ptr e, T v) {
    if (e) {
      st.fail(e);
    } else {
      slot = std::move(v);
    }
    st.latch.arrive();
  };
}

}  // namespace detail

/// Runs every child as its own co_spawn'ed coroutine on the caller's executor
/// and returns their results in order; rethrows the first failure after all
/// children have finished.
template <class T>
asio::awaitable<std::vector<T>> gather(std::vector<asio::awaitable<T>> children) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<T> results(children.size());
  detail::join_state st(children.size());
  for (std::size_t i = 0; i < children.size(); ++i) {
    asio::co_spawn(ex, std::move(children[i]), detail::store_into(st, results[i]));
  }
  co_await st.latch.wait();
  if (st.error) std::rethrow_exception(st.error);
  co_return results;
}

/// Fixed-arity form: gather(a(), b()) -> std::tuple of both results.
template <class... T>
asio::awaitable<std::tuple<T...>> gather(asio::awaitable<T>... children) {
  auto ex = co_await asio::this_coro::executor;
  std::tuple<T...> results;
  detail::join_state st(sizeof...(T));
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (asio::co_spawn(ex, std::move(children), detail::store_into(st, std::get<I>(results))), ...);
  }(std::index_sequence_for<T...>{});
  co_await st.latch.wait();
  if (st.error) std::rethrow_exception(st.error);
  co_return results;
}

}  // namespace coreio_bench::asio_baseline
