// serve_test.cpp — coreio/net/serve.hpp: the max_connections limit, stop() then wait() draining
// open connections, handler exceptions counted in failed() without stopping the server, spread on
// and off, runtime destruction with open connections and a blocked accept, and misuse.
#include <coreio/net/serve.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <coreio/coreio.hpp>

#include "net/sockets.hpp"
#include "net_support.hpp"
#include "sched/worker.hpp"

namespace {

using namespace std::chrono_literals;
using namespace coreio_net_test;
using coreio::net::serve;
using coreio::net::serve_options;
using coreio::net::server;
using coreio_test::prompt;
using coreio_test::stopwatch;
using coreio_test::test_error;

coreio::runtime_options two_workers() { return coreio::runtime_options{.workers = 2}; }

/// One round trip of `text` (a line) over c.
coreio::task<std::string> ask(tcp_stream* c, std::string text) {
  co_await c->write_all(std::string_view(text));
  co_return co_await c->read_until("\n", 1024);
}

/// Polls cond (every 2 ms, up to `limit`) from a task; returns its last value.
template <class Cond>
coreio::task<bool> eventually(Cond cond, std::chrono::milliseconds limit = 10'000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return cond();
    co_await coreio::sleep_for(2ms);
  }
  co_return true;
}

// ---- max_connections ----------------------------------------------------------------------------

struct limit_probe {
  std::atomic<int> in_handler{0};
  std::atomic<int> max_in_handler{0};
  std::atomic<std::size_t> max_active{0};
  std::atomic<bool> stop_sampling{false};
};

coreio::task<void> counted_echo(tcp_stream s, limit_probe* p) {
  const int now = p->in_handler.fetch_add(1) + 1;
  int seen = p->max_in_handler.load();
  while (now > seen && !p->max_in_handler.compare_exchange_weak(seen, now)) {
  }
  try {
    co_await echo_until_eof(std::move(s));
  } catch (...) {
    p->in_handler.fetch_sub(1);
    throw;
  }
  p->in_handler.fetch_sub(1);
}

coreio::task<void> sample_active(const server* srv, limit_probe* p) {
  while (!p->stop_sampling.load()) {
    const std::size_t a = srv->active();
    std::size_t seen = p->max_active.load();
    while (a > seen && !p->max_active.compare_exchange_weak(seen, a)) {
    }
    co_await coreio::sleep_for(1ms);
  }
}

struct limit_report {
  bool third_waited = false;  // no reply for the third client while two were open
  std::uint64_t accepted_while_full = 0;
  std::string third_reply;
  std::uint64_t accepted_at_end = 0;
};

coreio::task<limit_report> three_clients_limit_two(limit_probe* p) {
  serve_options o;
  o.max_connections = 2;
  server srv = serve(
      tcp_listener::bind("127.0.0.1", 0),
      [p](tcp_stream s) { return counted_echo(std::move(s), p); }, o);
  auto sampler = coreio::spawn(sample_active(&srv, p));
  limit_report r;
  auto c1 = co_await tcp_stream::connect("127.0.0.1", srv.port());
  auto c2 = co_await tcp_stream::connect("127.0.0.1", srv.port());
  EXPECT_EQ(co_await ask(&c1, "one\n"), "one\n");
  EXPECT_EQ(co_await ask(&c2, "two\n"), "two\n");
  // The kernel completes the third handshake from its backlog, but serve() must not accept it.
  auto c3 = co_await tcp_stream::connect("127.0.0.1", srv.port());
  auto third = coreio::spawn(ask(&c3, "three\n"));
  co_await coreio::sleep_for(200ms);
  r.third_waited = !third.done();
  r.accepted_while_full = srv.accepted();
  // One of the first two ends: the third is accepted and answered.
  c1.shutdown_write();
  EXPECT_EQ(co_await read_to_eof(&c1), "");
  r.third_reply = co_await third;
  c2.shutdown_write();
  c3.shutdown_write();
  EXPECT_EQ(co_await read_to_eof(&c2), "");
  EXPECT_EQ(co_await read_to_eof(&c3), "");
  r.accepted_at_end = srv.accepted();
  srv.stop();
  co_await srv.wait();
  p->stop_sampling.store(true);
  co_await sampler;
  co_return r;
}

TEST(ServeTest, MaxConnectionsHoldsTheThirdClientUntilOneOfTwoCloses) {
  coreio::runtime rt{two_workers()};
  limit_probe p;
  const limit_report r = rt.block_on(three_clients_limit_two(&p));
  EXPECT_TRUE(r.third_waited) << "a third connection was handled while two were open";
  EXPECT_EQ(r.accepted_while_full, 2u);
  EXPECT_EQ(r.third_reply, "three\n");
  EXPECT_EQ(r.accepted_at_end, 3u);
  EXPECT_LE(p.max_active.load(), 2u);
  EXPECT_LE(p.max_in_handler.load(), 2);
  EXPECT_EQ(p.max_in_handler.load(), 2);
}

// ---- stop() and wait() --------------------------------------------------------------------------

