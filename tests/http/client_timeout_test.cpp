// http/client_timeout_test.cpp — a deadline for every phase: a server that stalls in each phase
// gives a coreio::timeout_error naming that phase, the connection is dropped, and the next request
// on the same client succeeds.
#include <coreio/http/client.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "net/net_support.hpp"
#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

/// "/stall-head": nothing; "/stall-body": the head and 3 of 10 body bytes; "/slow": the head, then
/// the body after 300 ms; anything else: "ok".
reply staller(const seen_request& r, std::size_t) {
  const std::string line = r.line();
  if (line.find("/stall-head") != std::string::npos) return reply{"", false, true};
  if (line.find("/stall-body") != std::string::npos)
    return reply{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, true};
  if (line.find("/slow") != std::string::npos) {
    reply rep{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"};
    rep.then = "done";
    rep.then_delay = 300ms;
    return rep;
  }
  return reply{ok_response("ok")};
}

/// The what() of the timeout_error `get then read` throws, or "" if none.
coreio::task<std::string> timeout_of(http::client* session, std::string url,
                                     const http::request_options* o) {
  std::string what;
  try {
    // Two statements, not `o ? co_await a : co_await b`: g++ 12 mishandles the temporary.
    http::response r;
    if (o) r = co_await session->get(url, *o);
    else r = co_await session->get(url);
    (void)co_await r.read();
  } catch (const coreio::timeout_error& e) {
    what = e.what();
  }
  co_return what;
}

coreio::task<std::string> ok_after(http::client* session, std::string url) {
  http::response r = co_await session->get(url);
  co_return co_await r.text();
}

/// ok_after for a session whose phase timeouts are short: the answer would have to come within
/// them (a window a loaded machine misses), so the request overrides them with a generous total;
/// it still shares the session's connections and pool.
coreio::task<std::string> ok_generously(http::client* session, std::string url) {
  const http::request_options generous{.timeout = http::timeouts{.total = 60s}};
  http::response r = co_await session->get(url, generous);
  co_return co_await r.text();
}

coreio::task<void> each_phase_names_its_timeout() {
  raw_server srv{staller};
  http::client_options opts{.timeout = {.total = 10s, .headers = 100ms, .sock_read = 100ms}};
  http::client session{opts};

  std::string what = co_await timeout_of(&session, srv.url("/stall-head"), nullptr);
  EXPECT_NE(what.find("http: headers timeout (100 ms)"), std::string::npos) << what;
  EXPECT_EQ(co_await ok_generously(&session, srv.url("/ok")), "ok");

  what = co_await timeout_of(&session, srv.url("/stall-body"), nullptr);
  EXPECT_NE(what.find("http: sock_read timeout (100 ms) reading the body"), std::string::npos)
      << what;
  EXPECT_EQ(co_await ok_generously(&session, srv.url("/ok")), "ok");

  // Per-request override: a total deadline that runs out while the body is read (a body that
  // stalls: the deadline is the only way out, whatever the machine's load).
  http::request_options total{.timeout = http::timeouts{.total = 150ms}};
  what = co_await timeout_of(&session, srv.url("/stall-body"), &total);
  EXPECT_NE(what.find("http: total timeout (150 ms)"), std::string::npos) << what;
  EXPECT_EQ(co_await ok_generously(&session, srv.url("/ok")), "ok");

  // A generous override lets the slow one through.
  http::request_options relaxed{.timeout = http::timeouts{.total = 10s}};
  what = co_await timeout_of(&session, srv.url("/slow"), &relaxed);
  EXPECT_EQ(what, "");

  const http::client_stats st = session.stats();
  EXPECT_EQ(st.timeouts[0], 1u);  // total
  EXPECT_EQ(st.timeouts[4], 1u);  // headers
  EXPECT_EQ(st.timeouts[5], 1u);  // sock_read
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, EachPhaseNamesItsTimeout) { run_test(each_phase_names_its_timeout); }

// The headers phase runs from the request's first byte to the response head: an upload source
// that stalls, or a body the server does not read, runs it out as a head that does not come does.
coreio::task<void> headers_phase_covers_the_body() {
  raw_server srv{staller};
  http::client_options opts{.timeout = {.total = 10s, .headers = 200ms}};
  http::client session{opts};
  const std::string url = srv.url("/ok");
  http::request_options stalled{.upload = []() -> coreio::task<std::string> {
    co_await coreio::sleep_for(10s);
    co_return std::string();
  }};
  std::string what;
  try {
    (void)co_await session.post(url, stalled);
  } catch (const coreio::timeout_error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("http: headers timeout (200 ms) waiting for the upload source"),
            std::string::npos)
      << what;
  // 16 MiB to a server that reads only the head: the socket buffers (a few MiB on loopback) fill
  // and the write waits.
  raw_server deaf{[](const seen_request&, std::size_t) { return reply{"", false, true}; }};
  deaf.read_heads_only();
  http::request_options big{.body = std::string(16 << 20, 'b')};
  const std::string deaf_url = deaf.url("/big");
  what.clear();
  try {
    (void)co_await session.post(deaf_url, big);
  } catch (const coreio::timeout_error& e) {
    what = e.what();
  }
  // (Where the kernel's buffers take all of it, the deadline runs out waiting for the head: the
  // headers phase either way, not the 10 s total a body outside it waited for.)
  EXPECT_NE(what.find("http: headers timeout (200 ms)"), std::string::npos) << what;
  EXPECT_EQ(co_await ok_generously(&session, url), "ok");
  co_await session.close();
  co_await srv.stop();
  co_await deaf.stop();
}
TEST(ClientTimeout, HeadersPhaseCoversTheBody) { run_test(headers_phase_covers_the_body); }

// The total deadline before the response head is the request's scope (one timer per request): it
// cancels whatever runs (here a read of a head that never comes, on a reused connection), names the
// total phase, counts it, and drops the connection.
coreio::task<void> total_runs_out_before_the_head() {
  raw_server srv{staller};
  http::client_options opts{.timeout = {.total = 150ms}};
  http::client session{opts};
  EXPECT_EQ(co_await ok_generously(&session, srv.url("/ok")), "ok");  // a connection to reuse
  const std::string what = co_await timeout_of(&session, srv.url("/stall-head"), nullptr);
  EXPECT_NE(what.find("http: total timeout (150 ms) before the response head"), std::string::npos)
      << what;
  EXPECT_EQ(co_await ok_generously(&session, srv.url("/ok")), "ok");
  const http::client_stats st = session.stats();
  EXPECT_EQ(st.timeouts[0], 1u);  // total
  EXPECT_EQ(st.failures, 1u);
  EXPECT_EQ(st.connections_opened, 2u);  // the stalled one was not reused
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, TotalRunsOutBeforeTheHead) { run_test(total_runs_out_before_the_head); }

// Phase deadlines on reads of a reused plain connection (a socket read deadline, not a timer per
// read): each request gets its own, later than the last, and a stall still runs out on time.
coreio::task<void> read_deadlines_follow_each_request() {
  raw_server srv{staller};
  // The requests that succeed read under the same phase timeout, so it is long enough for their
  // answers to come on a loaded machine; the stall shows it ends the wait all the same.
  http::client_options opts{.timeout = {.total = 10s, .sock_read = 3s}};
  http::client session{opts};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(co_await ok_after(&session, srv.url("/ok")), "ok");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string what = co_await timeout_of(&session, srv.url("/stall-head"), nullptr);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(what.find("http: sock_read timeout (3000 ms) waiting for the response head"),
            std::string::npos)
      << what;
  EXPECT_GE(took, 3s);
  EXPECT_LT(took, 9s);  // the phase, not the total, ended it
  EXPECT_EQ(co_await ok_after(&session, srv.url("/ok")), "ok");
  EXPECT_EQ(session.stats().timeouts[5], 1u);
  EXPECT_EQ(session.stats().connections_reused, 3u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, ReadDeadlinesFollowEachRequest) {
  run_test(read_deadlines_follow_each_request);
}

// A budget past the clock's reach (milliseconds::max(), centuries) is no deadline: it once wrapped
// into the past and fired at once (reqwest's big_timeout_duration_does_not_overflow).
coreio::task<void> a_huge_budget_is_no_deadline() {
  raw_server srv{staller};
  constexpr auto forever = std::chrono::milliseconds::max();
  http::client_options opts{.timeout = {.total = forever,
                                        .pool_wait = forever,
                                        .connect = forever,
                                        .sock_connect = forever,
                                        .headers = forever,
                                        .sock_read = forever},
                            .keepalive_timeout = forever};
  http::client session{opts};
  for (int i = 0; i < 2; ++i) EXPECT_EQ(co_await ok_after(&session, srv.url("/ok")), "ok");
  EXPECT_EQ(session.stats().connections_reused, 1u);  // the idle connection had not "expired"
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, AHugeBudgetIsNoDeadline) { run_test(a_huge_budget_is_no_deadline); }

// A body read after one that failed throws that failure again, not an empty body that looks
// complete (aiohttp raises its stream's exception again); the timeout is counted once.
coreio::task<void> a_failed_body_read_fails_again() {
  raw_server srv{staller};
  http::client_options opts{.timeout = {.total = 10s, .sock_read = 100ms}};
  http::client session{opts};
  const std::string url = srv.url("/stall-body");
  http::response r = co_await session.get(url);
  std::string first = "none", second = "none", third = "none";
  try {
    (void)co_await r.read();
  } catch (const coreio::timeout_error& e) {
    first = e.what();
  }
  try {
    (void)co_await r.text();
  } catch (const coreio::timeout_error& e) {
    second = e.what();
  }
  try {
    (void)co_await r.read_chunk();
  } catch (const coreio::timeout_error& e) {
    third = e.what();
  }
  EXPECT_NE(first.find("http: sock_read timeout (100 ms) reading the body"), std::string::npos)
      << first;
  EXPECT_EQ(second, first);
  EXPECT_EQ(third, first);
  EXPECT_EQ(session.stats().timeouts[5], 1u);  // sock_read, once
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, AFailedBodyReadFailsAgain) { run_test(a_failed_body_read_fails_again); }

coreio::task<void> pool_wait_is_its_own_phase() {
  raw_server srv{staller};
  http::client_options opts{.limit = 1, .timeout = {.pool_wait = 100ms}};
  http::client session{opts};
  const std::string body_stall = srv.url("/stall-body");
  http::response holder = co_await session.get(body_stall);  // holds the only slot
  std::string what = co_await timeout_of(&session, srv.url("/ok"), nullptr);
  EXPECT_NE(what.find("http: pool_wait timeout (100 ms) waiting for a connection slot"),
            std::string::npos)
      << what;
  holder.close();  // gives the slot back
  EXPECT_EQ(co_await ok_after(&session, srv.url("/ok")), "ok");
  EXPECT_EQ(session.stats().timeouts[1], 1u);
  EXPECT_EQ(session.stats().pool_waits, 1u);  // the wait that ran out is counted too
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, PoolWaitIsItsOwnPhase) { run_test(pool_wait_is_its_own_phase); }

coreio::task<void> connect_covers_the_tls_handshake() {
  // A TCP server that never answers the ClientHello.
  raw_server srv{staller};
  http::client_options opts{.timeout = {.connect = 100ms}};
  http::client session{opts};
  const std::string url = "https://127.0.0.1:" + std::to_string(srv.port()) + "/";
  std::string what = co_await timeout_of(&session, url, nullptr);
  EXPECT_NE(what.find("http: connect timeout (100 ms) in the TLS handshake with 127.0.0.1:"),
            std::string::npos)
      << what;
  EXPECT_EQ(session.stats().timeouts[2], 1u);
  EXPECT_EQ(session.stats().open_connections, 0u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, ConnectCoversTheTlsHandshake) { run_test(connect_covers_the_tls_handshake); }

coreio::task<void> sock_connect_runs_out_on_a_full_accept_queue() {
  // A listener that never accepts, with the smallest backlog: once its accept queue is full the
  // kernel drops further SYNs, so a connect hangs (loopback only, nothing leaves the machine).
  auto listener = coreio::net::tcp_listener::bind("127.0.0.1", 0, {.backlog = 1});
  const std::uint16_t port = listener.port();
  std::vector<coreio::net::tcp_stream> fillers = co_await coreio_net_test::fill_accept_queue(port);
  http::client_options opts{.timeout = {.connect = 5s, .sock_connect = 100ms}};
  http::client session{opts};
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::string what = co_await timeout_of(&session, url, nullptr);
  EXPECT_NE(what.find("http: sock_connect timeout (100 ms) connecting to 127.0.0.1:"),
            std::string::npos)
      << what;
  EXPECT_EQ(session.stats().timeouts[3], 1u);
  EXPECT_EQ(session.stats().open_connections, 0u);  // the slot of the failed connect came back
  co_await session.close();
}
TEST(ClientTimeout, SockConnectRunsOutOnAFullAcceptQueue) {
  run_test(sock_connect_runs_out_on_a_full_accept_queue);
}

coreio::task<void> callers_own_deadline_cancels_cleanly() {
  raw_server srv{staller};
  http::client session;
  bool timed_out = false;
  try {
    const std::string url = srv.url("/stall-head");
    auto get = session.get(url);
    (void)co_await coreio::wait_for(std::move(get), 100ms);
  } catch (const coreio::timeout_error&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(co_await ok_after(&session, srv.url("/ok")), "ok");
  EXPECT_EQ(session.stats().open_connections, 1u);  // the cancelled one was closed
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientTimeout, CallersOwnDeadlineCancelsCleanly) {
  run_test(callers_own_deadline_cancels_cleanly);
}

}  // namespace
}  // namespace coreio_http_test
