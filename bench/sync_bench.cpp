// Synchronisation and combinator benchmarks: mutex (uncontended and contended), semaphore, bounded
// queue (1 and 4 producer/consumer pairs, capacity 64) and wait_for on a task that finishes in time.
// Each runs on coreio and, in the same process with the same number of threads, on the plain-Asio
// pool (bench/baseline/asio_pool.hpp) with what an Asio program would use for the same job:
//   mutex, semaphore   std::mutex / std::counting_semaphore held inside Asio coroutines (Asio has no
//                      asynchronous mutex; the critical sections are a few instructions, so blocking
//                      the thread is what such a program does);
//   queue              asio::experimental::concurrent_channel with the same capacity;
//   wait_for           `co_await (op() || timer.async_wait())` (awaitable_operators), one timer each.
//
// Names: sync/<workload>/<coreio|asio>/threads:<n> (bench/summary.py pairs them).
// Counters: items_per_second (lock/unlock pairs, acquire/release pairs, items or awaits per second).
#include "support.hpp"

#include <benchmark/benchmark.h>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <semaphore>
#include <vector>

namespace coreio_bench {
namespace {

using namespace std::chrono_literals;
constexpr int t = default_threads;

// ---- mutex -------------------------------------------------------------------------------------

namespace mutex_bench {
constexpr std::uint64_t uncontended_n = 1'000'000;
constexpr std::uint64_t tasks = 8;
constexpr std::uint64_t per_task = 100'000;

coreio::task<std::uint64_t> uncontended_coreio() {
  coreio::mutex m;
  std::uint64_t c = 0;
  for (std::uint64_t i = 0; i < uncontended_n; ++i) {
    auto lock = co_await m.lock();
    ++c;
  }
  co_return c;
}

asio::awaitable<std::uint64_t> uncontended_asio() {
  std::mutex m;
  std::uint64_t c = 0;
  for (std::uint64_t i = 0; i < uncontended_n; ++i) {
    std::lock_guard<std::mutex> lock(m);
    ++c;
  }
  co_return c;
}

coreio::task<std::uint64_t> incrementer(coreio::mutex* m, std::uint64_t* c) {
  for (std::uint64_t i = 0; i < per_task; ++i) {
    auto lock = co_await m->lock();
    ++*c;
  }
  co_return 0;
}

coreio::task<std::uint64_t> contended_coreio() {
  coreio::mutex m;
  std::uint64_t c = 0;
  std::vector<coreio::task<std::uint64_t>> ts;
  for (std::uint64_t i = 0; i < tasks; ++i) ts.push_back(incrementer(&m, &c));
  co_await coreio::gather(std::move(ts));
  co_return c;
}

asio::awaitable<std::uint64_t> asio_incrementer(std::mutex* m, std::uint64_t* c) {
  for (std::uint64_t i = 0; i < per_task; ++i) {
    std::lock_guard<std::mutex> lock(*m);
    ++*c;
  }
  co_return 0;
}

asio::awaitable<std::uint64_t> contended_asio() {
  std::mutex m;
  std::uint64_t c = 0;
  std::vector<asio::awaitable<std::uint64_t>> ts;
  for (std::uint64_t i = 0; i < tasks; ++i) ts.push_back(asio_incrementer(&m, &c));
  co_await asio_baseline::gather(std::move(ts));
  co_return c;
}
}  // namespace mutex_bench

// ---- semaphore ---------------------------------------------------------------------------------

namespace semaphore_bench {
constexpr std::uint64_t tasks = 8;
constexpr std::uint64_t per_task = 100'000;
constexpr std::ptrdiff_t permits = 2;

coreio::task<std::uint64_t> user(coreio::semaphore* s, std::atomic<std::uint64_t>* c) {
  for (std::uint64_t i = 0; i < per_task; ++i) {
    auto permit = co_await s->acquire();
    c->fetch_add(1, std::memory_order_relaxed);
  }
  co_return 0;
}

coreio::task<std::uint64_t> on_coreio() {
  coreio::semaphore s{permits};
  std::atomic<std::uint64_t> c{0};
  std::vector<coreio::task<std::uint64_t>> ts;
  for (std::uint64_t i = 0; i < tasks; ++i) ts.push_back(user(&s, &c));
  co_await coreio::gather(std::move(ts));
  co_return c.load();
}

asio::awaitable<std::uint64_t> asio_user(std::counting_semaphore<>* s,
                                         std::atomic<std::uint64_t>* c) {
  for (std::uint64_t i = 0; i < per_task; ++i) {
    s->acquire();
    c->fetch_add(1, std::memory_order_relaxed);
    s->release();
  }
  co_return 0;
}

asio::awaitable<std::uint64_t> on_asio() {
  std::counting_semaphore<> s{permits};
  std::atomic<std::uint64_t> c{0};
  std::vector<asio::awaitable<std::uint64_t>> ts;
  for (std::uint64_t i = 0; i < tasks; ++i) ts.push_back(asio_user(&s, &c));
  co_await asio_baseline::gather(std::move(ts));
  co_return c.load();
}
}  // namespace semaphore_bench

// ---- queue -------------------------------------------------------------------------------------

namespace queue_bench {
constexpr std::uint64_t items = 1'000'000;
constexpr std::size_t capacity = 64;

constexpr std::uint64_t expected() { return items * (items - 1) / 2; }

coreio::task<std::uint64_t> producer(coreio::queue<std::uint64_t>* q, std::uint64_t from,
                                     std::uint64_t to) {
  for (std::uint64_t i = from; i < to; ++i) co_await q->put(i);
  co_return 0;
}

coreio::task<std::uint64_t> consumer(coreio::queue<std::uint64_t>* q) {
  std::uint64_t sum = 0;
  try {
    for (;;) sum += co_await q->get();
  } catch (const coreio::queue_closed&) {
  }
  co_return sum;
}

coreio::task<std::uint64_t> producers(coreio::queue<std::uint64_t>* q, std::uint64_t pairs) {
  std::vector<coreio::task<std::uint64_t>> ps;
  for (std::uint64_t p = 0; p < pairs; ++p)
    ps.push_back(producer(q, items * p / pairs, items * (p + 1) / pairs));
  co_await coreio::gather(std::move(ps));
  q->shutdown();
  co_return 0;
}

coreio::task<std::uint64_t> consumers(coreio::queue<std::uint64_t>* q, std::uint64_t pairs) {
  std::vector<coreio::task<std::uint64_t>> cs;
  for (std::uint64_t c = 0; c < pairs; ++c) cs.push_back(consumer(q));
  std::uint64_t sum = 0;
  for (auto s : co_await coreio::gather(std::move(cs))) sum += s;
  co_return sum;
}

coreio::task<std::uint64_t> on_coreio(std::uint64_t pairs) {
  coreio::queue<std::uint64_t> q{capacity};
  auto [sum, none] = co_await coreio::gather(consumers(&q, pairs), producers(&q, pairs));
  (void)none;
  co_return sum;
}

using channel = asio::experimental::concurrent_channel<void(asio::error_code, std::uint64_t)>;

asio::awaitable<std::uint64_t> asio_producer(channel* ch, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t i = from; i < to; ++i)
    co_await ch->async_send(asio::error_code{}, i, asio::use_awaitable);
  co_return 0;
}

// Asio's close() discards what is still buffered, so the end is one sentinel per consumer.
constexpr std::uint64_t end_of_items = ~std::uint64_t{0};

asio::awaitable<std::uint64_t> asio_consumer(channel* ch) {
  std::uint64_t sum = 0;
  for (;;) {
    const std::uint64_t v = co_await ch->async_receive(asio::use_awaitable);
    if (v == end_of_items) break;
    sum += v;
  }
  co_return sum;
}

asio::awaitable<std::uint64_t> asio_producers(channel* ch, std::uint64_t pairs) {
  std::vector<asio::awaitable<std::uint64_t>> ps;
  for (std::uint64_t p = 0; p < pairs; ++p)
    ps.push_back(asio_producer(ch, items * p / pairs, items * (p + 1) / pairs));
  co_await asio_baseline::gather(std::move(ps));
  for (std::uint64_t c = 0; c < pairs; ++c)
    co_await ch->async_send(asio::error_code{}, end_of_items, asio::use_awaitable);
  co_return 0;
}

asio::awaitable<std::uint64_t> asio_consumers(channel* ch, std::uint64_t pairs) {
  std::vector<asio::awaitable<std::uint64_t>> cs;
  for (std::uint64_t c = 0; c < pairs; ++c) cs.push_back(asio_consumer(ch));
  const std::vector<std::uint64_t> sums = co_await asio_baseline::gather(std::move(cs));
  std::uint64_t sum = 0;
  for (auto s : sums) sum += s;
  co_return sum;
}

asio::awaitable<std::uint64_t> on_asio(std::uint64_t pairs) {
  channel ch(co_await asio::this_coro::executor, capacity);
  auto [sum, none] =
      co_await asio_baseline::gather(asio_consumers(&ch, pairs), asio_producers(&ch, pairs));
  (void)none;
  co_return sum;
}
}  // namespace queue_bench

// ---- wait_for ----------------------------------------------------------------------------------

namespace wait_for_bench {
constexpr std::uint64_t n = 200'000;

coreio::task<std::uint64_t> quick(std::uint64_t i) { co_return i; }

coreio::task<std::uint64_t> on_coreio() {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += co_await coreio::wait_for(quick(i), 1s);
  co_return sum;
}

asio::awaitable<std::uint64_t> asio_quick(std::uint64_t i) { co_return i; }

asio::awaitable<std::uint64_t> on_asio() {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    asio::steady_timer timer(ex, 1s);
    auto r = co_await (asio_quick(i) || timer.async_wait(asio::use_awaitable));
    if (r.index() == 0) sum += std::get<0>(r);
  }
  co_return sum;
}
}  // namespace wait_for_bench