coreio::task<void> wait_for_server(server* srv) { co_await srv->wait(); }

struct drain_report {
  bool wait_returned_early = true;
  std::string after_stop;
  bool refused_after_stop = false;
  double wait_seconds_after_close = -1;
};

coreio::task<bool> refuses_connections(std::uint16_t port) {
  // stop() closes the listener on its own loop soon after; a connect racing that may still land in
  // the backlog (and be reset), so try for a while.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      auto c = co_await tcp_stream::connect("127.0.0.1", port);
    } catch (const std::system_error& e) {
      if (e.code().value() == ECONNREFUSED) co_return true;
    }
    co_await coreio::sleep_for(10ms);
  }
  co_return false;
}

coreio::task<drain_report> stop_then_wait() {
  server srv = serve(tcp_listener::bind("127.0.0.1", 0), &echo_handler);
  auto c1 = co_await tcp_stream::connect("127.0.0.1", srv.port());
  auto c2 = co_await tcp_stream::connect("127.0.0.1", srv.port());
  EXPECT_EQ(co_await ask(&c1, "a\n"), "a\n");
  EXPECT_EQ(co_await ask(&c2, "b\n"), "b\n");
  srv.stop();
  srv.stop();  // idempotent
  drain_report r;
  auto w = coreio::spawn(wait_for_server(&srv));
  r.refused_after_stop = co_await refuses_connections(srv.port());
  co_await coreio::sleep_for(50ms);
  r.wait_returned_early = w.done();
  // Open connections go on after stop().
  r.after_stop = co_await ask(&c1, "still here\n");
  EXPECT_EQ(srv.active(), 2u);
  c1.shutdown_write();
  c2.shutdown_write();
  EXPECT_EQ(co_await read_to_eof(&c1), "");
  EXPECT_EQ(co_await read_to_eof(&c2), "");
  stopwatch sw;
  co_await w;
  r.wait_seconds_after_close = sw.seconds();
  EXPECT_EQ(srv.active(), 0u);
  co_await srv.wait();  // again: returns at once
  co_return r;
}

TEST(ServeTest, StopEndsAcceptingAndWaitReturnsOnceOpenConnectionsFinish) {
  coreio::runtime rt{two_workers()};
  const drain_report r = rt.block_on(stop_then_wait());
  EXPECT_TRUE(r.refused_after_stop) << "the listener still accepted connections after stop()";
  EXPECT_FALSE(r.wait_returned_early) << "wait() returned while connections were open";
  EXPECT_EQ(r.after_stop, "still here\n");
  EXPECT_GE(r.wait_seconds_after_close, 0);
  EXPECT_LT(r.wait_seconds_after_close, std::chrono::duration<double>(prompt).count());
}

// ---- handler exceptions -------------------------------------------------------------------------

coreio::task<void> echo_lines_or_fail(tcp_stream s) {
  for (;;) {
    std::string line;
    try {
      line = co_await s.read_until("\n", 1024);
    } catch (const coreio::net::incomplete_read_error&) {
      co_return;  // the client went away
    }
    if (line == "boom\n") throw test_error(1);
    co_await s.write_all(std::string_view(line));
  }
}

struct failure_report {
  std::vector<std::string> replies;
  std::uint64_t failed = 0, accepted = 0;
  bool counted = false;
};

coreio::task<std::string> one_client(std::uint16_t port, std::string line) {
  auto c = co_await tcp_stream::connect("127.0.0.1", port);
  co_await c.write_all(std::string_view(line));
  c.shutdown_write();
  co_return co_await read_to_eof(&c);
}

coreio::task<failure_report> some_handlers_throw() {
  server srv = serve(tcp_listener::bind("127.0.0.1", 0), &echo_lines_or_fail);
  failure_report r;
  // Alternate failing and healthy connections: every healthy one after a failure is still served.
  for (int i = 0; i < 6; ++i)
    r.replies.push_back(co_await one_client(srv.port(), i % 2 ? "fine\n" : "boom\n"));
  const server* s = &srv;
  r.counted = co_await eventually([s] { return s->failed() == 3; });
  r.failed = srv.failed();
  r.accepted = srv.accepted();
  srv.stop();
  co_await srv.wait();
  co_return r;
}

TEST(ServeTest, HandlerExceptionsAreCountedAndDoNotStopTheServer) {
  coreio::runtime rt{two_workers()};
  const failure_report r = rt.block_on(some_handlers_throw());
  ASSERT_EQ(r.replies.size(), 6u);
  for (std::size_t i = 0; i < r.replies.size(); ++i) {
    EXPECT_EQ(r.replies[i], i % 2 ? "fine\n" : "") << "client " << i;
  }
  EXPECT_TRUE(r.counted);
  EXPECT_EQ(r.failed, 3u);
  EXPECT_EQ(r.accepted, 6u);
}

// ---- spread -------------------------------------------------------------------------------------

/// The workers whose loops hold the sockets of the connections handled, and the listener's.
struct placement {
  std::mutex mu;
  std::set<std::uint32_t> owners;  // guarded by mu
  std::uint32_t listener_worker = 0;
};

