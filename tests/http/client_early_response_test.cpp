// http/client_early_response_test.cpp — a response that comes while the request body is still
// going out (RFC 9112 section 9.5): a server that answers from the head (a 413) and then neither
// reads nor closes gets that answer back at once, for a fixed body, a chunked one and an upload
// source, and so does a success that closes the connection; the cut-short connection is not
// reused, and a body the server reads to its end still goes out whole on a connection that is
// reused.
#include <coreio/http/client.hpp>
#include <coreio/net/tcp_listener.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

const std::string too_big = "too big!";

// /big: 413 from the head alone, then the connection held open without a read (read_heads_only:
// until stop()); anything else: 200 "fine".
reply answer_big_with_413(const seen_request& r, std::size_t) {
  if (r.line().find("/big") != std::string::npos) {
    return reply{ok_response(too_big, "", 413), /*close_after=*/false, /*stall_after=*/true};
  }
  return reply{ok_response("fine")};
}

// The old client waited for the server's close (here: stop(), or 30 s) or, with a total
// timeout, threw it; the 413 comes well within it now.
constexpr auto total = std::chrono::seconds(20);

// More than the socket buffers of both ends hold: the client's write is still blocked when the
// 413 arrives.
std::string big_body() { return std::string(32u << 20, 'b'); }

// POSTs o to url and expects `status` with `body`, well within `total`.
coreio::task<void> expect_at_once(http::client* session, const std::string& url,
                                  const http::request_options* o, const char* kind, int status,
                                  std::string body) {
  const auto start = std::chrono::steady_clock::now();
  std::string what;
  try {
    http::response r = co_await session->post(url, *o);
    EXPECT_EQ(r.status(), status) << kind;
    EXPECT_EQ(co_await r.text(), body) << kind;
  } catch (const std::exception& e) {
    what = e.what();
  }
  EXPECT_EQ(what, "") << kind;
  EXPECT_LT(std::chrono::steady_clock::now() - start, total / 2) << kind;
}

// The 413 and its body, at once.
coreio::task<void> expect_413_at_once(http::client* session, const std::string& url,
                                      const http::request_options* o, const char* kind) {
  return expect_at_once(session, url, o, kind, 413, too_big);
}

coreio::task<void> an_answer_during_a_big_body_is_returned_at_once() {
  for (const bool chunked : {false, true}) {
    const char* const kind = chunked ? "chunked" : "Content-Length";
    raw_server srv{answer_big_with_413};
    srv.read_heads_only();
    http::client session{http::client_options{.timeout = {.total = total}}};
    http::request_options o{.body = big_body(), .chunked = chunked};
    const std::string big = srv.url("/big");
    co_await expect_413_at_once(&session, big, &o, kind);
    // The server still holds the first connection; the next request goes on a new one.
    EXPECT_EQ(srv.open_connections(), 1u) << kind;
    http::response next = co_await session.get(srv.url("/next"));
    EXPECT_EQ(next.status(), 200) << kind;
    EXPECT_EQ(co_await next.text(), "fine") << kind;
    EXPECT_EQ(srv.connections(), 2u) << kind;
    co_await session.close();
    co_await srv.stop();
  }
}
TEST(ClientEarlyResponse, AnAnswerDuringABigBodyIsReturnedAtOnce) {
  run_test(an_answer_during_a_big_body_is_returned_at_once);
}

// A success that closes the connection (Connection: close) from the head alone, then the
// connection held open without a read: the server says it reads no more (RFC 9112 section 9.5),
// so the body stops and the 200 comes back at once, for a fixed body and an upload that never
// ends. (A 200 without the close keeps the body going: ASuccessHeadBeforeTheBodyIsReadDoesNotStopIt.)
reply answer_big_with_200_close(const seen_request& r, std::size_t) {
  if (r.line().find("/big") != std::string::npos) {
    return reply{ok_response("taken", "Connection: close\r\n"), /*close_after=*/false,
                 /*stall_after=*/true};
  }
  return reply{ok_response("fine")};
}

coreio::task<std::string> endless_piece() { co_return std::string(64u << 10, 'e'); }

coreio::task<void> a_closing_success_during_a_big_body_is_returned_at_once() {
  for (const bool upload : {false, true}) {
    const char* const kind = upload ? "upload" : "Content-Length";
    raw_server srv{answer_big_with_200_close};
    srv.read_heads_only();
    http::client session{http::client_options{.timeout = {.total = total}}};
    http::request_options o;
    if (upload) {
      o.upload = [] { return endless_piece(); };
    } else {
      o.body = big_body();
    }
    const std::string big = srv.url("/big");
    co_await expect_at_once(&session, big, &o, kind, 200, "taken");
    http::response next = co_await session.get(srv.url("/next"));
    EXPECT_EQ(co_await next.text(), "fine") << kind;
    EXPECT_EQ(srv.connections(), 2u) << kind;
    co_await session.close();
    co_await srv.stop();
  }
}
TEST(ClientEarlyResponse, AClosingSuccessDuringABigBodyIsReturnedAtOnce) {
  run_test(a_closing_success_during_a_big_body_is_returned_at_once);
}

