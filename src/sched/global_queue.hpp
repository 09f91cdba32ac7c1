// sched/global_queue.hpp — the global queue of a runtime (Tokio's inject queue).
//
// Holds ready coroutines made ready by threads that are not workers of the runtime (spawns and
// wake-ups from plain threads, the monitor's fired timers), and the overflow of full run queues and
// fork deques. Every worker takes from it every global_queue_interval ticks and when it runs out of
// local work (worker.hpp). An MPMC queue
// (moodycamel::ConcurrentQueue): workers use their own producer/consumer tokens, outside threads the
// token-free implicit producers. FIFO per producer; no global order across producers is promised.
//
// Thread safety: every member from any thread; tokens by the thread that owns them.
#pragma once

// GCC 12 reports a false -Wstringop-overflow inside moodycamel's enqueue_bulk once it is inlined
// into our code (an atomic load it believes targets a zero-size region); the queue's own tests and
// ASan runs show no overflow. Silence it for this header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#include <concurrentqueue/concurrentqueue.h>

#include <cstddef>

#include "util/tsan.hpp"

namespace coreio::detail {

class global_queue {
 public:
  using producer_token = moodycamel::ProducerToken;
  using consumer_token = moodycamel::ConsumerToken;

  global_queue() : q_(1024) {}

  producer_token make_producer() { return producer_token(q_); }
  consumer_token make_consumer() { return consumer_token(q_); }

  // The TSan annotations state the enqueue -> dequeue edge the queue guarantees (util/tsan.hpp, 1).
  void push(void* x) {
    COREIO_TSAN_RELEASE(x);
    q_.enqueue(x);
  }
  void push(producer_token& tok, void* x) {
    COREIO_TSAN_RELEASE(x);
    q_.enqueue(tok, x);
  }
  void push_bulk(producer_token& tok, void* const* xs, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) COREIO_TSAN_RELEASE(xs[i]);
    q_.enqueue_bulk(tok, xs, n);
  }
  bool pop(consumer_token& tok, void*& x) {
    if (!q_.try_dequeue(tok, x)) return false;
    COREIO_TSAN_ACQUIRE(x);
    return true;
  }
  std::size_t pop_bulk(consumer_token& tok, void** xs, std::size_t max) {
    std::size_t n = q_.try_dequeue_bulk(tok, xs, max);
    for (std::size_t i = 0; i < n; ++i) COREIO_TSAN_ACQUIRE(xs[i]);
    return n;
  }
  std::size_t size_approx() const { return q_.size_approx(); }

 private:
  moodycamel::ConcurrentQueue<void*> q_;
};

}  // namespace coreio::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
