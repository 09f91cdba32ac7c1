// http/client_pool_test.cpp — the client's connection pool, counted at the server: limit and
// limit_per_host, waiters served in order, a dropped response never holding a slot, idle expiry,
// the peer-close check, the one retry of a reused connection (GET only, switchable), close().
#include <coreio/http/client.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

/// Yields until pred() holds (state reached by other tasks); fails the test after ~5 s.
template <class Pred>
coreio::task<bool> until(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) co_return false;
    co_await coreio::yield_now();
  }
  co_return true;
}

coreio::task<std::string> fetch_text(http::client* session, std::string url) {
  http::response r = co_await session->get(url);
  co_return co_await r.text();
}

coreio::task<void> limit_per_host_caps_connections() {
  raw_server srv{[](const seen_request&, std::size_t) {
    reply r{ok_response("x")};
    r.delay = 20ms;
    return r;
  }};
  http::client_options opts{.limit_per_host = 2};
  http::client session{opts};
  std::vector<coreio::task<std::string>> all;
  for (int i = 0; i < 8; ++i) all.push_back(fetch_text(&session, srv.url("/")));
  const auto bodies = co_await coreio::gather(std::move(all));
  for (const auto& b : bodies) EXPECT_EQ(b, "x");
  EXPECT_EQ(srv.connections(), 2u);
  EXPECT_EQ(srv.requests(), 8u);
  EXPECT_LE(session.stats().open_connections, 2u);
  EXPECT_GT(session.stats().pool_waits, 0u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientPool, LimitPerHostCapsConnections) { run_test(limit_per_host_caps_connections); }

coreio::task<void> total_limit_spans_hosts() {
  raw_server a{[](const seen_request&, std::size_t) { return reply{ok_response("a")}; }};
  raw_server b{[](const seen_request&, std::size_t) { return reply{ok_response("b")}; }};
  http::client_options opts{.limit = 1};
  http::client session{opts};
  std::vector<coreio::task<std::string>> all;
  for (int i = 0; i < 6; ++i) all.push_back(fetch_text(&session, (i % 2 ? b : a).url("/")));
  const auto bodies = co_await coreio::gather(std::move(all));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bodies[i], i % 2 ? "b" : "a");
  EXPECT_LE(session.stats().open_connections, 1u);
  // The idle connection of one origin was closed to make room for the other.
  EXPECT_GE(a.connections() + b.connections(), 2u);
  co_await session.close();
  co_await a.stop();
  co_await b.stop();
}
TEST(ClientPool, TotalLimitSpansHostsAndEvictsIdle) { run_test(total_limit_spans_hosts); }