// An upload source's calls: how many, and how many are running (its frame alive).
struct source_calls {
  std::atomic<long> made{0};
  std::atomic<int> live{0};
  // After this many pieces (of 1 KiB: they fit the socket buffers), a call sets `stalled` and
  // waits on `never` (the source itself stalls); -1: pieces of 64 KiB, never a stall.
  long stall_after = -1;
  std::shared_ptr<coreio::event> stalled = std::make_shared<coreio::event>();
  coreio::event never;
};

struct live_guard {
  explicit live_guard(source_calls* c) : calls(c) { calls->live.fetch_add(1); }
  ~live_guard() { calls->live.fetch_sub(1); }
  live_guard(const live_guard&) = delete;
  live_guard& operator=(const live_guard&) = delete;
  source_calls* calls;
};

coreio::task<std::string> next_piece(std::shared_ptr<source_calls> calls) {
  live_guard g(calls.get());
  const long n = calls->made.fetch_add(1);
  if (calls->stall_after < 0) co_return std::string(64u << 10, 'u');
  if (n >= calls->stall_after) {
    calls->stalled->set();
    co_await calls->never.wait();
  }
  co_return std::string(1u << 10, 'u');
}

// An upload that never ends, answered with a 413 from its head: the source is called no more
// once the 413 is back, and a call that was waiting is cancelled (its frame is gone). Once with a
// source that always has a piece (the socket write blocks), once with one that stalls after a few
// (the server answers once it has stalled).
coreio::task<void> an_answer_during_an_endless_upload_stops_it() {
  for (const long stall_after : {-1L, 4L}) {
    const char* const kind = stall_after < 0 ? "source always ready" : "source stalls";
    auto calls = std::make_shared<source_calls>();
    calls->stall_after = stall_after;
    raw_server srv{[calls](const seen_request& r, std::size_t i) {
      reply a = answer_big_with_413(r, i);
      if (calls->stall_after >= 0 && r.line().find("/big") != std::string::npos) {
        a.hold = calls->stalled;
      }
      return a;
    }};
    srv.read_heads_only();
    http::client session{http::client_options{.timeout = {.total = total}}};
    http::request_options o{.upload = [calls] { return next_piece(calls); }};
    const std::string big = srv.url("/big");
    co_await expect_413_at_once(&session, big, &o, kind);
    EXPECT_EQ(calls->live.load(), 0) << kind;
    const long made = calls->made.load();
    EXPECT_GT(made, 0) << kind;
    if (stall_after >= 0) {
      EXPECT_EQ(made, stall_after + 1) << kind;
    }
    http::response next = co_await session.get(srv.url("/next"));
    EXPECT_EQ(co_await next.text(), "fine") << kind;
    EXPECT_EQ(srv.connections(), 2u) << kind;
    EXPECT_EQ(calls->made.load(), made) << kind;  // not called again
    co_await session.close();
    co_await srv.stop();
  }
}
TEST(ClientEarlyResponse, AnAnswerDuringAnEndlessUploadStopsIt) {
  run_test(an_answer_during_an_endless_upload_stops_it);
}

coreio::task<std::string> counted_piece(std::shared_ptr<int> n) {
  co_return ++*n <= 64 ? std::string(64u << 10, static_cast<char>('a' + *n % 26)) : std::string();
}

