// Shared plumbing for the Google Benchmark suites in bench/: the per-process
// measurements (CPU time, resident set), the loop that runs one workload per
// iteration and checks its checksum, and the registration defaults every
// suite uses. The workloads themselves live in bench/workloads/.
#pragma once

#include "baseline/asio_pool.hpp"

#include <benchmark/benchmark.h>

#include <coreio/coreio.hpp>

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace coreio_bench {

/// Worker threads the side-by-side benchmarks use for both coreio and Asio.
inline constexpr int default_threads = 2;

/// CPU time consumed so far by every thread of this process, in ns.
inline double process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

/// Reads one "Key:   123 kB" field of /proc/self/status, in kB (-1 if absent).
inline long proc_status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t len = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, len, key) == 0 && line.size() > len && line[len] == ':') {
      return std::stol(line.substr(len + 1));
    }
  }
  return -1;
}

/// Measures how far the resident set grows while a workload runs.
///
/// getrusage's maxrss is the peak of the whole process, so it cannot tell one
/// workload from the one before. Instead the kernel's peak (VmHWM) is reset to
/// the current RSS by writing 5 to /proc/self/clear_refs (Linux >= 4.0) before
/// the workload; afterwards VmHWM - (RSS before) is the workload's own peak
/// growth. Where the reset is refused, the RSS growth from before to after is
/// reported instead (a lower bound).
class rss_probe {
 public:
  rss_probe() {
    if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
      hwm_reset_ = std::fputs("5", f) >= 0;
      hwm_reset_ = (std::fclose(f) == 0) && hwm_reset_;
    }
    before_kb_ = proc_status_kb("VmRSS");
  }

  /// Peak growth of the resident set since construction, in kB.
  long growth_kb() const {
    const long after = proc_status_kb(hwm_reset_ ? "VmHWM" : "VmRSS");
    return (after < 0 || before_kb_ < 0 || after < before_kb_) ? 0 : after - before_kb_;
  }

 private:
  // Whether the kernel accepted the VmHWM reset.
  bool hwm_reset_ = false;
  // VmRSS when the probe was made.
  long before_kb_ = -1;
};

/// Runs `run_once` (a blocking call returning the workload's checksum) once
/// untimed, then once per benchmark iteration, and reports:
///   items_per_second      `items` per iteration over the wall-clock time;
///   ns_per_task_thread    process CPU time (all threads) per item, in ns;
///   rss_growth_kb         the resident-set growth of the untimed run.
/// The untimed run warms the pool up and starts from a trimmed glibc heap, so
/// that its RSS growth is the workload's own (coreio's mimalloc frames keep
/// what earlier benchmarks in the process freed, so later benchmarks may
/// understate theirs; run one with --benchmark_filter for an exact figure).
/// A run whose checksum differs from `expected` ends the benchmark with
/// SkipWithError.
template <class RunOnce>
void measure(benchmark::State& state, std::uint64_t items, std::uint64_t expected,
             RunOnce&& run_once) {
  const auto check = [&](std::uint64_t got) {
    if (got == expected) return true;
    const std::string msg =
        "checksum " + std::to_string(got) + ", expected " + std::to_string(expected);
    state.SkipWithError(msg.c_str());
    return false;
  };

  malloc_trim(0);
  long rss_kb = 0;
  {
    rss_probe rss;
    const std::uint64_t got = run_once();
    rss_kb = rss.growth_kb();
    if (!check(got)) return;  // the timed loop below then runs no iteration
  }

  double cpu_ns = 0;
  std::int64_t done = 0;
  for (auto _ : state) {
    const double c0 = process_cpu_ns();
    const std::uint64_t got = run_once();
    cpu_ns += process_cpu_ns() - c0;
    if (!check(got)) break;
    done += std::int64_t(items);
  }
  if (done == 0) return;
  state.SetItemsProcessed(done);
  state.counters["ns_per_task_thread"] = benchmark::Counter(cpu_ns / double(done));
  state.counters["rss_growth_kb"] = benchmark::Counter(double(rss_kb));
}

/// Registration defaults: wall-clock time (the pool's threads do the work, not
/// the benchmark thread), a few long iterations, and median/stddev over
/// repetitions instead of single runs. A "max" aggregate is added for
/// rss_growth_kb: allocators keep freed memory for reuse, so only the first
/// repetition in a process sees the full growth and the median understates it.
inline benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b) {
  return b->UseRealTime()
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->Repetitions(3)
      ->ReportAggregatesOnly(true)
      ->ComputeStatistics("max", [](const std::vector<double>& v) {
        return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
      });
}

/// The benchmark name summary.py pairs on: <area>/<workload>/<impl>/threads:<n>.
inline std::string bench_name(const char* area, const char* workload, const char* impl,
                              int threads) {
  return std::string(area) + "/" + workload + "/" + impl + "/threads:" + std::to_string(threads);
}

/// Registers the coreio flavour of a workload at `threads` workers. The
/// runtime is made once per benchmark run, outside the timed loop;
/// `make_root` builds the root task of one run.
template <class MakeRoot>
void register_coreio(const char* area, const char* workload, int threads, std::uint64_t items,
                     std::uint64_t expected, MakeRoot make_root) {
  configure(benchmark::RegisterBenchmark(
      bench_name(area, workload, "coreio", threads).c_str(), [=](benchmark::State& state) {
        coreio::runtime rt{coreio::runtime_options{
            .workers = static_cast<decltype(coreio::runtime_options::workers)>(threads)}};
        measure(state, items, expected, [&] { return rt.block_on(make_root()); });
      }));
}

/// Registers the plain-Asio flavour of a workload on a `threads`-thread pool,
/// made once per benchmark run like the coreio runtime.
template <class MakeRoot>
void register_asio(const char* area, const char* workload, int threads, std::uint64_t items,
                   std::uint64_t expected, MakeRoot make_root) {
  configure(benchmark::RegisterBenchmark(
      bench_name(area, workload, "asio", threads).c_str(), [=](benchmark::State& state) {
        asio_baseline::pool pool(threads);
        measure(state, items, expected, [&] { return pool.block_on(make_root()); });
      }));
}

/// Registers a workload side by side: coreio, then Asio, same thread count.
template <class MakeCoreio, class MakeAsio>
void register_pair(const char* area, const char* workload, int threads, std::uint64_t items,
                   std::uint64_t expected, MakeCoreio make_coreio, MakeAsio make_asio) {
  register_coreio(area, workload, threads, items, expected, make_coreio);
  register_asio(area, workload, threads, items, expected, make_asio);
}

/// The main() of every bench executable: Google Benchmark's flags, then the suite's registrations
/// (made at run time: the names carry the thread count), then the runs.
inline int run_main(int argc, char** argv, void (*register_all)()) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace coreio_bench