coreio::task<void> record_and_echo(placement* where, tcp_stream s) {
  {
    std::lock_guard<std::mutex> g(where->mu);
    where->owners.insert(coreio::detail::stream_access::owner(s)->index());
  }
  co_await echo_handler(std::move(s));
}

coreio::task<std::string> serve_some(serve_options o, placement* where) {
  where->listener_worker = coreio::detail::this_worker()->index();  // where the bind below runs
  auto on_conn = [where](tcp_stream s) { return record_and_echo(where, std::move(s)); };
  server srv = serve(tcp_listener::bind("127.0.0.1", 0), on_conn, o);
  std::vector<coreio::task<std::string>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(one_client(srv.port(), std::to_string(i) + "\n"));
  std::string all;
  for (const auto& r : co_await coreio::gather(std::move(clients))) all += r;
  srv.stop();
  co_await srv.wait();
  co_return all;
}

TEST(ServeTest, ByDefaultEveryConnectionStaysOnTheListenersWorker) {
  coreio::runtime rt{coreio::runtime_options{.workers = 3}};
  placement where;
  EXPECT_EQ(rt.block_on(serve_some(serve_options{}, &where)), "0\n1\n2\n3\n4\n5\n6\n7\n");
  EXPECT_EQ(where.owners, std::set<std::uint32_t>{where.listener_worker});
}

TEST(ServeTest, SpreadPlacesTheConnectionsOnEveryWorkerInTurn) {
  coreio::runtime rt{coreio::runtime_options{.workers = 3}};
  placement where;
  serve_options o;
  o.spread = true;
  EXPECT_EQ(rt.block_on(serve_some(o, &where)), "0\n1\n2\n3\n4\n5\n6\n7\n");
  EXPECT_EQ(where.owners, (std::set<std::uint32_t>{0, 1, 2})) << "8 connections over 3 workers";
}

// ---- runtime destruction ------------------------------------------------------------------------

coreio::task<void> hold_open(std::uint16_t port, std::atomic<int>* ready) {
  auto c = co_await tcp_stream::connect("127.0.0.1", port);
  co_await c.write_all(std::string_view("x"));
  std::array<std::byte, 1> b;
  co_await c.read_exact(std::span(b));
  ready->fetch_add(1);
  (void)co_await c.read_some(
      std::span(b));  // the server never writes again: blocked until shutdown
}

coreio::task<void> leave_connections_open(std::atomic<int>* ready, int n) {
  server srv = serve(tcp_listener::bind("127.0.0.1", 0), &echo_handler);
  for (int i = 0; i < n; ++i) coreio::spawn(hold_open(srv.port(), ready)).detach();
  const server* s = &srv;
  EXPECT_TRUE(co_await eventually(
      [ready, s, n] { return ready->load() == n && s->active() == static_cast<std::size_t>(n); }));
  // The handle goes; the accept loop (blocked in accept), n handlers and n clients stay.
}

TEST(ServeTest, DestroyingTheRuntimeWithOpenConnectionsAndABlockedAcceptDoesNotHang) {
  std::atomic<bool> finished{false};
  std::atomic<int> ready{0};
  std::thread t([&] {
    {
      coreio::runtime rt{two_workers()};
      rt.block_on(leave_connections_open(&ready, 4));
    }  // cancels the accept loop, the handlers and the clients, and waits for them
    finished.store(true);
  });
  if (!coreio_test::wait_until([&] { return finished.load(); }, 30'000ms)) {
    std::fprintf(stderr, "ServeTest: runtime destruction hung with open connections\n");
    std::fflush(stderr);
    std::_Exit(1);  // the thread cannot be joined or abandoned safely
  }
  t.join();
  EXPECT_EQ(ready.load(), 4);
}

// ---- misuse -------------------------------------------------------------------------------------

TEST(ServeTest, ADefaultServerIsInert) {
  server srv;
  srv.stop();
  EXPECT_EQ(srv.active(), 0u);
  EXPECT_EQ(srv.accepted(), 0u);
  EXPECT_EQ(srv.failed(), 0u);
  EXPECT_EQ(srv.port(), 0);
  coreio::runtime rt{two_workers()};
  rt.block_on(wait_for_server(&srv));  // nothing to wait for
}

coreio::task<tcp_listener> bind_loopback() { co_return tcp_listener::bind("127.0.0.1", 0); }

coreio::task<void> serve_without_handler() {
  EXPECT_THROW((void)serve(tcp_listener::bind("127.0.0.1", 0), coreio::net::connection_handler{}),
               coreio::usage_error);
  co_return;
}

TEST(ServeTest, ServeWithoutAHandlerOrOutsideARuntimeThrowsUsageError) {
  coreio::runtime rt{two_workers()};
  rt.block_on(serve_without_handler());
  tcp_listener lis = rt.block_on(bind_loopback());
  EXPECT_THROW((void)serve(std::move(lis), &echo_handler), coreio::usage_error);
}

}  // namespace
