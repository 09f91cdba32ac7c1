// examples/hello_server.cpp — the smallest HTTP server: GET /hello.txt -> "Hello, World!" (the
// peers' http-server workload), on http::server; GET /metrics gives the runtime's counters, GET
// /tasks its pending tasks (JSON; ?format=text for the tree).
//
// Usage:
//   hello_server [--threads N] [PORT]   serve on 127.0.0.1:PORT (default 8080) until SIGTERM or
//                                       SIGINT, then stop gracefully
//   hello_server --self-test            serve on a free port, GET /hello.txt and /missing with
//                                       http::client, print what came back, stop (the smoke test)
#include <coreio/coreio.hpp>
#include <coreio/http.hpp>

#include <pthread.h>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

namespace http = coreio::http;
using namespace std::chrono_literals;

namespace {

std::atomic<http::server*> g_server{nullptr};
std::atomic<bool> g_signalled{false};

void add_routes(http::server& srv) {
  srv.route("GET", "/hello.txt", [](http::request&) -> coreio::task<http::response> {
    co_return http::response{200, "Hello, World!"};
  });
  srv.route("GET", "/metrics", http::metrics_handler());  // for Prometheus and tools/coreio-top
  srv.route("GET", "/tasks", http::tasks_handler());      // the task tree, for tools/coreio-top
}

coreio::task<int> serve(std::uint16_t port) {
  http::server_options opts{};
  opts.drain_timeout = 5s;
  http::server srv{opts};
  add_routes(srv);
  const std::uint16_t bound = srv.bind("127.0.0.1", port);
  std::printf("serving on http://127.0.0.1:%u/hello.txt\n", static_cast<unsigned>(bound));
  std::fflush(stdout);
  g_server.store(&srv);
  if (g_signalled.load()) srv.stop();
  co_await srv.serve();
  g_server.store(nullptr);
  co_return 0;
}

coreio::task<void> stop_later(http::server& srv) {
  srv.stop();
  co_return;
}

coreio::task<int> self_test() {
  http::server srv{http::server_options{}};
  add_routes(srv);
  const std::uint16_t port = srv.bind("127.0.0.1", 0);
  coreio::join_handle<void> served = coreio::spawn(srv.serve());
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  {
    http::client session;
    const std::string hello = base + "/hello.txt";
    http::response r = co_await session.get(hello);
    std::string body = co_await r.text();
    std::printf("GET /hello.txt -> %d %s\n", r.status(), body.c_str());
    const std::string missing = base + "/missing";
    http::response m = co_await session.get(missing);
    std::printf("GET /missing -> %d\n", m.status());
    co_await session.close();
  }
  co_await stop_later(srv);
  co_await served;
  std::printf("stopped\n");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 2;
  std::uint16_t port = 8080;
  bool test = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--self-test") {
      test = true;
    } else {
      port = static_cast<std::uint16_t>(std::strtoul(argv[i], nullptr, 10));
    }
  }
  coreio::runtime_options ro{};
  ro.workers = threads;
  if (test) return coreio::run(self_test(), ro);

  // SIGTERM / SIGINT: blocked in every thread, taken by one thread that stops the server.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread waiter([set] {
    int sig = 0;
    sigwait(&set, &sig);
    g_signalled.store(true);
    if (http::server* s = g_server.load()) s->stop();
  });
  waiter.detach();
  return coreio::run(serve(port), ro);
}
