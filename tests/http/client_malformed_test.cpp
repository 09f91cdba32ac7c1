// http/client_malformed_test.cpp — every malformed response gives an http::error naming the
// problem (a limit_error for limits), its connection is dropped, and the next request on the same
// client succeeds.
#include <coreio/http/client.hpp>
#include <coreio/net/tcp_listener.hpp>

#include <gtest/gtest.h>

#include <zlib.h>
#include <algorithm>

#include <string>
#include <vector>

#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

struct bad_case {
  const char* name;
  std::string wire;   // what the server answers /bad with
  const char* error;  // a part of what() expected
};

std::vector<bad_case> bad_cases() {
  const std::string ok_head = "HTTP/1.1 200 OK\r\n";
  std::string many_headers = ok_head;
  for (int i = 0; i < 129; ++i) many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  many_headers += "Content-Length: 0\r\n\r\n";
  std::string big_block = ok_head;
  for (int i = 0; i < 70; ++i)
    big_block += "X-B" + std::to_string(i) + ": " + std::string(1000, 'b') + "\r\n";
  big_block += "Content-Length: 0\r\n\r\n";
  return {
      {"bad chunk size", ok_head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       "http"},
      {"garbage after chunk data",
       ok_head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n", "http"},
      {"whitespace before the first field", ok_head + " X-A: a\r\nContent-Length: 0\r\n\r\n",
       "whitespace before the first header field"},
      {"duplicate Content-Length", ok_head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
       "Content-Length"},
      {"Content-Length and Transfer-Encoding",
       ok_head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       "Transfer-Encoding"},
      {"header line over 8 KiB", ok_head + "X-Long: " + std::string(9000, 'l') + "\r\n\r\n",
       "8192"},
      {"head over 64 KiB", big_block, "65536"},
      {"more than 128 headers", many_headers, "128"},
      {"status line over 8 KiB", "HTTP/1.1 200 " + std::string(9000, 'r') + "\r\n\r\n", "8192"},
      {"close mid-body", ok_head + "Content-Length: 100\r\n\r\nonly ten..", "closed"},
      {"close mid-head", ok_head + "Content-Len", "closed"},
      {"bad status line", "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", "http"},
      {"space before colon", ok_head + "Content-Length : 0\r\n\r\n", "http"},
      {"final coding not chunked", ok_head + "Transfer-Encoding: gzip\r\n\r\nxx", "http"},
      {"Transfer-Encoding on HTTP/1.0",
       "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "http"},
      {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "http"},
      {"control character in a value",
       ok_head + "X-C: a\x01"
                 "b\r\nContent-Length: 0\r\n\r\n",
       "http"},
      {"corrupt gzip body",
       ok_head + "Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!", "gzip"},
      {"a transfer coding before chunked",
       ok_head + "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
       "unsupported transfer coding 'gzip'"},
      {"an empty Transfer-Encoding before Content-Length",
       ok_head + "Transfer-Encoding: \r\nContent-Length: 2\r\n\r\nab", "empty Transfer-Encoding"},
      {"an empty field name", ok_head + ": v\r\nContent-Length: 0\r\n\r\n", "empty field name"},
      {"a two-digit status", "HTTP/1.1 99 Low\r\nContent-Length: 0\r\n\r\n",
       "three-digit status code"},
      {"HTTP/2.0 in the status line", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
       "not HTTP/1.x"},
  };
}

reply bad_or_ok(const std::vector<bad_case>* cases, const seen_request& r) {
  const std::string line = r.line();
  const std::size_t p = line.find("/bad/");
  if (p == std::string::npos) return reply{ok_response("fine")};
  const std::size_t i = std::stoul(line.substr(p + 5));
  return reply{(*cases)[i].wire, /*close_after=*/true};
}

coreio::task<void> each_malformed_response_is_an_error_and_the_pool_survives() {
  const std::vector<bad_case> cases = bad_cases();
  raw_server srv{[&cases](const seen_request& r, std::size_t) { return bad_or_ok(&cases, r); }};
  http::client_options opts{.limit = 1};  // one connection: a leaked slot would hang the next GET
  http::client session{opts};
  const std::string ok_url = srv.url("/ok");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::string what = "(no error)";
    try {
      const std::string url = srv.url("/bad/" + std::to_string(i));
      http::response r = co_await session.get(url);
      (void)co_await r.read();
    } catch (const http::error& e) {
      what = e.what();
    } catch (const std::exception& e) {
      what = std::string("(not an http::error) ") + e.what();
    }
    EXPECT_NE(what.find(cases[i].error), std::string::npos) << cases[i].name << ": " << what;
    EXPECT_EQ(what.find("(no error)"), std::string::npos) << cases[i].name;
    EXPECT_EQ(what.find("(not an http::error)"), std::string::npos)
        << cases[i].name << ": " << what;
    http::response good = co_await session.get(ok_url);
    EXPECT_EQ(co_await good.text(), "fine") << "after " << cases[i].name;
  }
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientMalformed, EachMalformedResponseIsAnErrorAndThePoolSurvives) {
  run_test(each_malformed_response_is_an_error_and_the_pool_survives);
}

// A server that answers an upload from its head alone and closes without reading the body (a
// 413, as RFC 9112 section 9.5 lets it): the close resets the connection while the client still
// sends. The client gives the 413, not the socket error of its send.
coreio::task<void> answer_from_the_head_and_close(coreio::net::tcp_listener* lis) {
  coreio::net::tcp_stream s = co_await lis->accept();
  (void)co_await s.read_until("\r\n\r\n", 1 << 16);
  co_await s.write_all(std::string_view(
      "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\n"
      "too big!"));
}  // closed with the body unread: the kernel resets the connection

coreio::task<void> a_response_sent_during_the_upload_is_the_answer() {
  auto lis = coreio::net::tcp_listener::bind("127.0.0.1", 0);
  auto server = coreio::spawn(answer_from_the_head_and_close(&lis));
  http::client session;
  // More than the socket buffers of both ends hold: the send is still going when the reset comes.
  http::request_options o{.body = std::string(32u << 20, 'u')};
  http::response r =
      co_await session.post("http://127.0.0.1:" + std::to_string(lis.port()) + "/up", o);
  EXPECT_EQ(r.status(), 413);
  EXPECT_EQ(co_await r.text(), "too big!");
  co_await std::move(server);
  co_await session.close();
}
TEST(ClientMalformed, AResponseSentDuringTheUploadIsTheAnswer) {
  run_test(a_response_sent_during_the_upload_is_the_answer);
}

std::string gzip_of(const std::string& plain) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, plain.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Response shapes that are not errors: a content coding the client does not know leaves the body
// as it came (aiohttp's behaviour), codings over several fields are one list, a folded field is
// one value, and a 204 that
// declares a body is not followed on its connection (a forged "next response" is never read).
coreio::task<void> odd_but_valid_responses_are_read_as_sent() {
  const std::string text = "two layers of gzip " + std::string(3000, 'z');
  const std::string twice = gzip_of(gzip_of(text));
  raw_server srv{[&](const seen_request& r, std::size_t) {
    const std::string line = r.line();
    if (line.find("/rot13") != std::string::npos) {
      return reply{ok_response("nopqr", "Content-Encoding: rot13\r\n")};
    }
    if (line.find("/compress-gzip") != std::string::npos) {
      return reply{ok_response("raw!", "Content-Encoding: compress, gzip\r\n")};
    }
    if (line.find("/two-fields") != std::string::npos) {
      return reply{ok_response(twice, "Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n")};
    }
    if (line.find("/folded") != std::string::npos) {
      return reply{"HTTP/1.1 200 OK\r\nX-Folded: one\r\n\ttwo\r\nContent-Length: 2\r\n\r\nok"};
    }
    if (line.find("/no-content") != std::string::npos) {
      reply nc{"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"};
      nc.then = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!";
      // Later than the next request goes out, so that only the 204's own framing (not the pool's
      // look at an idle connection) can keep the client off this connection.
      nc.then_delay = std::chrono::milliseconds(200);
      return nc;
    }
    return reply{ok_response("fine")};
  }};
  http::client session{http::client_options{.limit = 1}};
  http::response a = co_await session.get(srv.url("/rot13"));
  EXPECT_EQ(a.status(), 200);
  EXPECT_EQ(a.header("content-encoding").value_or(""), "rot13");
  EXPECT_EQ(co_await a.read(), "nopqr");
  http::response b = co_await session.get(srv.url("/compress-gzip"));
  EXPECT_EQ(co_await b.read(), "raw!");  // compress cannot be undone: nothing is
  http::response c = co_await session.get(srv.url("/two-fields"));
  EXPECT_EQ(co_await c.read(), text);
  // obs-fold: a user agent takes it, the fold as spaces (RFC 9112 section 5.2).
  http::response folded = co_await session.get(srv.url("/folded"));
  EXPECT_EQ(folded.header("x-folded").value_or(""), "one two");
  EXPECT_EQ(co_await folded.read(), "ok");
  const std::size_t before = srv.connections();
  http::response d = co_await session.get(srv.url("/no-content"));
  EXPECT_EQ(d.status(), 204);
  EXPECT_EQ(co_await d.read(), "");
  http::response e = co_await session.get(srv.url("/after"));
  EXPECT_EQ(co_await e.read(), "fine");
  EXPECT_EQ(srv.connections(), before + 1);  // the 204's connection was not reused
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientMalformed, OddButValidResponsesAreReadAsSent) {
  run_test(odd_but_valid_responses_are_read_as_sent);
}

coreio::task<void> gzip_bodies_decode_and_a_bomb_is_a_limit_error() {
  const std::string text = "coreio decodes gzip " + std::string(5000, 'g');
  const std::string small = gzip_of(text);
  const std::string bomb = gzip_of(std::string(16u << 20, '\0'));  // 16 MiB of zeros, ~16 KiB
  raw_server srv{[&](const seen_request& r, std::size_t) {
    const std::string& body = r.line().find("/bomb") != std::string::npos ? bomb : small;
    return reply{ok_response(body, "Content-Encoding: gzip\r\n")};
  }};
  // No ratio limit: this is the decoded size's cap (the ratio's has its own test).
  http::client_options opts{.limit = 1, .max_decoded_body = 8u << 20, .max_decompression_ratio = 0};
  http::client session{opts};
  const std::string small_url = srv.url("/small"), bomb_url = srv.url("/bomb");
  http::response r = co_await session.get(small_url);
  EXPECT_EQ(co_await r.text(), text);
  bool limited = false;
  try {
    http::response b = co_await session.get(bomb_url);
    (void)co_await b.read();
  } catch (const http::limit_error& e) {
    limited = e.limit() == http::limit_kind::decoded_body;
  }
  EXPECT_TRUE(limited);
  http::response again = co_await session.get(small_url);
  EXPECT_EQ(co_await again.text(), text);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientMalformed, GzipBodiesDecodeAndABombIsALimitError) {
  run_test(gzip_bodies_decode_and_a_bomb_is_a_limit_error);
}

// client_options::max_decompression_ratio reaches the decoder: a 2 MiB body of a few hundred to
// one reads by default and is refused by a client whose ratio is lower, and that client's next
// request succeeds.
coreio::task<void> the_decompression_ratio_is_a_client_option() {
  std::string rows;
  for (int i = 0; rows.size() < (2u << 20); ++i)
    rows += "{\"id\":" + std::to_string(i) + ",\"pad\":\"" + std::string(1500, ' ') + "\"}\n";
  const std::string packed = gzip_of(rows);
  const std::uint64_t ratio = rows.size() / packed.size();
  EXPECT_GT(ratio, 100u);
  raw_server srv{[&](const seen_request& r, std::size_t) {
    if (r.line().find("/small") != std::string::npos) return reply{ok_response("ok")};
    return reply{ok_response(packed, "Content-Encoding: gzip\r\n")};
  }};
  const std::string url = srv.url("/rows"), small_url = srv.url("/small");
  {
    http::client session;  // the default ratio, 1,000
    http::response r = co_await session.get(url);
    EXPECT_EQ(co_await r.read(), rows);
    co_await session.close();
  }
  http::client_options opts{.limit = 1, .max_decompression_ratio = ratio / 2};
  http::client session{opts};
  bool limited = false;
  try {
    http::response r = co_await session.get(url);
    (void)co_await r.read();
  } catch (const http::limit_error& e) {
    limited = e.limit() == http::limit_kind::decompression_ratio && e.max() == ratio / 2;
  }
  EXPECT_TRUE(limited);
  http::response again = co_await session.get(small_url);
  EXPECT_EQ(co_await again.text(), "ok");
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientMalformed, TheDecompressionRatioIsAClientOption) {
  run_test(the_decompression_ratio_is_a_client_option);
}

// read_chunk() hands a decoded body out in bounded pieces (at most 320 KiB) however far it
// expands and however the bytes arrive: 8 MiB from an 8 KiB gzip body in one read, then the
// connection is reused.
coreio::task<void> decoded_pieces_are_bounded() {
  const std::string text(8u << 20, 'q');
  const std::string packed = gzip_of(text);
  raw_server srv{[&](const seen_request& r, std::size_t) {
    if (r.line().find("/small") != std::string::npos) return reply{ok_response("ok")};
    return reply{ok_response(packed, "Content-Encoding: gzip\r\n")};
  }};
  http::client_options opts{.limit = 1, .max_decompression_ratio = 0};
  http::client session{opts};
  const std::string url = srv.url("/big");
  http::response r = co_await session.get(url);
  std::size_t total = 0, largest = 0, pieces = 0;
  bool same = true;
  for (;;) {
    const auto piece = co_await r.read_chunk();
    if (piece.empty()) break;
    const std::string_view v(reinterpret_cast<const char*>(piece.data()), piece.size());
    same = same && v.find_first_not_of('q') == std::string_view::npos;
    total += piece.size();
    largest = std::max(largest, piece.size());
    ++pieces;
  }
  EXPECT_EQ(total, text.size());
  EXPECT_TRUE(same);
  EXPECT_LE(largest, 320u * 1024);
  EXPECT_GE(pieces, 8u * 1024 / 320);
  const std::string small_url = srv.url("/small");
  http::response again = co_await session.get(small_url);
  EXPECT_EQ(co_await again.text(), "ok");
  EXPECT_EQ(srv.connections(), 1u);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientMalformed, DecodedPiecesAreBounded) { run_test(decoded_pieces_are_bounded); }

coreio::task<void> body_over_max_body_is_a_limit_error() {
  raw_server srv{
      [](const seen_request&, std::size_t) { return reply{ok_response(std::string(5000, 'm'))}; }};
  http::client_options opts{.max_body = 4096};
  http::client session{opts};
  const std::string url = srv.url("/");
  bool limited = false;
  try {
    http::response r = co_await session.get(url);
    (void)co_await r.read();
  } catch (const http::limit_error& e) {
    limited = e.limit() == http::limit_kind::body && e.max() == 4096;
  }
  EXPECT_TRUE(limited);
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientMalformed, BodyOverMaxBodyIsALimitError) {
  run_test(body_over_max_body_is_a_limit_error);
}

}  // namespace
}  // namespace coreio_http_test
