// Scheduler benchmarks: spawn, fib, skynet, yield and ping-pong, each run on
// coreio and on the plain-Asio pool (bench/baseline/asio_pool.hpp) with the
// same number of threads, in the same process. fib and skynet also run on a
// one-worker coreio runtime, to show what the second worker adds.
//
// Names: sched/<workload>/<coreio|asio>/threads:<n> (bench/summary.py pairs them).
// Counters: items_per_second (tasks, yields or round trips per second of wall
// time), ns_per_task_thread (CPU time of all threads per item), rss_growth_kb.
#include "support.hpp"
#include "workloads/fib.hpp"
#include "workloads/pingpong.hpp"
#include "workloads/skynet.hpp"
#include "workloads/spawn.hpp"
#include "workloads/yield.hpp"

#include <benchmark/benchmark.h>

namespace coreio_bench {
namespace {

void register_all() {
  constexpr int t = default_threads;
  {
    constexpr auto n = spawn::default_n;
    register_pair(
        "sched", "spawn", t, spawn::tasks(n), spawn::expected(n),
        [] { return spawn::on_coreio(n); }, [] { return spawn::on_asio(n); });
  }
  {
    constexpr auto n = fib::default_n;
    register_pair(
        "sched", "fib", t, fib::tasks(n), fib::expected(n), [] { return fib::on_coreio(n); },
        [] { return fib::on_asio(n); });
    register_coreio("sched", "fib", 1, fib::tasks(n), fib::expected(n),
                    [] { return fib::on_coreio(n); });
  }
  {
    constexpr auto n = skynet::default_leaves;
    register_pair(
        "sched", "skynet", t, skynet::tasks(n), skynet::expected(n),
        [] { return skynet::on_coreio(0, n); }, [] { return skynet::on_asio(0, n); });
    register_coreio("sched", "skynet", 1, skynet::tasks(n), skynet::expected(n),
                    [] { return skynet::on_coreio(0, n); });
  }
  {
    constexpr auto tasks = yield::default_tasks;
    constexpr auto yields = yield::default_yields;
    register_pair(
        "sched", "yield", t, yield::ops(tasks, yields), yield::expected(tasks, yields),
        [] { return yield::on_coreio(tasks, yields); },
        [] { return yield::on_asio(tasks, yields); });
  }
  {
    constexpr auto rounds = pingpong::default_rounds;
    register_pair(
        "sched", "pingpong", t, pingpong::ops(rounds), pingpong::expected(rounds),
        [] { return pingpong::on_coreio(rounds); }, [] { return pingpong::on_asio(rounds); });
  }
}

}  // namespace
}  // namespace coreio_bench

int main(int argc, char** argv) {
  return coreio_bench::run_main(argc, argv, coreio_bench::register_all);
}