coreio::task<void> waiters_are_served_in_order() {
  // The first request holds the only connection until every other one is queued (not for a
  // time: the queueing must not race a timer).
  auto release = std::make_shared<coreio::event>();
  raw_server srv{[release](const seen_request& r, std::size_t i) {
    reply rep{ok_response(r.line())};
    if (i == 0) rep.hold = release;  // holds the only connection while the others queue
    return rep;
  }};
  http::client_options opts{.limit = 1};
  http::client session{opts};
  std::vector<coreio::join_handle<std::string>> handles;
  for (int i = 0; i < 6; ++i) {
    handles.push_back(coreio::spawn(fetch_text(&session, srv.url("/" + std::to_string(i)))));
    const std::size_t want = static_cast<std::size_t>(i);
    // Request i is queued (or, for i == 0, holds the connection) before i + 1 starts.
    EXPECT_TRUE(co_await until(
        [&] { return i == 0 ? srv.requests() == 1 : session.stats().waiting == want; }));
  }
  release->set();
  for (int i = 0; i < 6; ++i) {
    const std::string body = co_await handles[static_cast<std::size_t>(i)];
    EXPECT_EQ(body, "GET /" + std::to_string(i) + " HTTP/1.1");
  }
  const auto seen = srv.seen();
  for (std::size_t i = 0; i < seen.size(); ++i)
    EXPECT_EQ(seen[i].line(), "GET /" + std::to_string(i) + " HTTP/1.1");
  EXPECT_EQ(srv.connections(), 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientPool, WaitersAreServedInOrder) { run_test(waiters_are_served_in_order); }

// GET /big: a 2 MB body (more than a read buffers); anything else: "small".
reply small_or_big(const seen_request& r, std::size_t) {
  if (r.line().starts_with("GET /big")) return reply{ok_response(std::string(2'000'000, 'b'))};
  return reply{ok_response("small")};
}

coreio::task<void> dropped_response_never_holds_a_slot() {
  raw_server srv{small_or_big};
  http::client_options opts{.limit = 1};
  http::client session{opts};
  const std::string small = srv.url("/small"), big = srv.url("/big");
  {
    http::response r = co_await session.get(small);  // body fully buffered: drained on drop
    EXPECT_EQ(r.status(), 200);
  }
  {
    http::response r = co_await session.get(small);
    EXPECT_EQ(r.status(), 200);
  }
  EXPECT_EQ(srv.connections(), 1u);  // the dropped small response gave its connection back
  {
    http::response r = co_await session.get(big);  // dropped unread: its connection is closed
    EXPECT_EQ(r.status(), 200);
  }
  http::response again = co_await session.get(small);  // limit 1: would deadlock if held
  EXPECT_EQ(co_await again.text(), "small");
  EXPECT_EQ(srv.connections(), 2u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientPool, DroppedResponseNeverHoldsASlot) { run_test(dropped_response_never_holds_a_slot); }

// response::close() before the end of the body (aiohttp's close()): the connection is closed, and
// the body cannot be read any more: read(), text() and read_chunk() throw http::error instead of
// giving an empty body, whether the rest had arrived or not. A body read to its end before close()
// reads again as before; the pool stays usable.
coreio::task<void> a_body_closed_early_cannot_be_read() {
  raw_server srv{small_or_big};
  http::client_options opts{.limit = 1};
  http::client session{opts};
  const std::string small = srv.url("/small"), big = srv.url("/big");
  const auto read_fails = [](http::response* r, int how) -> coreio::task<std::string> {
    try {
      if (how == 0) (void)co_await r->read();
      if (how == 1) (void)co_await r->text();
      if (how == 2) (void)co_await r->read_chunk();
    } catch (const http::error& e) {
      co_return e.what();
    }
    co_return "no error";
  };
  for (int how = 0; how < 3; ++how) {
    for (const std::string* url : {&small, &big}) {
      http::response r = co_await session.get(*url);
      r.close();
      const std::string what = co_await read_fails(&r, how);
      EXPECT_NE(what.find("closed"), std::string::npos) << how << " " << *url << ": " << what;
    }
  }
  http::response whole = co_await session.get(small);
  EXPECT_EQ(co_await whole.read(), "small");
  whole.close();
  EXPECT_EQ(co_await whole.read(), "small");
  EXPECT_EQ(co_await whole.text(), "small");
  http::response again = co_await session.get(small);  // limit 1: nothing holds the slot
  EXPECT_EQ(co_await again.text(), "small");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientPool, ABodyClosedEarlyCannotBeRead) { run_test(a_body_closed_early_cannot_be_read); }

coreio::task<void> idle_expiry_follows_keep_alive_timeout() {
  raw_server srv{[](const seen_request& r, std::size_t) {
    if (r.line().starts_with("GET /short"))
      return reply{ok_response("s", "Keep-Alive: timeout=1\r\n")};
    if (r.line().starts_with("GET /named"))
      return reply{ok_response("n", "Keep-Alive: xtimeout=1, timeout=30\r\n")};
    if (r.line().starts_with("GET /spaced"))
      return reply{ok_response("p", "Keep-Alive: max=5, Timeout = 30\r\n")};
    if (r.line().starts_with("GET /huge"))
      return reply{ok_response("h", "Keep-Alive: timeout=92233720368547758\r\n")};
    return reply{ok_response("l", "Keep-Alive: timeout=30\r\n")};
  }};
  http::client session;
  const std::string short_ka = srv.url("/short"), long_ka = srv.url("/long");
  for (int i = 0; i < 2; ++i) (void)co_await fetch_text(&session, short_ka);
  EXPECT_EQ(srv.connections(), 2u);  // timeout=1 minus the 1 s margin: never pooled
  for (int i = 0; i < 2; ++i) (void)co_await fetch_text(&session, long_ka);
  EXPECT_EQ(srv.connections(), 3u);
  co_await session.close();

  http::client_options no_keep{.keepalive_timeout = 0ms};
  http::client other{no_keep};
  for (int i = 0; i < 2; ++i) (void)co_await fetch_text(&other, long_ka);
  EXPECT_EQ(srv.connections(), 5u);
  // Without keep-alive every request says Connection: close (RFC 9112 section 9.6), unless the
  // caller's own Connection field speaks for it.
  http::request_options own_field{.headers = {{"Connection", "x-mine"}}};
  (void)co_await other.get(long_ka, own_field);
  co_await other.close();
  const std::vector<seen_request> seen = srv.seen();
  EXPECT_EQ(seen.size(), 7u);
  if (seen.size() >= 7) {
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(seen[i].header("connection"), "") << i;
    for (std::size_t i = 4; i < 6; ++i) EXPECT_EQ(seen[i].header("connection"), "close") << i;
    EXPECT_EQ(seen[6].header("connection"), "x-mine");
    EXPECT_EQ(seen[6].head.find("close"), std::string::npos) << seen[6].head;
  }
  // The timeout parameter by its name (any case, whitespace around '='), not a substring, and a
  // huge one a long time rather than an overflow: each client's two GETs share a connection.
  std::size_t expected = 6;
  for (const char* path : {"/named", "/spaced", "/huge"}) {
    http::client fresh;
    const std::string url = srv.url(path);
    for (int i = 0; i < 2; ++i) (void)co_await fetch_text(&fresh, url);
    EXPECT_EQ(srv.connections(), ++expected) << path;
    co_await fresh.close();
  }
  co_await srv.stop();
}
TEST(ClientPool, IdleExpiryFollowsKeepAliveTimeout) {
  run_test(idle_expiry_follows_keep_alive_timeout);
}

// True when a local TCP socket connected to 127.0.0.1:port is in CLOSE_WAIT (it has received the
// peer's FIN and not closed yet), read from /proc/net/tcp (ports in hex, state 08 = CLOSE_WAIT).
bool close_wait_to(std::uint16_t port) {
  std::ifstream f("/proc/net/tcp");
  std::string line;
  std::getline(f, line);  // header
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", static_cast<unsigned>(port));
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state;
    in >> slot >> local >> remote >> state;
    if (remote == want && state == "08") return true;
  }
  return false;
}

// A close by the peer of an idle pooled connection is seen before reuse (client.hpp): exactly, by a
// non-blocking peek, for a request that may not be retried; for one that may, as the event loop
// last saw the socket (no syscall), so a FIN the client's worker has not taken from epoll yet
// costs one silent retry on a new connection instead.
coreio::task<void> peer_closed_idle_connection_is_not_reused(bool retry) {
  raw_server srv{[](const seen_request&, std::size_t) {
    return reply{ok_response("bye"), /*close_after=*/true};  // closes without Connection: close
  }};
  const http::client_options options{.retry_reused_idempotent = retry};
  http::client session{options};
  const std::string url = srv.url("/");
  EXPECT_EQ(co_await fetch_text(&session, url), "bye");
  EXPECT_TRUE(co_await until([&] { return srv.open_connections() == 0; }));
  // The server's handler has left, but the close of its socket may still be queued on the socket's
  // loop (stream::close from another worker posts it): wait until the kernel has delivered the
  // FIN, that is until the client's pooled socket is in CLOSE_WAIT.
  EXPECT_TRUE(co_await until([&] { return close_wait_to(srv.port()); }));
  EXPECT_EQ(co_await fetch_text(&session, url), "bye");
  EXPECT_EQ(srv.connections(), 2u);
  if (retry) {
    EXPECT_LE(session.stats().retries, 1u);  // at most the one retry, never an error
  } else {
    EXPECT_EQ(session.stats().retries, 0u);  // seen before use, not by a failed request
  }
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientPool, PeerClosedIdleConnectionIsNotReused) {
  run_test([] { return peer_closed_idle_connection_is_not_reused(false); });
}
TEST(ClientPool, PeerClosedIdleConnectionCostsARetryableRequestAtMostOneRetry) {
  run_test([] { return peer_closed_idle_connection_is_not_reused(true); });
}

/// Answers the first request on each connection, closes on the second without answering: the
/// keep-alive race (the server drops an idle connection just as the client reuses it).
reply race_script(const seen_request& r, std::size_t) {
  return r.connection_request == 0 ? reply{ok_response("first")} : reply{"", true};
}

coreio::task<void> reused_connection_race_is_retried_once_for_get() {
  raw_server srv{race_script};
  http::client session;
  const std::string url = srv.url("/");
  EXPECT_EQ(co_await fetch_text(&session, url), "first");
  EXPECT_EQ(co_await fetch_text(&session, url), "first");  // died on reuse, retried on a new one
  EXPECT_EQ(session.stats().retries, 1u);
  EXPECT_EQ(srv.connections(), 2u);

  // POST is not idempotent: the failure surfaces.
  bool failed = false;
  try {
    http::response p = co_await session.post(url);
    (void)p;
  } catch (const http::error& e) {
    failed = true;
    EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(session.stats().retries, 1u);
  // And the pool is healthy afterwards.
  EXPECT_EQ(co_await fetch_text(&session, url), "first");
  co_await session.close();

  http::client_options no_retry{.retry_reused_idempotent = false};
  http::client strict{no_retry};
  EXPECT_EQ(co_await fetch_text(&strict, url), "first");
  failed = false;
  try {
    (void)co_await fetch_text(&strict, url);
  } catch (const http::error&) {
    failed = true;
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(strict.stats().retries, 0u);
  co_await strict.close();
  co_await srv.stop();
}
TEST(ClientPool, ReusedConnectionRaceIsRetriedOnceForGet) {
  run_test(reused_connection_race_is_retried_once_for_get);
}

// A retry goes out on a new connection, also when it has to queue for a slot and the connection
// that frees one is an idle keep-alive one (it is closed for its slot, not reused). Here: limit 2,
// both connections warm; R1 holds one; R2's reused one dies (its first reuse: a retry); R3 queues
// before that death and takes the freed slot; R2's retry queues; when R3's connection goes back
// idle, the retry must not be served with it (the server closes every reused connection a /fail
// comes on, so a retry served with it failed as well).
coreio::task<void> retry_queued_for_a_slot_gets_a_new_connection() {
  auto warm = std::make_shared<coreio::event>();
  auto release = std::make_shared<coreio::event>();
  auto go = std::make_shared<coreio::event>();
  raw_server srv{[warm, release, go](const seen_request& r, std::size_t) {
    reply rep{ok_response(r.line() + " #" + std::to_string(r.connection))};
    if (r.line().starts_with("GET /warm")) rep.hold = warm;
    if (r.line().starts_with("GET /stall")) rep.hold = release;
    if (r.line().starts_with("GET /fail") && r.connection_request > 0) {
      rep = reply{"", true};  // a reused connection dies before any byte of the response
      rep.hold = go;
    }
    return rep;
  }};
  http::client_options opts{.limit = 2};
  http::client session{opts};
  std::vector<coreio::join_handle<std::string>> warming;
  for (int i = 0; i < 2; ++i)
    warming.push_back(coreio::spawn(fetch_text(&session, srv.url("/warm"))));
  EXPECT_TRUE(co_await until([&] { return srv.requests() == 2; }));
  warm->set();
  for (auto& h : warming) (void)co_await h;
  EXPECT_EQ(srv.connections(), 2u);
  auto r1 = coreio::spawn(fetch_text(&session, srv.url("/stall")));
  EXPECT_TRUE(co_await until([&] { return srv.requests() == 3; }));
  auto r2 = coreio::spawn(fetch_text(&session, srv.url("/fail")));
  EXPECT_TRUE(co_await until([&] { return srv.requests() == 4; }));
  auto r3 = coreio::spawn(fetch_text(&session, srv.url("/x")));
  EXPECT_TRUE(co_await until([&] { return session.stats().waiting == 1; }));
  go->set();
  std::string got2;
  try {
    got2 = co_await r2;
  } catch (const http::error& e) {
    got2 = std::string("error: ") + e.what();
  }
  EXPECT_TRUE(got2.starts_with("GET /fail HTTP/1.1 #")) << got2;
  const std::string got3 = co_await r3;
  EXPECT_TRUE(got3.starts_with("GET /x HTTP/1.1 #")) << got3;
  release->set();
  (void)co_await r1;
  EXPECT_EQ(session.stats().retries, 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientPool, RetryQueuedForASlotGetsANewConnection) {
  run_test(retry_queued_for_a_slot_gets_a_new_connection);
}

coreio::task<void> stalled_request(http::client* session, std::string url, std::string* error) {
  try {
    http::response r = co_await session->get(url);
    *error = "no error";
  } catch (const http::error& e) {
    *error = e.what();
  }
}

coreio::task<void> close_cancels_requests_and_waits() {
  raw_server srv{[](const seen_request&, std::size_t) { return reply{"", false, true}; }};
  auto session = std::make_unique<http::client>();
  std::string e1, e2;
  auto h1 = coreio::spawn(stalled_request(session.get(), srv.url("/1"), &e1));
  auto h2 = coreio::spawn(stalled_request(session.get(), srv.url("/2"), &e2));
  EXPECT_TRUE(co_await until([&] { return srv.requests() == 2; }));
  co_await session->close();
  // close() waited until both requests had failed and left the client (their callers' tasks may
  // still be catching the error).
  EXPECT_EQ(session->stats().failures, 2u);
  EXPECT_EQ(session->stats().open_connections, 0u);
  co_await h1;
  co_await h2;
  EXPECT_NE(e1.find("closed"), std::string::npos) << e1;
  EXPECT_NE(e2.find("closed"), std::string::npos) << e2;
  EXPECT_TRUE(session->closed());
  bool refused = false;
  try {
    const std::string url = srv.url("/3");
    (void)co_await session->get(url);
  } catch (const http::error&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  session.reset();
  co_await srv.stop();
}
TEST(ClientPool, CloseCancelsRequestsAndWaits) { run_test(close_cancels_requests_and_waits); }

// Reads a response's body; returns it, or "error: " and the message.
coreio::task<std::string> body_or_error(http::response* r) {
  std::string out;
  try {
    out = co_await r->text();
  } catch (const http::error& e) {
    out = std::string("error: ") + e.what();
  }
  co_return out;
}

// close() also ends the body reads of the responses it returned (aiohttp closes the connections
// its responses hold too): a read waiting for the rest of a body, and a later read of a body that
// has not arrived, throw "the client was closed". A body that arrived whole stays readable.
coreio::task<void> close_ends_body_reads() {
  raw_server srv{[](const seen_request& r, std::size_t) {
    if (r.line().starts_with("GET /whole")) return reply{ok_response("all here")};
    // 1,000 of 1,000,000 bytes, then nothing until the client closes.
    return reply{"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'x'),
                 false, true};
  }};
  http::client session;
  const std::string stalled_url = srv.url("/stalled");
  const std::string whole_url = srv.url("/whole");
  http::response reading = co_await session.get(stalled_url);
  http::response unread = co_await session.get(stalled_url);
  http::response whole = co_await session.get(whole_url);
  auto h = coreio::spawn(body_or_error(&reading));  // waits for the rest (before or after close)
  co_await coreio::yield_now();
  co_await session.close();
  const std::string got = co_await h;
  EXPECT_EQ(got, "error: http: the client was closed");
  // A read after the failed one says so again, not an empty body that looks complete.
  EXPECT_EQ(co_await body_or_error(&reading), "error: http: the client was closed");
  EXPECT_EQ(co_await body_or_error(&unread), "error: http: the client was closed");
  EXPECT_EQ(co_await body_or_error(&whole), "all here");
  EXPECT_EQ(session.stats().open_connections, 0u);
  co_await srv.stop();
}
TEST(ClientPool, CloseEndsBodyReads) { run_test(close_ends_body_reads); }

coreio::task<void> hammer(http::client* session, std::string url, int n, int* ok) {
  for (int i = 0; i < n; ++i) {
    if (co_await fetch_text(session, url) == "h") ++*ok;
  }
}

coreio::task<void> many_tasks_on_two_workers_share_the_pool() {
  raw_server srv{[](const seen_request&, std::size_t) { return reply{ok_response("h")}; }};
  http::client_options opts{.limit = 3};
  http::client session{opts};
  const int n = coreio_test::sanitized(200, 30);
  std::vector<int> ok(6, 0);
  std::vector<coreio::task<void>> all;
  for (int t = 0; t < 6; ++t) all.push_back(hammer(&session, srv.url("/"), n, &ok[t]));
  co_await coreio::gather(std::move(all));
  for (int c : ok) EXPECT_EQ(c, n);
  EXPECT_LE(srv.connections(), 3u);
  const auto st = session.stats();
  EXPECT_EQ(st.connections_opened + st.connections_reused, static_cast<std::uint64_t>(6 * n));
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientPool, ManyTasksOnTwoWorkersShareThePool) {
  run_test(many_tasks_on_two_workers_share_the_pool);
}

/// More origins than a shard keeps emptied queues for (pool::kept_empty_origins is 16): each
/// origin's connection is reused in every round, whether its queue was kept or erased.
coreio::task<void> many_origins_each_reuse_their_connection() {
  constexpr std::size_t origins = 20;
  std::vector<std::unique_ptr<raw_server>> servers;
  for (std::size_t i = 0; i < origins; ++i) {
    servers.push_back(std::make_unique<raw_server>(
        [i](const seen_request&, std::size_t) { return reply{ok_response(std::to_string(i))}; }));
  }
  http::client session;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < origins; ++i) {
      EXPECT_EQ(co_await fetch_text(&session, servers[i]->url("/")), std::to_string(i));
    }
  }
  for (const auto& srv : servers) EXPECT_EQ(srv->connections(), 1u);
  const auto st = session.stats();
  EXPECT_EQ(st.connections_opened, origins);
  EXPECT_EQ(st.connections_reused, 2 * origins);
  EXPECT_EQ(st.idle_connections, origins);
  co_await session.close();
  for (auto& srv : servers) co_await srv->stop();
}
TEST(ClientPool, ManyOriginsEachReuseTheirConnection) {
  run_test(many_origins_each_reuse_their_connection);
}

}  // namespace
}  // namespace coreio_http_test
