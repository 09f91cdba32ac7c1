// Blocking-pool benchmarks: hand a call to another thread and get its result back, on coreio
// (co_await coreio::to_thread on the runtime's blocking pool) and on the baseline an Asio user
// would write without coreio (asio::post to an asio::thread_pool, the result back through a
// std::promise / std::future), in the same process.
//
//   roundtrip  one caller, n sequential calls: the latency of one hand-off and return. coreio: a
//              task on a worker awaits each call; baseline: the benchmark thread blocks on each
//              future.
//   batch      n calls in flight at once on a pool of k_batch_pool threads, then all results
//              collected: throughput of the queue. coreio: one task gathers n to_thread calls
//              (the blocking pool bounded to k_batch_pool threads); baseline: n posts, then n
//              get()s.
//
// The calls themselves do nothing (return their index), so the figures are the cost of the
// machinery. Names: blocking/<workload>/<coreio|asio>/threads:<workers> ("asio" is the baseline,
// so bench/summary.py pairs the two rows; threads is the coreio worker count, the baseline's
// caller being the benchmark thread). items_per_second = calls per second of wall time.
#include "support.hpp"

#include <asio/post.hpp>
#include <asio/thread_pool.hpp>

#include <benchmark/benchmark.h>

#include <coreio/to_thread.hpp>

#include <cstdint>
#include <future>
#include <vector>

namespace coreio_bench {
namespace {

constexpr std::uint64_t k_roundtrips = 10'000;
constexpr std::uint64_t k_batch_calls = 10'000;
constexpr std::size_t k_batch_pool = 4;

constexpr std::uint64_t index_sum(std::uint64_t n) { return n * (n - 1) / 2; }

// ---- coreio ------------------------------------------------------------------------------------

coreio::task<std::uint64_t> roundtrips_on_coreio(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += co_await coreio::to_thread([i] { return i; });
  co_return sum;
}

// All n calls in flight at once from one task, as the baseline posts them all from one thread:
// a gather of n to_thread tasks (each submits its call, then waits on its own result).
coreio::task<std::uint64_t> batch_on_coreio(std::uint64_t n) {
  std::vector<coreio::task<std::uint64_t>> calls;
  calls.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) calls.push_back(coreio::to_thread([i] { return i; }));
  std::uint64_t sum = 0;
  for (std::uint64_t v : co_await coreio::gather(std::move(calls))) sum += v;
  co_return sum;
}

void register_coreio_blocking(const char* workload, std::uint64_t n, std::size_t blocking_threads,
                              coreio::task<std::uint64_t> (*root)(std::uint64_t)) {
  configure(benchmark::RegisterBenchmark(
      bench_name("blocking", workload, "coreio", default_threads).c_str(),
      [=](benchmark::State& state) {
        coreio::runtime rt{coreio::runtime_options{.workers = default_threads,
                                                   .blocking_threads = blocking_threads}};
        measure(state, n, index_sum(n), [&] { return rt.block_on(root(n)); });
      }));
}

// ---- baseline: asio::thread_pool + std::promise / std::future
// ------------------------------------

std::uint64_t roundtrips_on_thread_pool(asio::thread_pool& pool, std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::promise<std::uint64_t> p;
    std::future<std::uint64_t> f = p.get_future();
    asio::post(pool, [&p, i] { p.set_value(i); });
    sum += f.get();
  }
  return sum;
}

std::uint64_t batch_on_thread_pool(asio::thread_pool& pool, std::uint64_t n) {
  std::vector<std::promise<std::uint64_t>> ps(n);
  std::vector<std::future<std::uint64_t>> fs;
  fs.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    fs.push_back(ps[i].get_future());
    asio::post(pool, [p = &ps[i], i] { p->set_value(i); });
  }
  std::uint64_t sum = 0;
  for (auto& f : fs) sum += f.get();
  return sum;
}

void register_thread_pool(const char* workload, std::uint64_t n, std::size_t pool_threads,
                          std::uint64_t (*run)(asio::thread_pool&, std::uint64_t)) {
  configure(benchmark::RegisterBenchmark(
      bench_name("blocking", workload, "asio", default_threads).c_str(),
      [=](benchmark::State& state) {
        asio::thread_pool pool(pool_threads);
        measure(state, n, index_sum(n), [&] { return run(pool, n); });
        pool.join();
      }));
}

void register_all() {
  // A sequential caller keeps at most one or two pool threads busy; the default bound of 64 is
  // never reached, so the baseline pool gets two threads.
  register_coreio_blocking("roundtrip", k_roundtrips, 64, roundtrips_on_coreio);
  register_thread_pool("roundtrip", k_roundtrips, 2, roundtrips_on_thread_pool);
  register_coreio_blocking("batch", k_batch_calls, k_batch_pool, batch_on_coreio);
  register_thread_pool("batch", k_batch_calls, k_batch_pool, batch_on_thread_pool);
}

}  // namespace
}  // namespace coreio_bench

int main(int argc, char** argv) {
  return coreio_bench::run_main(argc, argv, coreio_bench::register_all);
}
