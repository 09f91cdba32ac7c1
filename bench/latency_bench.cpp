// Wake-to-run latency beside a busy worker, on 2 workers, 1,000 rounds each; p50 and p99 in µs.
//
//   wake_busy_worker   task A sets a future that task B waits on, then computes for 5 ms without
//                      suspending; latency = B's resumption - the set. B should resume on the idle
//                      worker at once, not after A's busy period.
//   timer_busy_worker  gather(sleeper, busy): the sleeper (first child, inline on this worker)
//                      sleeps 1 ms; the second child, if it runs on the sleeper's worker, computes
//                      for 5 ms there; latency = how late the sleep ends. Rounds where the busy
//                      child ran elsewhere do not count (at most 4,000 attempts).
//
// Names: latency/<workload>/coreio/threads:2 (no Asio baseline: bench/summary.py shows "-").
// Counters: p50_us, p99_us, max_us, rounds (counted). The figures are also printed on stdout.
#include "support.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

namespace coreio_bench {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr int threads = default_threads;
constexpr int rounds = 1000;
constexpr auto wake_busy = 5ms;
constexpr auto timer_sleep = 1ms;
constexpr auto timer_busy = 5ms;
constexpr int timer_max_attempts = 4 * rounds;

void spin_for(steady::duration d) {
  const auto end = steady::now() + d;
  while (steady::now() < end) {
  }
}

std::int64_t ns(steady::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

/// Yields until *flag is set (bounded: false after 10 s).
coreio::task<bool> yield_until_set(const std::atomic<bool>* flag) {
  const auto deadline = steady::now() + 10s;
  while (!flag->load()) {
    if (steady::now() >= deadline) co_return false;
    co_await coreio::yield_now();
  }
  co_return true;
}

// ---- wake_busy_worker --------------------------------------------------------------------------

struct wake_probe {
  std::atomic<bool> about_to_wait{false};
  steady::time_point resumed{};
};

coreio::task<void> await_future(coreio::future<void>* f, wake_probe* w) {
  w->about_to_wait.store(true);
  co_await *f;
  w->resumed = steady::now();
}

/// `rounds` rounds; the calling task is A. Appends each round's latency in ns.
coreio::task<void> wake_rounds(std::vector<std::int64_t>* out) {
  for (int i = 0; i < rounds; ++i) {
    coreio::promise<void> p;
    auto f = p.get_future();
    wake_probe w;
    auto b = coreio::spawn(await_future(&f, &w));
    const bool waiting = co_await yield_until_set(&w.about_to_wait);
    const steady::time_point set_at = steady::now();
    p.set_value();
    spin_for(wake_busy);
    co_await b;
    if (waiting) out->push_back(ns(w.resumed - set_at));
  }
}

// ---- timer_busy_worker -------------------------------------------------------------------------

struct timer_probe {
  std::atomic<int> sleeper_worker{-1};
  std::atomic<bool> sleeper_done{false};
  steady::time_point sleep_started{};
  steady::time_point sleep_ended{};
  bool counted = false;
};

coreio::task<void> timed_sleeper(timer_probe* p) {
  p->sleep_started = steady::now();
  p->sleeper_worker.store(coreio::current_worker());
  co_await coreio::sleep_for(timer_sleep);
  p->sleep_ended = steady::now();
  p->sleeper_done.store(true);
}

coreio::task<void> busy_if_same_worker(timer_probe* p) {
  const auto deadline = steady::now() + 2s;
  while (p->sleeper_worker.load() < 0 && steady::now() < deadline) co_await coreio::yield_now();
  if (p->sleeper_worker.load() != coreio::current_worker() || p->sleeper_done.load()) co_return;
  p->counted = true;
  spin_for(timer_busy);
}

/// Up to timer_max_attempts rounds until `rounds` are counted. Appends each counted round's
/// lateness in ns; *attempts gets the rounds run.
coreio::task<void> timer_rounds(std::vector<std::int64_t>* out, int* attempts) {
  *attempts = 0;
  while (*attempts < timer_max_attempts && static_cast<int>(out->size()) < rounds) {
    ++*attempts;
    timer_probe p;
    auto done = co_await coreio::gather(timed_sleeper(&p), busy_if_same_worker(&p));
    (void)done;
    if (p.counted) out->push_back(ns(p.sleep_ended - p.sleep_started - timer_sleep));
  }
}

// ---- reporting ---------------------------------------------------------------------------------

/// The q-quantile (0..1) of sorted values, in µs.
double quantile_us(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]) / 1000.0;
}

void report(benchmark::State& state, const char* name, std::vector<std::int64_t> v, int attempts) {
  std::sort(v.begin(), v.end());
  const double p50 = quantile_us(v, 0.50);
  const double p99 = quantile_us(v, 0.99);
  const double max = v.empty() ? 0 : static_cast<double>(v.back()) / 1000.0;
  state.counters["p50_us"] = benchmark::Counter(p50);
  state.counters["p99_us"] = benchmark::Counter(p99);
  state.counters["max_us"] = benchmark::Counter(max);
  state.counters["rounds"] = benchmark::Counter(static_cast<double>(v.size()));
  std::printf("%s: %zu rounds counted of %d, p50 %.1f us, p99 %.1f us, max %.1f us\n", name,
              v.size(), attempts, p50, p99, max);
  std::fflush(stdout);
  if (v.empty()) state.SkipWithError("no round counted");
}

void run_wake(benchmark::State& state) {
  coreio::runtime rt{coreio::runtime_options{.workers = threads}};
  for (auto _ : state) {
    std::vector<std::int64_t> v;
    v.reserve(rounds);
    rt.block_on(wake_rounds(&v));
    report(state, "latency/wake_busy_worker", std::move(v), rounds);
  }
}

void run_timer(benchmark::State& state) {
  coreio::runtime rt{coreio::runtime_options{.workers = threads}};
  for (auto _ : state) {
    std::vector<std::int64_t> v;
    v.reserve(rounds);
    int attempts = 0;
    rt.block_on(timer_rounds(&v, &attempts));
    report(state, "latency/timer_busy_worker", std::move(v), attempts);
  }
}

void register_all() {
  benchmark::RegisterBenchmark(bench_name("latency", "wake_busy_worker", "coreio", threads).c_str(),
                               run_wake)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1);
  benchmark::RegisterBenchmark(
      bench_name("latency", "timer_busy_worker", "coreio", threads).c_str(), run_timer)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1);
}

}  // namespace
}  // namespace coreio_bench

int main(int argc, char** argv) {
  return coreio_bench::run_main(argc, argv, coreio_bench::register_all);
}
