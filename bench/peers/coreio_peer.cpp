// coreio's program for the shared side-by-side harness (shared/peers, see its
// README.md for the workloads and the result line). The workloads are the
// coreio flavours from bench/workloads/, the same code the Google Benchmark
// suites run.
//
// Usage: coreio_peer [--threads N] <workload> [args...]
//   spawn N | fib N | skynet LEAVES | yield TASKS YIELDS | timers N MAX_MS
//   http-server PORT   (GET /hello.txt on 127.0.0.1:PORT with http::server until SIGTERM/SIGINT)
//   echo-server PORT   (TCP echo on 127.0.0.1:PORT until SIGTERM/SIGINT; run.sh drives the load;
//                       net::serve, or with COREIO_ECHO=loop the plain accept-and-spawn loop)
//   http-client N CONC URL  (N GETs, CONC in flight, with http::client; it sends the request the
//                       other peers send, Host and Accept, or with COREIO_PEER_DEFAULT_HEADERS=1
//                       the client's default headers as well)
//   The servers (when they stop) and http-client (at its end) print the runtime's metrics
//   (Prometheus text) on stderr if COREIO_PEER_METRICS=1: steals, loop steals, parks, stuck
//   workers of the run.
//   coreio_peer --version
//
// Prints one line:
//   workload=<w> impl=coreio threads=<n> n=<size> seconds=<wall> rate=<ops/s>
//   checksum=<value> [tasks=... yields=... max_ms=...] self_rss_kb=<VmHWM>
// `seconds` runs from just before the first spawn (inside the root task, after
// the runtime has started) to the moment the root has the result.
#include "../workloads/fib.hpp"
#include "../workloads/skynet.hpp"
#include "../workloads/spawn.hpp"
#include "../workloads/timers.hpp"
#include "../workloads/yield.hpp"

#include <coreio/coreio.hpp>
#include <coreio/http.hpp>
#include <coreio/metrics_text.hpp>

#include <signal.h>
#include <unistd.h>

#include <array>
#include <span>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#ifndef COREIO_PEER_VERSION
#define COREIO_PEER_VERSION "unknown"
#endif

namespace {

using clock_type = std::chrono::steady_clock;

// Result of one measured run.
struct timed_result {
  std::uint64_t checksum = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // CPU time of every thread of the process over the same span
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The root task: starts the clock, runs the workload (whose first action is
// the first spawn), stops the clock when the result is in hand.
coreio::task<timed_result> timed(coreio::task<std::uint64_t> workload) {
  const auto t0 = clock_type::now();
  const double c0 = process_cpu_seconds();
  const std::uint64_t v = co_await std::move(workload);
  const double c1 = process_cpu_seconds();
  const double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
  co_return timed_result{v, dt, c1 - c0};
}

long vm_hwm_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "coreio_peer: %s\n"
               "usage: coreio_peer [--threads N] <workload> [args...]\n"
               "  spawn N | fib N | skynet LEAVES | yield TASKS YIELDS | timers N MAX_MS\n"
               "  http-client N CONC URL | echo-server PORT | http-server PORT\n",
               msg);
  std::exit(2);
}

std::uint64_t arg_u64(int argc, char** argv, int i, std::uint64_t fallback) {
  if (i >= argc) return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0') usage("bad number");
  return v;
}

/// thread_ns_per_op: CPU time of all threads over the run (idle workers searching or parked
/// included) per counted operation, beside the wall-clock rate.
void emit(const char* workload, int threads, std::uint64_t n, const timed_result& r, double ops,
          const std::string& extra) {
  std::printf(
      "workload=%s impl=coreio threads=%d n=%llu seconds=%.6f rate=%.1f checksum=%llu%s "
      "thread_ns_per_op=%.1f self_rss_kb=%ld\n",
      workload, threads, static_cast<unsigned long long>(n), r.seconds,
      r.seconds > 0 ? ops / r.seconds : 0.0, static_cast<unsigned long long>(r.checksum),
      extra.c_str(), ops > 0 ? r.cpu_seconds * 1e9 / ops : 0.0, vm_hwm_kb());
  std::fflush(stdout);
}

}  // namespace

