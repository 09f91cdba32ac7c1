// Timer benchmarks: 100,000 concurrent sleeps of ms(i) in [0, 100] ms, on
// coreio and on the plain-Asio pool with the same number of threads. The rate
// is bounded by the longest sleep, so the figures to read are the CPU time
// per timer (ns_per_task_thread) and the resident-set growth (rss_growth_kb:
// VmHWM after the run minus VmRSS before, see support.hpp) of one run.
//
// Names: timer/timers/<coreio|asio>/threads:<n> (bench/summary.py pairs them).
#include "support.hpp"
#include "workloads/timers.hpp"

#include <benchmark/benchmark.h>

namespace coreio_bench {
namespace {

void register_all() {
  constexpr int t = default_threads;
  constexpr auto n = timers::default_n;
  constexpr auto max_ms = timers::default_max_ms;
  const std::uint64_t expected = timers::expected(n, max_ms);
  register_pair(
      "timer", "timers", t, n, expected, [] { return timers::on_coreio(n, max_ms); },
      [] { return timers::on_asio(n, max_ms); });
}

}  // namespace
}  // namespace coreio_bench

int main(int argc, char** argv) {
  return coreio_bench::run_main(argc, argv, coreio_bench::register_all);
}
