// bench/trace_cost.cpp — what the tracer costs: one workload run, built twice (coreio_trace_cost
// with the tracer's hooks compiled in, coreio_trace_cost_notrace with them compiled out), run by
// bench/trace_cost.py three ways in one go: compiled out, compiled in but off, on (COREIO_TRACE).
//
//   coreio_trace_cost [--threads N] skynet LEAVES     fork-join (workloads/skynet.hpp)
//   coreio_trace_cost [--threads N] echo CONNS TRIPS   loopback TCP echo inside the process: CONNS
//                                                      clients, each TRIPS round trips of 64 bytes
//
// Under callgrind, instructions are counted up to the end of the workload (not the shutdown, which
// writes the trace file).
//
// Prints one line: workload=<w> threads=<n> n=<items> seconds=<wall> rate=<items/s>
// thread_ns_per_op=<CPU time of the process / items> tracing=<0|1> checksum=<value>
#include "workloads/skynet.hpp"

#include <coreio/coreio.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>  // from Debian's valgrind package
#define COREIO_STOP_COUNTING() CALLGRIND_TOGGLE_COLLECT
#else
#define COREIO_STOP_COUNTING() (void)0
#endif

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

coreio::task<void> echo_session(coreio::net::tcp_stream s) {
  std::array<std::byte, 4096> buf;
  for (;;) {
    const std::size_t n = co_await s.read_some(std::span(buf));
    if (n == 0) co_return;
    co_await s.write_all(std::span<const std::byte>(buf.data(), n));
  }
}

coreio::task<std::uint64_t> echo_client(std::uint16_t port, int trips) {
  auto s = co_await coreio::net::tcp_stream::connect("127.0.0.1", port);
  std::array<std::byte, 64> msg{};
  std::uint64_t got = 0;
  for (int i = 0; i < trips; ++i) {
    msg[0] = static_cast<std::byte>(i);
    co_await s.write_all(std::span<const std::byte>(msg));
    co_await s.read_exact(std::span(msg));
    got += std::to_integer<std::uint64_t>(msg[0]);
  }
  co_return got;
}

coreio::task<std::uint64_t> echo(int conns, int trips) {
  auto lis = coreio::net::tcp_listener::bind("127.0.0.1", 0);
  const std::uint16_t port = lis.port();
  auto acceptor = coreio::spawn(
      [](coreio::net::tcp_listener& l, int n) -> coreio::task<void> {
        for (int i = 0; i < n; ++i) coreio::spawn(echo_session(co_await l.accept()), "session");
      }(lis, conns),
      "accept");
  std::vector<coreio::join_handle<std::uint64_t>> clients;
  for (int c = 0; c < conns; ++c)
    clients.push_back(coreio::spawn(echo_client(port, trips), "client"));
  std::uint64_t sum = 0;
  for (auto& h : clients) sum += co_await h;
  co_await acceptor;
  co_return sum;
}

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: coreio_trace_cost [--threads N] skynet LEAVES | echo CONNS TRIPS\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 2;
  int i = 1;
  if (i + 1 < argc && std::string(argv[i]) == "--threads") {
    threads = std::strtoul(argv[i + 1], nullptr, 10);
    i += 2;
  }
  if (i >= argc) usage();
  const std::string workload = argv[i];
  coreio::runtime rt{{.workers = threads}};
  std::uint64_t items = 0, checksum = 0;
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  if (workload == "skynet" && i + 1 < argc) {
    const std::uint64_t leaves = std::strtoull(argv[i + 1], nullptr, 10);
    checksum = rt.block_on(coreio_bench::skynet::on_coreio(0, leaves));
    items = coreio_bench::skynet::tasks(leaves);
    if (checksum != coreio_bench::skynet::expected(leaves)) return 1;
  } else if (workload == "echo" && i + 2 < argc) {
    const int conns = std::atoi(argv[i + 1]);
    const int trips = std::atoi(argv[i + 2]);
    checksum = rt.block_on(echo(conns, trips));
    items = static_cast<std::uint64_t>(conns) * static_cast<std::uint64_t>(trips);
  } else {
    usage();
  }
  // Under callgrind, stop counting here: shutdown, where the trace file is written, is not what
  // the comparison is about (a no-op outside valgrind).
  COREIO_STOP_COUNTING();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  std::printf(
      "workload=%s threads=%zu n=%llu seconds=%.6f rate=%.1f thread_ns_per_op=%.2f "
      "tracing=%d checksum=%llu\n",
      workload.c_str(), threads, static_cast<unsigned long long>(items), secs,
      static_cast<double>(items) / secs, cpu * 1e9 / static_cast<double>(items),
      rt.tracing() ? 1 : 0, static_cast<unsigned long long>(checksum));
  return 0;
}
