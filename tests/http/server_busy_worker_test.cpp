// http/server_busy_worker_test.cpp — a handler that holds its worker does not hold the other
// connections. The server's connections live on the listener's worker (its event loop does their
// IO); while a handler spins on a worker without suspending, the requests that arrive on other
// connections, with its request or after it, are answered by the other worker (the monitor marks
// a loop unpolled for a tick stale and wakes a parked worker, which polls that loop and takes the
// tasks it makes ready and those queued behind the spinning one: src/sched/worker.hpp, "Loop
// stealing").
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <coreio/coreio.hpp>
#include <coreio/http/server.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/sync/event.hpp>

#include "support/server_support.hpp"

namespace coreio_http_test {
namespace {

constexpr std::size_t k_fast = 8;
// The spinning handler's own limit: far beyond the fast requests' deadline, so that only the test
// releasing it ends it in a passing run.
constexpr auto k_spin_cap = 30s;

struct spin_state {
  std::atomic<bool> release{false};
  std::atomic<bool> capped{false};
  coreio::event started;
};

/// Reads one response (every body here ends in "!") from s, within `deadline`.
coreio::task<std::string> read_response(coreio::net::tcp_stream& s, std::chrono::seconds deadline) {
  std::string got;
  std::array<char, 4096> buf{};
  while (got.empty() || got.back() != '!') {
    auto rd = s.read_some(std::span<char>(buf));
    auto w = coreio::wait_for(std::move(rd), deadline);
    const std::size_t n = co_await std::move(w);
    if (n == 0) break;
    got.append(buf.data(), n);
  }
  co_return got;
}

coreio::task<coreio::net::tcp_stream> connect_to(std::uint16_t port) {
  coreio::task<coreio::net::tcp_stream> connecting =
      coreio::net::tcp_stream::connect("127.0.0.1", port);
  co_return co_await std::move(connecting);
}

// together: the spinning request and the fast ones are written back to back (one poll of the
// server's loop may take them all: the fast ones then wait in the home queue of the worker that
// spins); false: the fast ones only once the handler spins.
coreio::task<void> fast_requests_are_answered_while_a_handler_spins(bool together) {
  auto spin = std::make_shared<spin_state>();
  http::server_options o = test_options();
  running_server server(o, [spin](http::server& srv) {
    srv.route("GET", "/spin", [spin](http::request&) -> coreio::task<http::response> {
      spin->started.set();
      const auto until = std::chrono::steady_clock::now() + k_spin_cap;
      // Holds this worker (no suspension) until the test has its fast answers.
      while (!spin->release.load(std::memory_order_acquire)) {
        if (std::chrono::steady_clock::now() > until) {
          spin->capped.store(true);
          break;
        }
        std::this_thread::yield();
      }
      co_return http::response{200, "spun!"};
    });
  });
  const std::string get_spin = "GET /spin HTTP/1.1\r\nHost: t\r\n\r\n";
  const std::string get_hello = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";

  // Every connection open and served once first: each then sits in its keep-alive wait.
  // (Tasks in statements of their own: g++ 12 and temporaries inside a co_await expression.)
  std::vector<coreio::net::tcp_stream> conns;
  for (std::size_t i = 0; i <= k_fast; ++i) {
    coreio::task<coreio::net::tcp_stream> connecting = connect_to(server.port);
    conns.push_back(co_await std::move(connecting));
  }
  for (auto& s : conns) {
    co_await s.write_all(std::string_view(get_hello));
    coreio::task<std::string> reading = read_response(s, 10s);
    const std::string r = co_await std::move(reading);
    EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  }
  coreio::net::tcp_stream& spinner = conns[0];
  const std::span<coreio::net::tcp_stream> fast(conns.data() + 1, k_fast);

  co_await spinner.write_all(std::string_view(get_spin));
  if (!together) co_await spin->started.wait();
  for (auto& s : fast) co_await s.write_all(std::string_view(get_hello));
  std::size_t answered = 0;
  for (auto& s : fast) {
    try {
      coreio::task<std::string> reading = read_response(s, 5s);
      const std::string r = co_await std::move(reading);
      if (status_line(r) == "HTTP/1.1 200 OK" && r.ends_with("Hello, World!")) ++answered;
    } catch (const coreio::timeout_error&) {
    }
  }
  EXPECT_FALSE(spin->capped.load()) << "the fast requests waited for the spinning handler";
  spin->release.store(true, std::memory_order_release);
  EXPECT_EQ(answered, k_fast);
  coreio::task<std::string> reading = read_response(spinner, 40s);
  const std::string spun = co_await std::move(reading);
  EXPECT_EQ(status_line(spun), "HTTP/1.1 200 OK");
  EXPECT_FALSE(spin->capped.load());
  co_await server.stop();
}

TEST(ServerBusyWorker, RequestsAfterTheSpinningOneAreAnsweredByTheOtherWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  rt.block_on(fast_requests_are_answered_while_a_handler_spins(false));
}

TEST(ServerBusyWorker, RequestsThatArriveWithTheSpinningOneAreAnsweredByTheOtherWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  for (int round = 0; round < 5; ++round) {
    rt.block_on(fast_requests_are_answered_while_a_handler_spins(true));
  }
}

}  // namespace
}  // namespace coreio_http_test