// A big body the server reads to its end before answering: it goes out whole (fixed, chunked, an
// upload, and after a 100 Continue), and the connection is used again for the next request.
coreio::task<void> a_big_body_read_whole_is_sent_and_the_connection_reused() {
  raw_server srv{[](const seen_request& r, std::size_t) {
    return reply{ok_response(std::to_string(r.body.size()))};
  }};
  srv.send_continue(true);
  http::client session{http::client_options{.timeout = {.total = total}}};
  const std::string body(8u << 20, 'x');
  const std::string url = srv.url("/whole");
  {
    http::request_options o{.body = body};
    http::response r = co_await session.post(url, o);
    EXPECT_EQ(co_await r.text(), std::to_string(body.size()));
  }
  {
    http::request_options o{.body = body, .chunked = true};
    http::response r = co_await session.post(url, o);
    EXPECT_EQ(co_await r.text(), std::to_string(body.size()));
  }
  {
    auto n = std::make_shared<int>(0);
    http::request_options o{.upload = [n] { return counted_piece(n); }};
    http::response r = co_await session.post(url, o);
    EXPECT_EQ(co_await r.text(), std::to_string(64u * (64u << 10)));
  }
  {
    http::request_options o{.body = body, .expect_continue = true};
    http::response r = co_await session.post(url, o);
    EXPECT_EQ(co_await r.text(), std::to_string(body.size()));
  }
  EXPECT_EQ(srv.requests(), 4u);
  const auto seen = srv.seen();
  for (const auto& s : seen) EXPECT_EQ(s.connection, 0u) << s.line();
  EXPECT_EQ(srv.connections(), 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientEarlyResponse, ABigBodyReadWholeIsSentAndTheConnectionReused) {
  run_test(a_big_body_read_whole_is_sent_and_the_connection_reused);
}

// A 2xx head that comes before the body was read (a server that streams its answer, its head
// first, while it reads the request body) is no reason to stop: the body goes out whole, the
// server answers with its size, and the connection is kept. The server: two requests on one
// connection (a Content-Length body, then a chunked upload), each answered with a chunked 200
// whose head goes out before the body is read.
coreio::task<void> head_first_then_count(coreio::net::tcp_listener* lis, std::string* got) {
  coreio::net::tcp_stream s = co_await lis->accept();
  try {
    for (int i = 0; i < 2; ++i) {
      const std::string head = co_await s.read_until("\r\n\r\n", 1 << 16);
      co_await s.write_all(
          std::string_view("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
      seen_request req;
      req.head = head;
      const std::string body = co_await read_body(s, req);
      const std::size_t n = body.size();
      const std::string count = std::to_string(n);
      const std::string chunk = std::to_string(count.size()) + "\r\n" + count + "\r\n0\r\n\r\n";
      co_await s.write_all(std::string_view(chunk));
      *got += count + ";";
    }
    std::array<std::byte, 256> sink;
    while (co_await s.read_some(std::span(sink)) > 0) {
    }
  } catch (const std::exception&) {
    // The client went away early: *got says how far it came.
  }
}

coreio::task<void> a_success_head_before_the_body_is_read_does_not_stop_it() {
  auto lis = coreio::net::tcp_listener::bind("127.0.0.1", 0);
  std::string got;
  auto server = coreio::spawn(head_first_then_count(&lis, &got));
  http::client session{http::client_options{.timeout = {.total = total}}};
  const std::string url = "http://127.0.0.1:" + std::to_string(lis.port()) + "/count";
  for (const bool upload : {false, true}) {
    const char* const kind = upload ? "upload" : "Content-Length";
    http::request_options o;
    if (upload) {
      auto n = std::make_shared<int>(0);
      o.upload = [n] { return counted_piece(n); };
    } else {
      o.body = std::string(8u << 20, 'c');
    }
    std::string what;
    try {
      http::response r = co_await session.post(url, o);
      EXPECT_EQ(r.status(), 200) << kind;
      EXPECT_EQ(co_await r.text(), std::to_string(upload ? 64u * (64u << 10) : 8u << 20)) << kind;
    } catch (const std::exception& e) {
      what = e.what();
    }
    EXPECT_EQ(what, "") << kind;
  }
  EXPECT_EQ(session.stats().connections_opened, 1u);
  co_await session.close();  // the server's read ends
  co_await std::move(server);
  EXPECT_EQ(got, "8388608;4194304;");
}
TEST(ClientEarlyResponse, ASuccessHeadBeforeTheBodyIsReadDoesNotStopIt) {
  run_test(a_success_head_before_the_body_is_read_does_not_stop_it);
}

// An interim response (103 Early Hints, RFC 8297; any request may get one) while the body goes
// out is no answer: the body is sent whole and the final response read.
coreio::task<void> hint_then_read_the_body(coreio::net::tcp_listener* lis, std::size_t* got) {
  coreio::net::tcp_stream s = co_await lis->accept();
  try {
    (void)co_await s.read_until("\r\n\r\n", 1 << 16);
    co_await s.write_all(std::string_view("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"));
    std::string body(8u << 20, '\0');
    co_await s.read_exact(std::as_writable_bytes(std::span<char>(body)));
    *got = body.size();
    co_await s.write_all(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    std::array<std::byte, 256> sink;
    while (co_await s.read_some(std::span(sink)) > 0) {
    }
  } catch (const std::exception&) {
    // The client went away before the whole body came: *got stays 0.
  }
}

coreio::task<void> an_interim_response_does_not_stop_the_body() {
  auto lis = coreio::net::tcp_listener::bind("127.0.0.1", 0);
  std::size_t got = 0;
  auto server = coreio::spawn(hint_then_read_the_body(&lis, &got));
  http::client session{http::client_options{.timeout = {.total = total}}};
  http::request_options o{.body = std::string(8u << 20, 'h')};
  std::string what;
  try {
    http::response r =
        co_await session.post("http://127.0.0.1:" + std::to_string(lis.port()) + "/hint", o);
    EXPECT_EQ(r.status(), 200);
    EXPECT_EQ(co_await r.text(), "ok");
  } catch (const std::exception& e) {
    what = e.what();
  }
  EXPECT_EQ(what, "");
  co_await session.close();  // the server's read ends
  co_await std::move(server);
  EXPECT_EQ(got, 8u << 20);
}
TEST(ClientEarlyResponse, AnInterimResponseDoesNotStopTheBody) {
  run_test(an_interim_response_does_not_stop_the_body);
}

}  // namespace
}  // namespace coreio_http_test