namespace {

// ---- http-client: N GETs of URL, at most CONC in flight, keep-alive (coreio::http::client) ------

/// Request latencies in microseconds, in log-linear buckets: 64 per power of two (a bucket is at
/// most 1/64 = 1.6% wide; a percentile is reported as its bucket's upper bound), exact below
/// 64 us; 3776 counters, 30 KiB whatever N is, so that the peak RSS the harness reports does not
/// grow with N (it stored every sample: 0.4 MB and a sorted copy at 100k; the other peers record
/// no latencies).
class latency_histogram {
 public:
  void add(std::uint64_t us) noexcept {
    // Relaxed: counts only; gather's join orders every add before percentile().
    counts_[bucket(us)].fetch_add(1, std::memory_order_relaxed);
  }
  /// The upper bound of the bucket holding the q-th fraction of the samples (0 if none).
  std::uint64_t percentile(double q) const noexcept {
    std::uint64_t total = 0;
    for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
    if (total == 0) return 0;
    const auto rank =
        std::min(total - 1, static_cast<std::uint64_t>(q * static_cast<double>(total)));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < counts_.size(); ++b) {
      seen += counts_[b].load(std::memory_order_relaxed);
      if (seen > rank) return upper(b);
    }
    return upper(counts_.size() - 1);
  }

 private:
  static constexpr unsigned sub_bits = 6;  // 64 buckets per power of two
  static constexpr std::size_t bucket_count = (64 - sub_bits + 1) << sub_bits;
  static std::size_t bucket(std::uint64_t v) noexcept {
    if (v < (1u << sub_bits)) return static_cast<std::size_t>(v);
    const unsigned top = 63u - static_cast<unsigned>(__builtin_clzll(v));  // >= sub_bits
    const unsigned shift = top - sub_bits;
    return (static_cast<std::size_t>(shift + 1) << sub_bits) +
           static_cast<std::size_t>((v >> shift) & ((1u << sub_bits) - 1));
  }
  static std::uint64_t upper(std::size_t b) noexcept {
    if (b < (1u << sub_bits)) return b;
    const unsigned shift = static_cast<unsigned>(b >> sub_bits) - 1;
    const std::uint64_t mantissa = (1u << sub_bits) + (b & ((1u << sub_bits) - 1));
    return ((mantissa + 1) << shift) - 1;
  }
  std::array<std::atomic<std::uint64_t>, bucket_count> counts_{};
};

struct http_client_state {
  std::uint64_t n = 0;
  std::atomic<std::uint64_t> next{0}, ok{0}, bad{0}, bytes{0};
  latency_histogram latency;
};

/// One of CONC loops: takes the next request number until N, GETs, reads the body, records the
/// latency (microseconds) in the shared histogram.
coreio::task<void> http_fetcher(coreio::http::client* session, const std::string* url,
                                http_client_state* st) {
  while (st->next.fetch_add(1, std::memory_order_relaxed) < st->n) {
    const auto t0 = clock_type::now();
    try {
      coreio::http::response r = co_await session->get(*url);
      const std::string body = co_await r.read();
      if (r.status() == 200) {
        st->ok.fetch_add(1, std::memory_order_relaxed);
        st->bytes.fetch_add(body.size(), std::memory_order_relaxed);
      } else {
        st->bad.fetch_add(1, std::memory_order_relaxed);
      }
    } catch (const std::exception&) {
      st->bad.fetch_add(1, std::memory_order_relaxed);
    }
    st->latency.add(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0).count()));
  }
}

struct http_client_result {
  timed_result r;
  std::uint64_t ok = 0, bad = 0;
  std::uint64_t p50_us = 0, p99_us = 0;
};

coreio::task<http_client_result> http_client_run(std::uint64_t n, std::size_t conc,
                                                 std::string url) {
  coreio::http::client_options opts{.limit = conc};
  // https URLs: an extra CA (e.g. a test CA of the harness's nginx) from the environment.
  if (const char* ca = std::getenv("COREIO_PEER_CA_FILE")) opts.ca_file = ca;
  // The request the other http-client peers send: Host and Accept only (hyper sends Host, libcurl
  // Host and Accept, the raw Asio loop Host and Connection). The client's defaults add User-Agent
  // and Accept-Encoding, as aiohttp's do, and nginx spends about 2,200 instructions more on each
  // request that carries them (callgrind over nginx: 13,591 against 11,426 per GET).
  // COREIO_PEER_DEFAULT_HEADERS=1 sends the defaults.
  if (std::getenv("COREIO_PEER_DEFAULT_HEADERS") == nullptr) {
    opts.user_agent = "";
    opts.auto_decompress = false;
  }
  coreio::http::client session{opts};
  http_client_state st;
  st.n = n;
  const auto t0 = clock_type::now();
  std::vector<coreio::task<void>> loops;
  for (std::size_t i = 0; i < conc; ++i) loops.push_back(http_fetcher(&session, &url, &st));
  co_await coreio::gather(std::move(loops));
  http_client_result res;
  res.r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  co_await session.close();
  res.r.checksum = st.bytes.load(std::memory_order_relaxed);
  res.ok = st.ok.load(std::memory_order_relaxed);
  res.bad = st.bad.load(std::memory_order_relaxed);
  res.p50_us = st.latency.percentile(0.50);
  res.p99_us = st.latency.percentile(0.99);
  co_return res;
}