void register_all() {
  register_pair(
      "sync", "mutex_uncontended", t, mutex_bench::uncontended_n, mutex_bench::uncontended_n,
      [] { return mutex_bench::uncontended_coreio(); },
      [] { return mutex_bench::uncontended_asio(); });
  constexpr std::uint64_t locks = mutex_bench::tasks * mutex_bench::per_task;
  register_pair(
      "sync", "mutex_contended", t, locks, locks, [] { return mutex_bench::contended_coreio(); },
      [] { return mutex_bench::contended_asio(); });
  constexpr std::uint64_t permits = semaphore_bench::tasks * semaphore_bench::per_task;
  register_pair(
      "sync", "semaphore", t, permits, permits, [] { return semaphore_bench::on_coreio(); },
      [] { return semaphore_bench::on_asio(); });
  for (std::uint64_t pairs : {1u, 4u}) {
    const char* name = pairs == 1 ? "queue_1pair" : "queue_4pairs";
    register_pair(
        "sync", name, t, queue_bench::items, queue_bench::expected(),
        [pairs] { return queue_bench::on_coreio(pairs); },
        [pairs] { return queue_bench::on_asio(pairs); });
  }
  register_pair(
      "sync", "wait_for", t, wait_for_bench::n, wait_for_bench::n * (wait_for_bench::n - 1) / 2,
      [] { return wait_for_bench::on_coreio(); }, [] { return wait_for_bench::on_asio(); });
}

}  // namespace
}  // namespace coreio_bench

int main(int argc, char** argv) {
  return coreio_bench::run_main(argc, argv, coreio_bench::register_all);
}