/// One echo connection: read what arrives, write it back, until the peer closes.
coreio::task<void> echo_connection(coreio::net::tcp_stream s) {
  s.set_nodelay(true);
  std::array<std::byte, 4096> buf;
  for (;;) {
    const std::size_t n = co_await s.read_some(std::span(buf));
    if (n == 0) co_return;
    co_await s.write_all(std::span<const std::byte>(buf.data(), n));
  }
}

coreio::task<void> echo_server(std::uint16_t port) {
  auto srv =
      coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", port), echo_connection);
  co_await srv.wait();  // until the runtime is destroyed (which cancels it)
}

/// The same server as a user of asyncio writes it: accept, spawn a task per connection.
coreio::task<void> echo_accept_loop(std::uint16_t port) {
  auto lis = coreio::net::tcp_listener::bind("127.0.0.1", port);
  for (;;) {
    coreio::net::tcp_stream s = co_await lis.accept();
    coreio::spawn(echo_connection(std::move(s))).detach();
  }
}

/// COREIO_PEER_METRICS=1: the runtime's metrics (Prometheus text) on stderr when a server stops or
/// the http-client run ends, to see where a run's time went (steals, loop steals, parks).
void print_metrics_if_asked(const coreio::runtime& rt) {
  const char* v = std::getenv("COREIO_PEER_METRICS");
  if (v == nullptr || std::strcmp(v, "1") != 0) return;
  std::fputs(coreio::metrics_text(rt).c_str(), stderr);
}

/// Runs a server task; if it fails (its bind refused, say), sends the process SIGTERM so that the
/// sigwait in serve_echo or serve_http returns and the failure is printed, instead of the process
/// waiting for a signal with nothing listening.
std::atomic<bool> g_server_failed{false};

coreio::task<void> waking_main_on_failure(coreio::task<void> server) {
  std::exception_ptr failure;
  try {
    co_await std::move(server);
  } catch (const coreio::cancelled_error&) {
    throw;  // the runtime's destructor cancelling the echo server: the normal end
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // Relaxed is enough: sigwait returning orders nothing, so main reads the error through
    // h.get(), which waits for this task to end and synchronizes with its end.
    g_server_failed.store(true, std::memory_order_relaxed);
    kill(getpid(), SIGTERM);
    std::rethrow_exception(failure);
  }
}

/// Serves until SIGTERM or SIGINT; the signals are blocked in every thread and taken by sigwait.
int serve_echo(int threads, std::uint16_t port) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the workers start: they inherit the mask
  coreio::runtime rt{coreio::runtime_options{.workers = static_cast<std::size_t>(threads)}};
  // COREIO_ECHO=loop: the plain accept-and-spawn loop instead of net::serve.
  const char* mode = std::getenv("COREIO_ECHO");
  const bool loop = mode != nullptr && std::strcmp(mode, "loop") == 0;
  auto h = rt.spawn(waking_main_on_failure(loop ? echo_accept_loop(port) : echo_server(port)));
  int sig = 0;
  sigwait(&set, &sig);
  if (g_server_failed.load(std::memory_order_relaxed)) h.get();  // throws the server's error
  print_metrics_if_asked(rt);
  return 0;  // ~runtime cancels the server and its connections
}

// ---- http-server: GET /hello.txt -> "Hello, World!" on http::server until SIGTERM/SIGINT ------
std::atomic<coreio::http::server*> g_http_server{nullptr};

coreio::task<void> http_server(std::uint16_t port) {
  coreio::http::server_options opts{};
  opts.drain_timeout = std::chrono::milliseconds(2000);
  coreio::http::server srv{opts};
  srv.route("GET", "/hello.txt",
            [](coreio::http::request&) -> coreio::task<coreio::http::response> {
              co_return coreio::http::response{200, "Hello, World!"};
            });
  srv.bind("127.0.0.1", port);
  g_http_server.store(&srv);
  co_await srv.serve();
  g_http_server.store(nullptr);
}

/// Serves until SIGTERM or SIGINT, then stops the server gracefully and waits for its drain.
int serve_http(int threads, std::uint16_t port) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the workers start: they inherit the mask
  coreio::runtime rt{coreio::runtime_options{.workers = static_cast<std::size_t>(threads)}};
  auto h = rt.spawn(waking_main_on_failure(http_server(port)));
  int sig = 0;
  sigwait(&set, &sig);
  if (coreio::http::server* s = g_http_server.load()) s->stop();
  h.get();
  print_metrics_if_asked(rt);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int i = 1;
  for (; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
      if (threads <= 0) usage("--threads needs a positive count");
    } else if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("coreio %s\n", COREIO_PEER_VERSION);
      return 0;
    } else {
      break;
    }
  }
  if (i >= argc) usage("no workload");
  const std::string workload = argv[i++];
  if (workload == "http-server") {
    try {
      return serve_http(threads, static_cast<std::uint16_t>(arg_u64(argc, argv, i, 18080)));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "coreio_peer: http-server: %s\n", e.what());
      return 1;
    }
  }
  if (workload == "echo-server") {
    try {
      return serve_echo(threads, static_cast<std::uint16_t>(arg_u64(argc, argv, i, 18080)));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "coreio_peer: echo-server: %s\n", e.what());
      return 1;
    }
  }

  try {
    coreio::runtime rt{coreio::runtime_options{
        .workers = static_cast<decltype(coreio::runtime_options::workers)>(threads)}};
    if (workload == "spawn") {
      const std::uint64_t n = arg_u64(argc, argv, i, coreio_bench::spawn::default_n);
      const auto r = rt.block_on(timed(coreio_bench::spawn::on_coreio(n)));
      emit("spawn", threads, n, r, double(coreio_bench::spawn::tasks(n)), "");
    } else if (workload == "fib") {
      const auto n = int(arg_u64(argc, argv, i, coreio_bench::fib::default_n));
      const auto r = rt.block_on(timed(coreio_bench::fib::on_coreio(n)));
      const std::uint64_t tasks = coreio_bench::fib::tasks(n);
      emit("fib", threads, std::uint64_t(n), r, double(tasks), " tasks=" + std::to_string(tasks));
    } else if (workload == "skynet") {
      const std::uint64_t leaves = arg_u64(argc, argv, i, coreio_bench::skynet::default_leaves);
      const auto r = rt.block_on(timed(coreio_bench::skynet::on_coreio(0, leaves)));
      const std::uint64_t tasks = coreio_bench::skynet::tasks(leaves);
      emit("skynet", threads, leaves, r, double(tasks), " tasks=" + std::to_string(tasks));
    } else if (workload == "yield") {
      const std::uint64_t ntasks = arg_u64(argc, argv, i, coreio_bench::yield::default_tasks);
      const std::uint64_t yields = arg_u64(argc, argv, i + 1, coreio_bench::yield::default_yields);
      const auto r = rt.block_on(timed(coreio_bench::yield::on_coreio(ntasks, yields)));
      const std::uint64_t ops = coreio_bench::yield::ops(ntasks, yields);
      emit("yield", threads, ops, r, double(ops),
           " tasks=" + std::to_string(ntasks) + " yields=" + std::to_string(yields));
    } else if (workload == "timers") {
      const std::uint64_t n = arg_u64(argc, argv, i, coreio_bench::timers::default_n);
      const auto max_ms =
          std::uint32_t(arg_u64(argc, argv, i + 1, coreio_bench::timers::default_max_ms));
      const auto r = rt.block_on(timed(coreio_bench::timers::on_coreio(n, max_ms)));
      emit("timers", threads, n, r, double(n), " max_ms=" + std::to_string(max_ms));
    } else if (workload == "http-client") {
      const std::uint64_t n = arg_u64(argc, argv, i, 10000);
      const auto conc = static_cast<std::size_t>(arg_u64(argc, argv, i + 1, 100));
      if (i + 2 >= argc) usage("http-client needs N CONC URL");
      const std::string url = argv[i + 2];
      const auto res = rt.block_on(http_client_run(n, conc == 0 ? 1 : conc, url));
      emit("http-client", threads, n, res.r, double(res.ok),
           " ok=" + std::to_string(res.ok) + " errors=" + std::to_string(res.bad) +
               " conc=" + std::to_string(conc) + " p50_us=" + std::to_string(res.p50_us) +
               " p99_us=" + std::to_string(res.p99_us));
      print_metrics_if_asked(rt);
    } else {
      usage(("unknown workload " + workload).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "coreio_peer: %s: %s\n", workload.c_str(), e.what());
    return 1;
  }
  return 0;
}
