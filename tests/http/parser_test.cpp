// http/parser_test.cpp — src/http/parser.hpp: llhttp strict plus coreio's checks.
//
// Every good message is parsed whole, one byte at a time and split at every byte boundary, and the
// three must agree. Every rejection gives http::error (limit_error with the right kind for a
// limit) naming the part, whole and one byte at a time.
//
// llhttp runs as one of two copies (src/http/llhttp_dispatch.h): its SSE4.2 build where the CPU
// has it, else its baseline build. CTest runs these tests once as built and once more with
// COREIO_TEST_LLHTTP=baseline (tests/http/CMakeLists.txt), and ParserCopiesTest compares the two
// copies on random heads.
#include "http/parser.hpp"
#include "http/text.hpp"

#include <gtest/gtest.h>

#include <coreio/http/errors.hpp>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using coreio::http::error;
using coreio::http::limit_error;
using coreio::http::limit_kind;
using coreio::http::detail::iequals;
using coreio::http::detail::message_head;
using coreio::http::detail::noted_content_encoding;
using coreio::http::detail::noted_keep_alive;
using coreio::http::detail::noted_set_cookie;
using coreio::http::detail::parse_event;
using coreio::http::detail::parse_limits;
using coreio::http::detail::parser;
using coreio::http::detail::refused_request;

using mode = parser::mode;

// COREIO_TEST_LLHTTP=baseline: every test of this file runs llhttp's baseline copy.
class llhttp_copy_environment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* copy = std::getenv("COREIO_TEST_LLHTTP");
    if (copy != nullptr && std::strcmp(copy, "baseline") == 0) {
      coreio::http::detail::use_llhttp_sse42(false);
    }
  }
};
const auto* const llhttp_copy_env =
    ::testing::AddGlobalTestEnvironment(new llhttp_copy_environment);

struct message {
  message_head head;
  std::string body;
};

struct parse_options {
  parse_limits limits{};
  std::string request_method;  // responses: set before each message
  bool finish = true;          // call finish() at the end of the input
};

// Feeds `wire` in pieces whose ends are `cuts` (increasing offsets; the end is implied), the way a
// connection does: a buffer of unconsumed bytes, feed, drop what was consumed, read more on
// need_more. Returns every complete message; a message still open at the end is returned too when
// finish() ends it.
std::vector<message> parse_cut(mode m, std::string_view wire, const std::vector<std::size_t>& cuts,
                               const parse_options& o = {}) {
  parser p(m, o.limits);
  if (!o.request_method.empty()) p.set_request_method(o.request_method);
  std::vector<message> out;
  message cur;
  std::string buf;
  std::size_t next_cut = 0;
  std::size_t pos = 0;
  for (;;) {
    const auto r = p.feed(std::span<const char>(buf.data(), buf.size()));
    EXPECT_LE(r.consumed, buf.size());
    switch (r.event) {
      case parse_event::head:
        cur.head = p.head();
        break;
      case parse_event::body:
        EXPECT_FALSE(r.body.empty());
        cur.body.append(r.body.data(), r.body.size());
        break;
      case parse_event::end:
        out.push_back(std::move(cur));
        cur = message{};
        p.reset();
        if (!o.request_method.empty()) p.set_request_method(o.request_method);
        break;
      case parse_event::need_more:
        EXPECT_EQ(r.consumed, buf.size()) << "need_more must consume everything";
        break;
    }
    buf.erase(0, r.consumed);
    if (r.event != parse_event::need_more) continue;
    if (pos == wire.size()) {
      if (!o.finish) return out;
      const auto f = p.finish();
      if (f.event == parse_event::end) out.push_back(std::move(cur));
      return out;
    }
    const std::size_t end = next_cut < cuts.size() ? cuts[next_cut++] : wire.size();
    buf.append(wire.substr(pos, end - pos));
    pos = end;
  }
}

std::vector<message> parse_whole(mode m, std::string_view wire, const parse_options& o = {}) {
  return parse_cut(m, wire, {}, o);
}

std::vector<message> parse_bytewise(mode m, std::string_view wire, const parse_options& o = {}) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  return parse_cut(m, wire, cuts, o);
}

void expect_same(const std::vector<message>& a, const std::vector<message>& b,
                 const std::string& how) {
  ASSERT_EQ(a.size(), b.size()) << how;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i].head;
    const auto& y = b[i].head;
    EXPECT_EQ(x.method, y.method) << how;
    EXPECT_EQ(x.target, y.target) << how;
    EXPECT_EQ(x.status, y.status) << how;
    EXPECT_EQ(x.reason, y.reason) << how;
    EXPECT_EQ(x.version_major, y.version_major) << how;
    EXPECT_EQ(x.version_minor, y.version_minor) << how;
    EXPECT_EQ(x.keep_alive, y.keep_alive) << how;
    EXPECT_EQ(x.chunked, y.chunked) << how;
    EXPECT_EQ(x.content_length, y.content_length) << how;
    EXPECT_EQ(x.upgrade, y.upgrade) << how;
    EXPECT_EQ(x.expect_continue, y.expect_continue) << how;
    EXPECT_EQ(x.noted, y.noted) << how;
    ASSERT_EQ(x.headers.size(), y.headers.size()) << how;
    for (std::size_t j = 0; j < x.headers.size(); ++j) {
      EXPECT_EQ(x.headers[j].first, y.headers[j].first) << how;
      EXPECT_EQ(x.headers[j].second, y.headers[j].second) << how;
    }
    EXPECT_EQ(a[i].body, b[i].body) << how;
  }
}

// Parses whole, byte by byte and split in two at every offset; all must agree. Returns the whole.
std::vector<message> parse_every_way(mode m, std::string_view wire, const parse_options& o = {}) {
  auto whole = parse_whole(m, wire, o);
  expect_same(whole, parse_bytewise(m, wire, o), "one byte at a time");
  for (std::size_t i = 1; i < wire.size(); ++i) {
    expect_same(whole, parse_cut(m, wire, {i}, o), "split at " + std::to_string(i));
  }
  return whole;
}

// The error thrown by parsing `wire` (whole or bytewise), as a message; fails if none.
template <class E = error>
std::string rejection(mode m, std::string_view wire, bool bytewise, const parse_options& o = {},
                      std::optional<limit_kind> kind = std::nullopt) {
  try {
    if (bytewise) {
      parse_bytewise(m, wire, o);
    } else {
      parse_whole(m, wire, o);
    }
  } catch (const limit_error& e) {
    if (kind) {
      EXPECT_EQ(e.limit(), *kind) << e.what();
    } else {
      ADD_FAILURE() << "a limit_error where a plain error was expected: " << e.what();
    }
    return e.what();
  } catch (const error& e) {
    EXPECT_FALSE(kind) << "expected a limit_error, got: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << wire.substr(0, 200);
  return {};
}

// Rejected both whole and byte by byte, each time with a message containing `part`.
void expect_rejected(mode m, std::string_view wire, std::string_view part,
                     const parse_options& o = {}, std::optional<limit_kind> kind = std::nullopt) {
  for (bool bytewise : {false, true}) {
    const std::string what = rejection(m, wire, bytewise, o, kind);
    EXPECT_NE(what.find(part), std::string::npos) << (bytewise ? "bytewise: " : "whole: ") << "'"
                                                  << what << "' does not name '" << part << "'";
    EXPECT_EQ(what.rfind("http: ", 0), 0u) << what;
  }
}

const std::string get_request =
    "GET /todos/1?x=y HTTP/1.1\r\n"
    "Host: example.test\r\n"
    "User-Agent: coreio-test\r\n"
    "Accept:  */*  \r\n"
    "X-Dup: one\r\n"
    "x-dup: two\r\n"
    "\r\n";

// ---- good messages --------------------------------------------------------------------------------

TEST(ParserTest, ParsesARequestHeadWithFieldsInOrderAndValuesTrimmed) {
  const auto msgs = parse_every_way(mode::request, get_request);
  ASSERT_EQ(msgs.size(), 1u);
  const auto& h = msgs[0].head;
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/todos/1?x=y");
  EXPECT_EQ(h.version_major, 1);
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.headers.size(), 5u);
  EXPECT_EQ(h.headers[0].first, "Host");
  EXPECT_EQ(h.headers[0].second, "example.test");
  EXPECT_EQ(h.headers[2].second, "*/*");
  EXPECT_EQ(h.find("HOST"), "example.test");
  EXPECT_EQ(h.find("x-DUP"), "one");
  EXPECT_EQ(h.find("absent"), std::nullopt);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.chunked);
  EXPECT_FALSE(h.content_length);
  EXPECT_TRUE(msgs[0].body.empty());
}

TEST(ParserTest, ParsesAResponseWithAContentLengthBody) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
  const auto msgs = parse_every_way(mode::response, wire);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].head.status, 200);
  EXPECT_EQ(msgs[0].head.reason, "OK");
  EXPECT_EQ(msgs[0].head.content_length, 13u);
  EXPECT_EQ(msgs[0].body, "Hello, World!");
}

// Several extensions on a chunk, the last chunk's included: llhttp 8.1 as Debian ships it takes one
// only ("5;a=1;b=2" fails as an invalid chunk size); cmake/llhttp.cmake fixes its transition.
TEST(ParserTest, DechunksABodyWithExtensionsAndDropsTrailers) {
  for (mode m : {mode::response, mode::request}) {
    const std::string wire = std::string(m == mode::response ? "HTTP/1.1 200 OK\r\n"
                                                             : "POST / HTTP/1.1\r\nHost: h\r\n") +
                             "Transfer-Encoding: chunked\r\n\r\n"
                             "5;name=value\r\nHello\r\n"
                             "2;q=\"quoted\"\r\n, \r\n"
                             "3;flag\r\nWor\r\n"
                             "1;a=1;b=2;c=3\r\nl\r\n"
                             "1;a;b\r\nd\r\n"
                             "1;q=\"x;y=z\";n=v;flag\r\n!\r\n"
                             "0;last=1;x\r\nX-Trailer: yes\r\n\r\n";
    const auto msgs = parse_every_way(m, wire);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_TRUE(msgs[0].head.chunked);
    EXPECT_EQ(msgs[0].body, "Hello, World!");
    EXPECT_EQ(msgs[0].head.find("x-trailer"), std::nullopt);
  }
}

// A request of HTTP/1.x with x above 1 is read as the 1.1 this parser knows (RFC 9110 section
// 2.5); another major version is parsed for the server to answer 505. A response must be 1.x.
TEST(ParserTest, AHigherMinorVersionIsReadAsHttp11) {
  for (const char* v : {"1.2", "1.9"}) {
    const auto msgs =
        parse_every_way(mode::request, "GET / HTTP/" + std::string(v) + "\r\nHost: h\r\n\r\n");
    ASSERT_EQ(msgs.size(), 1u) << v;
    EXPECT_EQ(msgs[0].head.version_major, 1) << v;
    EXPECT_GE(msgs[0].head.version_minor, 2) << v;
    EXPECT_TRUE(msgs[0].head.keep_alive) << v;
  }
  const auto r = parse_every_way(mode::response, "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].body, "ok");
  EXPECT_TRUE(r[0].head.keep_alive);
  // Another major version is refused with 505 at the request line's end, before any field: the
  // HTTP/2 preface's line without the rest of the preface too (llhttp would wait for that rest).
  for (const char* wire :
       {"GET / HTTP/3.0\r\nHost: h\r\n\r\n", "GET / HTTP/2.0\r\n", "GET / HTTP/0.9\r\n",
        "PRI / HTTP/2.0\r\n\r\n", "PRI * HTTP/2.0\r\n\r\n"}) {
    for (bool bytewise : {false, true}) {
      try {
        parse_options o;
        o.finish = false;
        bytewise ? parse_bytewise(mode::request, wire, o) : parse_whole(mode::request, wire, o);
        ADD_FAILURE() << wire << ": no refusal";
      } catch (const refused_request& e) {
        EXPECT_EQ(e.status(), 505) << wire;
        EXPECT_NE(std::string(e.what()).find("this server speaks HTTP/1.x"), std::string::npos)
            << e.what();
      }
    }
  }
  expect_rejected(mode::request, "GET / HTTP/1.10\r\nHost: h\r\n\r\n", "malformed request");
  expect_rejected(mode::request, "GET / HTTP/x.1\r\nHost: h\r\n\r\n", "malformed request");
}

// A method that is a token but not one llhttp knows is refused with 501 (RFC 9110 section 9.1),
// whole or byte by byte; one that starts with a byte no token has is a plain malformed request.
TEST(ParserRejectTest, AnUnknownMethodIsNotImplemented) {
  for (const char* method : {"FOO", "GETS", "get", "QUERY", "M-SEARCHES", "PURGE_ALL", "X",
                             "DESCRIBE", "SETUP", "GET_PARAMETER"}) {
    const std::string wire = std::string(method) + " / HTTP/1.1\r\nHost: h\r\n\r\n";
    for (bool bytewise : {false, true}) {
      try {
        bytewise ? parse_bytewise(mode::request, wire) : parse_whole(mode::request, wire);
        ADD_FAILURE() << method << ": accepted";
      } catch (const refused_request& e) {
        EXPECT_EQ(e.status(), 501) << method;
        EXPECT_NE(std::string(e.what()).find("not implemented"), std::string::npos) << e.what();
      } catch (const error& e) {
        ADD_FAILURE() << method << ": a plain error: " << e.what();
      }
    }
  }
  // A non-token byte anywhere in the method, not only where llhttp stopped, and a line that is
  // not method, target and HTTP/x.y, are malformed (the line is judged whole, split or not).
  for (const char* wire :
       {"\x16\x03\x01\x02 / HTTP/1.1\r\n\r\n", "(GET) / HTTP/1.1\r\n\r\n",
        "GE\x80T / HTTP/1.1\r\n\r\n", "Z\x01 / HTTP/1.1\r\n\r\n", "X\x80 / HTTP/1.1\r\n\r\n",
        "FOO(BAR / HTTP/1.1\r\n\r\n", "NOT A REQUEST\r\n\r\n", "FOO /\r\n\r\n",
        "FOO  / HTTP/1.1\r\n\r\n", "FOO / HTTP/1.1 \r\n\r\n", "FOO / HTTP/1.1\n\r\n"}) {
    for (bool bytewise : {false, true}) {
      try {
        bytewise ? parse_bytewise(mode::request, wire) : parse_whole(mode::request, wire);
        ADD_FAILURE() << "accepted";
      } catch (const refused_request& e) {
        ADD_FAILURE() << "refused as not implemented: " << e.what();
      } catch (const error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("http: ", 0), 0u) << e.what();
      }
    }
  }
  // The HTTP/2 preface is a version this parser does not speak.
  try {
    parse_whole(mode::request, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    ADD_FAILURE() << "accepted";
  } catch (const refused_request& e) {
    EXPECT_EQ(e.status(), 505);
  }
  // Known methods, llhttp's less common ones among them, parse.
  for (const char* method : {"PURGE", "PATCH", "M-SEARCH", "PROPFIND", "OPTIONS"}) {
    const auto msgs =
        parse_whole(mode::request, std::string(method) + " / HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(msgs.at(0).head.method, method);
  }
}

TEST(ParserTest, ChunkedRequestBody) {
  const std::string wire =
      "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
  const auto msgs = parse_every_way(mode::request, wire);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].body, "abc0123456789");
}

TEST(ParserTest, PipelinedRequestsEndExactlyAtEachMessageEnd) {
  const std::string first = get_request;
  const std::string second = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  const std::string third =
      "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
  const std::string fourth = "DELETE /d HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
  const std::string wire = first + second + third + fourth;

  // Drive the parser by hand: every end must leave exactly the next message's bytes.
  parser p(mode::request);
  std::span<const char> in(wire.data(), wire.size());
  std::size_t at = 0;
  std::vector<std::size_t> ends;
  std::vector<std::string> methods;
  while (ends.size() < 4) {
    const auto r = p.feed(in.subspan(at));
    at += r.consumed;
    if (r.event == parse_event::head) methods.push_back(p.head().method);
    if (r.event == parse_event::end) {
      ends.push_back(at);
      p.reset();
    }
    ASSERT_NE(r.event, parse_event::need_more) << "stopped at " << at;
  }
  const std::vector<std::size_t> expected{first.size(), first.size() + second.size(),
                                          first.size() + second.size() + third.size(), wire.size()};
  EXPECT_EQ(ends, expected);
  EXPECT_EQ(methods, (std::vector<std::string>{"GET", "POST", "PUT", "DELETE"}));

  const auto msgs = parse_every_way(mode::request, wire);
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[1].body, "hello");
  EXPECT_EQ(msgs[2].body, "ok");
  EXPECT_TRUE(msgs[3].body.empty());
}

TEST(ParserTest, EachHeadOnAConnectionHasOnlyItsOwnFields) {
  // The parser reuses the previous head's field strings: longer, shorter, fewer, more in turn.
  const std::string wire =
      "HTTP/1.1 200 OK\r\nX-A: " + std::string(40, 'a') +
      "\r\nX-Bee: b\r\nContent-Length: 1\r\n\r\n1" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n22" +
      "HTTP/1.1 404 Not Found\r\nX-Long-Name-Of-A-Field: " + std::string(30, 'c') +
      "\r\nX-D: d\r\nX-E: \r\nContent-Length: 0\r\n\r\n";
  const auto msgs = parse_every_way(mode::response, wire);
  ASSERT_EQ(msgs.size(), 3u);
  const auto names = [](const message& m) {
    std::vector<std::string> out;
    for (const auto& f : m.head.headers) out.push_back(f.first + "=" + f.second);
    return out;
  };
  EXPECT_EQ(names(msgs[0]), (std::vector<std::string>{"X-A=" + std::string(40, 'a'), "X-Bee=b",
                                                      "Content-Length=1"}));
  EXPECT_EQ(names(msgs[1]), (std::vector<std::string>{"Content-Length=2"}));
  EXPECT_EQ(names(msgs[2]),
            (std::vector<std::string>{"X-Long-Name-Of-A-Field=" + std::string(30, 'c'), "X-D=d",
                                      "X-E=", "Content-Length=0"}));
  EXPECT_EQ(msgs[2].head.status, 404);
  EXPECT_EQ(msgs[2].head.reason, "Not Found");
}

TEST(ParserTest, HeadsAfterTheOwnerTookTheFieldsAreWhole) {
  // What the client does: each head's field list goes to its response (swapped out), so the
  // parser starts the next head with an empty vector; one head split inside a name and a value.
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: a\r\n\r\n";
  const std::string second = "HTTP/1.1 200 OK\r\nX-Long-Name-Of-A-Field: " + std::string(30, 'v') +
                             "\r\nContent-Length: 0\r\nX-B:  b \r\n\r\n";
  parser p(mode::response);
  std::vector<std::vector<std::string>> heads;
  for (const std::string& wire : {first, second, second}) {
    // The third parse feeds the second head in three pieces.
    const std::vector<std::size_t> cuts = heads.size() == 2
                                              ? std::vector<std::size_t>{22, 50, wire.size()}
                                              : std::vector<std::size_t>{wire.size()};
    p.reset();
    std::size_t at = 0;
    for (std::size_t cut : cuts) {
      const auto r = p.feed(std::span<const char>(wire.data() + at, cut - at));
      at += r.consumed;
      if (r.event == parse_event::head) {
        coreio::http::detail::field_list taken;
        taken.swap(p.head().headers);
        std::vector<std::string> fields;
        for (const auto& [n, v] : taken) fields.push_back(n + "=" + v);
        heads.push_back(fields);
        break;
      }
    }
  }
  ASSERT_EQ(heads.size(), 3u);
  EXPECT_EQ(heads[0], (std::vector<std::string>{"Content-Length=0", "X-A=a"}));
  const std::vector<std::string> long_head{"X-Long-Name-Of-A-Field=" + std::string(30, 'v'),
                                           "Content-Length=0", "X-B=b"};
  EXPECT_EQ(heads[1], long_head);
  EXPECT_EQ(heads[2], long_head);
}

// message_head::noted has the bit of each noted field a head has (any case) and no other, however
// the input is split, and a head on the same connection after one with the fields has none of them.
TEST(ParserTest, NotedBitsAreThoseOfTheFieldsPresent) {
  auto bits_of = [](const message_head& h) {
    std::uint8_t b = 0;
    for (const auto& [n, v] : h.headers) {
      if (iequals(n, "keep-alive")) b |= noted_keep_alive;
      if (iequals(n, "content-encoding")) b |= noted_content_encoding;
      if (iequals(n, "set-cookie")) b |= noted_set_cookie;
    }
    return b;
  };
  const std::string with_all =
      "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKEEP-ALIVE: timeout=5\r\n"
      "content-Encoding: gzip\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 0\r\n\r\n";
  const std::string with_none =
      "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Location: /x\r\n"
      "Set-Cookie2: c=3\r\nKeep-Alives: no\r\nContent-Length: 0\r\n\r\n";
  const std::string cookie_only = "HTTP/1.1 204 No Content\r\nSET-COOKIE: d=4\r\n\r\n";
  const auto msgs = parse_every_way(mode::response, with_all + with_none + cookie_only);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].head.noted, noted_keep_alive | noted_content_encoding | noted_set_cookie);
  EXPECT_EQ(msgs[1].head.noted, 0);
  EXPECT_EQ(msgs[2].head.noted, noted_set_cookie);
  for (const auto& m : msgs) EXPECT_EQ(m.head.noted, bits_of(m.head));
  // Trailer fields are dropped and note nothing.
  const auto chunked = parse_every_way(mode::response,
                                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                       "chunked\r\n\r\n1\r\na\r\n0\r\nSet-Cookie: t=1\r\n\r\n");
  ASSERT_EQ(chunked.size(), 1u);
  EXPECT_EQ(chunked[0].head.noted, 0);
}

TEST(ParserTest, AMessageWithoutABodyEndsOnAnEmptyFeedAfterItsHead) {
  parser p(mode::request);
  const auto r = p.feed(std::span<const char>(get_request.data(), get_request.size()));
  EXPECT_EQ(r.event, parse_event::head);
  EXPECT_EQ(r.consumed, get_request.size());
  const auto e = p.feed(std::span<const char>());
  EXPECT_EQ(e.event, parse_event::end);
  EXPECT_EQ(e.consumed, 0u);
  // Until reset(), the parser stays at the end.
  EXPECT_EQ(p.feed(std::span<const char>()).event, parse_event::end);
  p.reset();
  EXPECT_EQ(p.feed(std::span<const char>()).event, parse_event::need_more);
  EXPECT_EQ(p.finish().event, parse_event::need_more);
}

TEST(ParserTest, AResponseToHeadHasNoBodyWhateverItsContentLength) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nTransfer-Encoding: identity\r\n\r\n";
  parse_options o;
  o.request_method = "HEAD";
  // (The second one is rejected for CL + TE: proof the first ended right at its head.)
  EXPECT_NE(rejection(mode::response, wire, false, o).find("Content-Length and Transfer-Encoding"),
            std::string::npos);
  const std::string two =
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: "
      "7\r\n\r\n";
  const auto msgs = parse_every_way(mode::response, two, o);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].head.content_length, 100u);
  EXPECT_TRUE(msgs[0].body.empty());
  EXPECT_EQ(msgs[1].head.status, 404);
  EXPECT_TRUE(msgs[1].body.empty());
}

TEST(ParserTest, NoContentAndNotModifiedHaveNoBody) {
  const std::string wire =
      "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 20\r\nETag: \"x\"\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const auto msgs = parse_every_way(mode::response, wire);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].head.status, 204);
  EXPECT_TRUE(msgs[0].body.empty());
  EXPECT_EQ(msgs[1].head.status, 304);
  EXPECT_TRUE(msgs[1].body.empty());
  EXPECT_EQ(msgs[2].body, "abc");
  // A 204 that declares a body does not keep its connection (bytes sent "for it" would be read as
  // the next response); a 304 may carry the selected representation's Content-Length, and the
  // codings of the one it stands for.
  EXPECT_FALSE(msgs[0].head.keep_alive);
  EXPECT_TRUE(msgs[1].head.keep_alive);
  const auto chunked =
      parse_every_way(mode::response,
                      "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                      "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(chunked.size(), 3u);
  EXPECT_FALSE(chunked[0].head.keep_alive);
  EXPECT_TRUE(chunked[1].head.keep_alive);
  EXPECT_TRUE(chunked[2].head.keep_alive);
}

// A response to HEAD may name the transfer codings of the response it stands for (RFC 9112
// section 6.1): no body is read, so none is left undecoded.
TEST(ParserTest, AResponseWithoutABodyMayNameAnyTransferCoding) {
  parse_options o;
  o.request_method = "HEAD";
  const auto msgs = parse_every_way(
      mode::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", o);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0].body.empty());
}

TEST(ParserTest, InterimResponsesAreSkipped) {
  const std::string wire =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  const auto msgs = parse_every_way(mode::response, wire);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].head.status, 200);
  ASSERT_EQ(msgs[0].head.headers.size(), 1u);
  EXPECT_EQ(msgs[0].head.headers[0].first, "Content-Length");
  EXPECT_EQ(msgs[0].body, "hi");
}

// Interim responses share one head budget before the final response: a server sending them
// without end gets a limit_error, not a request held until its deadline (Go's client bounds them
// too). The budget starts again with the next response on the connection.
TEST(ParserRejectTest, InterimResponsesShareOneHeadBudget) {
  parse_options small;
  small.limits.max_head = 256;
  std::string interims;
  for (int i = 0; i < 9; ++i) interims += "HTTP/1.1 102 Processing\r\n\r\n";  // 27 bytes each
  const std::string final_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  const auto ok =
      parse_every_way(mode::response, interims + final_response + interims + final_response, small);
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[1].body, "hi");
  expect_rejected(mode::response, interims + "HTTP/1.1 102 Processing\r\n\r\n" + final_response,
                  "interim (1xx) responses over 256 bytes", small, limit_kind::header_block);
}

TEST(ParserTest, SwitchingProtocolsIsReportedAndTheRestIsLeftUnconsumed) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string wire = head + "\x81\x05hello";
  parser p(mode::response);
  std::span<const char> in(wire.data(), wire.size());
  const auto r = p.feed(in);
  ASSERT_EQ(r.event, parse_event::head);
  EXPECT_EQ(r.consumed, head.size());
  EXPECT_EQ(p.head().status, 101);
  EXPECT_TRUE(p.head().upgrade);
  const auto e = p.feed(in.subspan(r.consumed));
  EXPECT_EQ(e.event, parse_event::end);
  EXPECT_EQ(e.consumed, 0u);
}

TEST(ParserTest, ABodyWithoutLengthIsReadUntilClose) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this, until close";
  const auto msgs = parse_every_way(mode::response, wire);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].body, "all of this, until close");
  EXPECT_FALSE(msgs[0].head.keep_alive);
  // Without finish() the message never ends.
  parse_options o;
  o.finish = false;
  EXPECT_TRUE(parse_whole(mode::response, wire, o).empty());
}

TEST(ParserTest, KeepAliveFollowsVersionAndConnection) {
  auto one = [](std::string wire) { return parse_whole(mode::request, wire).at(0).head; };
  EXPECT_FALSE(one("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(one("GET / HTTP/1.0\r\n\r\n").keep_alive);
  const auto h10 = one("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(h10.keep_alive);
  EXPECT_EQ(h10.version_minor, 0);
  EXPECT_TRUE(one("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: "
                  "0\r\n\r\n")
                  .expect_continue);
  EXPECT_FALSE(one(get_request).expect_continue);
  // Expect is a list, in any case, over any number of fields (RFC 9110 section 10.1.1); an
  // HTTP/1.0 request's is ignored.
  const auto both = one("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue , x=1\r\n\r\n");
  EXPECT_TRUE(both.expect_continue);
  EXPECT_TRUE(both.expect_other);
  const auto split = one("POST / HTTP/1.1\r\nHost: h\r\nExpect: ,\r\nexpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(split.expect_continue);
  EXPECT_FALSE(split.expect_other);
  EXPECT_FALSE(one("POST / HTTP/1.1\r\nHost: h\r\nExpect: \r\n\r\n").expect_other);
  const auto old = one("POST / HTTP/1.0\r\nExpect: 100-continue, x\r\n\r\n");
  EXPECT_FALSE(old.expect_continue);
  EXPECT_FALSE(old.expect_other);
}

// close is an option of any Connection field, in any case, with whitespace around it (RFC 9110
// section 5.6.1), and wins over keep-alive (RFC 9112 section 9.6); llhttp takes it only as a
// whole item and, on HTTP/1.0, lets keep-alive win.
TEST(ParserTest, CloseInAnyConnectionFieldEndsTheConnection) {
  for (const char* fields :
       {"Connection: close\t\r\n", "Connection: close \t\r\n", "Connection: close\t,foo\r\n",
        "Connection: foo,\tCLOSE\r\n", "Connection: keep-alive, close\r\n",
        "Connection: keep-alive\r\nConnection: close\r\n"}) {
    for (const char* version : {"1.1", "1.0"}) {
      const auto req = parse_every_way(mode::request, "GET / HTTP/" + std::string(version) +
                                                          "\r\nHost: h\r\n" + fields + "\r\n");
      EXPECT_FALSE(req.at(0).head.keep_alive) << version << " " << fields;
      const auto res =
          parse_every_way(mode::response, "HTTP/" + std::string(version) +
                                              " 200 OK\r\nContent-Length: 0\r\n" + fields + "\r\n");
      EXPECT_FALSE(res.at(0).head.keep_alive) << version << " " << fields;
    }
  }
  const auto kept = parse_whole(mode::request,
                                "GET / HTTP/1.1\r\nHost: h\r\nConnection: "
                                "keep-alive, closed, upgrade\r\n\r\n");
  EXPECT_TRUE(kept.at(0).head.keep_alive);
}

// An interim response has no body whatever its fields say (RFC 9112 section 6.3 item 1): the final
// response after it is read as sent.
TEST(ParserTest, AnInterimResponseWithFramingFieldsHasNoBody) {
  for (const char* interim : {"HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\n",
                              "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n",
                              "HTTP/1.1 102 Processing\r\nTransfer-Encoding: chunked\r\n\r\n",
                              "HTTP/1.1 199 Misc\r\nTransfer-Encoding: chunked\r\n\r\n",
                              "HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\n"}) {
    const auto msgs = parse_every_way(
        mode::response, std::string(interim) + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    ASSERT_EQ(msgs.size(), 1u) << interim;
    EXPECT_EQ(msgs[0].head.status, 200) << interim;
    EXPECT_EQ(msgs[0].body, "hello") << interim;
  }
}

// HTAB may be in a reason phrase (RFC 9112 section 4), not elsewhere in a start line.
TEST(ParserTest, AReasonPhraseMayHoldATab) {
  const auto msgs =
      parse_every_way(mode::response, "HTTP/1.1 200 O\tK\t\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].body, "ok");
  expect_rejected(mode::request, "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", "control character");
}

TEST(ParserTest, FinishRightAfterTheHeadOfAMessageWithoutBodyEndsIt) {
  parser p(mode::request);
  const auto r = p.feed(std::span<const char>(get_request.data(), get_request.size()));
  ASSERT_EQ(r.event, parse_event::head);
  EXPECT_EQ(p.finish().event, parse_event::end);
  parser q(mode::response);
  const std::string no_content = "HTTP/1.1 204 No Content\r\n\r\n";
  ASSERT_EQ(q.feed(std::span<const char>(no_content.data(), no_content.size())).event,
            parse_event::head);
  EXPECT_EQ(q.finish().event, parse_event::end);
}

TEST(ParserTest, FinishInTheMiddleOfAMessageNamesThePart) {
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                  "before the end of the response body (3 of 10 bytes)");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                  "before the end of the response body (chunked");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nContent-Le",
                  "before the end of the response head");
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nHost: h\r\n",
                  "before the end of the request head");
}

TEST(ParserTest, AfterAnErrorTheParserStaysDead) {
  parser p(mode::request);
  const std::string bad = "GET / HTTP/1.1\r\nHost : h\r\n\r\n";
  EXPECT_THROW(p.feed(std::span<const char>(bad.data(), bad.size())), error);
  EXPECT_THROW(p.feed(std::span<const char>(get_request.data(), get_request.size())), error);
  p.reset();
  EXPECT_THROW(p.feed(std::span<const char>(get_request.data(), get_request.size())), error);
}

TEST(ParserTest, AMovedParserKeepsParsing) {
  parser p(mode::request);
  std::span<const char> in(get_request.data(), get_request.size());
  auto r = p.feed(in.first(10));
  EXPECT_EQ(r.event, parse_event::need_more);
  parser q = std::move(p);
  r = q.feed(in.subspan(10));
  EXPECT_EQ(r.event, parse_event::head);
  EXPECT_EQ(q.head().target, "/todos/1?x=y");
}

// ---- smuggling and malformed input ----------------------------------------------------------------

// obs-fold (RFC 9112 section 5.2): a server may refuse it, and does; a user agent must take it,
// each fold as spaces. Never before the first field, nor in trailers.
TEST(ParserRejectTest, ObsFold) {
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n",
                  "obs-fold");
  // Before the first field there is nothing to fold into: whitespace before it (section 2.2).
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\n X-A: one\r\nContent-Length: 0\r\n\r\n",
                  "whitespace before the first header field");
  expect_rejected(mode::request, "GET / HTTP/1.1\r\n\tHost: h\r\n\r\n",
                  "whitespace before the first header field");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n",
                  "obs-fold");
}

TEST(ParserTest, AResponseFoldedFieldIsOneValueWithSpaces) {
  const auto msgs = parse_every_way(
      mode::response,
      "HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\n   three\r\nX-B: b\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(msgs.size(), 1u);
  const auto& h = msgs[0].head.headers;
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].first, "X-A");
  EXPECT_EQ(h[0].second, "one two   three");  // each fold's whitespace, as spaces
  EXPECT_EQ(h[1].second, "b");
  EXPECT_EQ(msgs[0].body, "ok");
}

TEST(ParserRejectTest, WhitespaceBeforeTheColon) {
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
                  "before the colon");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nContent-Length\t: 0\r\n\r\n",
                  "before the colon");
  // A line of words without a colon stops at its first space: the message names both readings.
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nFoo: foo\r\nNo colon line\r\n\r\n",
                  "a line without a colon");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "without a colon");
}

TEST(ParserRejectTest, BareLfAndBareCr) {
  expect_rejected(mode::request, "GET / HTTP/1.1\nHost: h\r\n\r\n", "bare LF");
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nHost: h\n\r\n", "bare LF");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", "bare LF");
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", "bare CR");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", "bare CR");
}

TEST(ParserRejectTest, ControlCharactersInValues) {
  for (char c : {'\x01', '\x7f', '\x1b', '\x0b'}) {
    std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a";
    wire += c;
    wire += "b\r\n\r\n";
    expect_rejected(mode::request, wire, "control character");
  }
  expect_rejected(mode::response,
                  std::string("HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n", 47),
                  "control character 0x00");
  // A tab inside a value and obs-text are allowed.
  const auto ok = parse_whole(mode::request, "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\tb \xe9\r\n\r\n");
  EXPECT_EQ(ok.at(0).head.find("x-a"), "a\tb \xe9");
}

TEST(ParserRejectTest, ABadByteAnywhereInALongLineIsFound) {
  // The scan skips runs of ordinary bytes; the byte that ends a run must still be judged, wherever
  // it falls in the line.
  const std::string filler(300, 'v');
  for (std::size_t at : {0u, 1u, 7u, 8u, 150u, 299u}) {
    std::string value = filler;
    value.insert(at, 1, '\x01');
    expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nX: " + value + "\r\n\r\n",
                    "control character 0x01 in a header value");
    std::string del = filler;
    del.insert(at, 1, '\x7f');
    expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nX: " + del + "\r\n\r\n",
                    "control character 0x7f in a header value");
    std::string name = filler;
    name.insert(at, 1, ' ');
    expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nX" + name + ": v\r\n\r\n",
                    "whitespace in a header name");
    std::string reason = filler;
    reason.insert(at, 1, '\x02');
    expect_rejected(mode::response, "HTTP/1.1 200 " + reason + "\r\n\r\n",
                    "control character 0x02 in the status line");
    std::string cr = filler;
    cr.insert(at, "\rx");
    expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nX: " + cr + "\r\n\r\n", "bare CR");
    std::string lf = filler;
    lf.insert(at, "\n");
    expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nX: " + lf + "\r\n\r\n", "bare LF");
  }
  // Tabs and bytes >= 0x80 are ordinary in a value.
  const auto msgs = parse_every_way(
      mode::response, "HTTP/1.1 200 OK\r\nX: a\tb\xe9" + filler + "\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].head.headers.at(0).second, "a\tb\xe9" + filler);
}

TEST(ParserRejectTest, TransferEncodingOnHttp10) {
  expect_rejected(mode::request, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  "HTTP/1.0");
  expect_rejected(mode::response, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  "HTTP/1.0");
}

// (llhttp rejects some of these itself, in requests, with its own words naming Transfer-Encoding.)
TEST(ParserRejectTest, TransferEncodingWhoseFinalCodingIsNotChunked) {
  expect_rejected(mode::request, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
                  "Transfer-Encoding");
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                  "Transfer-Encoding");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
                  "final coding is 'gzip'");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc",
                  "final coding is 'gzip'");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                  "identity\r\n\r\n",
                  "final coding is 'identity'");
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                  "Transfer-Encoding");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
                  "chunked before the final coding");
  // A request with gzip then chunked frames (the server answers 501 from the head); a response's
  // body would reach the user still gzipped, as if it were the content.
  const auto ok = parse_whole(
      mode::request,
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(ok.at(0).head.chunked);
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                  "unsupported transfer coding 'gzip'");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n0\r\n\r\n",
                  "unsupported transfer coding 'gzip'");
}

// An empty Transfer-Encoding is not "no Transfer-Encoding": with Content-Length after it, either
// framing could be taken (a smuggling vector), in either order of the two fields.
TEST(ParserRejectTest, AnEmptyTransferEncoding) {
  for (const mode m : {mode::request, mode::response}) {
    const std::string start =
        m == mode::request ? "POST / HTTP/1.1\r\nHost: h\r\n" : "HTTP/1.1 200 OK\r\n";
    expect_rejected(m, start + "Transfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello",
                    "empty Transfer-Encoding");
    expect_rejected(m, start + "Transfer-Encoding: , \r\n\r\n", "empty Transfer-Encoding");
    expect_rejected(m, start + "Content-Length: 5\r\nTransfer-Encoding: \r\n\r\nhello",
                    "Content-Length and Transfer-Encoding together");
  }
}

// A field name is a token (RFC 9110 section 5.1): at least one character.
TEST(ParserRejectTest, AnEmptyFieldName) {
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", "empty field name");
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\n:v\r\nContent-Length: 0\r\n\r\n",
                  "empty field name");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n: t\r\n\r\n",
                  "empty field name");
}

// A status is three digits, 100 or more; a response is HTTP/1.x.
TEST(ParserRejectTest, AStatusBelow100OrAVersionOtherThan1) {
  for (const char* line : {"HTTP/1.1 99 Low", "HTTP/1.1 099 Low", "HTTP/1.1 000 Zero",
                           "HTTP/1.1 0 Z", "HTTP/1.0  401 Unauthorized", "HTTP/1.1  Unknown"}) {
    expect_rejected(mode::response, std::string(line) + "\r\nContent-Length: 0\r\n\r\n",
                    "status code");
  }
  for (const char* line : {"HTTP/2.0 200 OK", "HTTP/0.9 200 OK", "HTTP/3.0 200 OK"}) {
    expect_rejected(mode::response, std::string(line) + "\r\nContent-Length: 0\r\n\r\n",
                    "not HTTP/1.x");
  }
  const auto ok = parse_whole(
      mode::response, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 999 X\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(ok.at(0).head.status, 999);
}

TEST(ParserRejectTest, ContentLengthWithTransferEncoding) {
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n0\r\n\r\n",
                  "Content-Length and Transfer-Encoding together");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                  "Content-Length and Transfer-Encoding together");
}

TEST(ParserRejectTest, SeveralOrMalformedContentLength) {
  expect_rejected(
      mode::request,
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
      "several Content-Length");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello",
                  "several Content-Length");
  for (const char* v : {"5, 5", "abc", "-1", "+5", "0x10", "1 2", "99999999999999999999999"}) {
    const std::string wire =
        std::string("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ") + v + "\r\n\r\n";
    expect_rejected(mode::request, wire, "Content-Length");
  }
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "Content-Length");
}

// Whitespace around a field value is OWS, SP or HTAB, and not part of the value (RFC 9112 section
// 5): a Content-Length followed by a tab frames its body (llhttp 8.1 took SP only; see
// cmake/llhttp.cmake).
TEST(ParserTest, AContentLengthMayHaveTabsAroundIt) {
  for (const char* v : {"5\t", "5 \t ", "\t5\t", " 5 "}) {
    const std::string fields = "Content-Length: " + std::string(v) + "\r\n\r\n";
    const auto req =
        parse_every_way(mode::request, "POST / HTTP/1.1\r\nHost: h\r\n" + fields + "hello");
    ASSERT_EQ(req.size(), 1u) << v;
    EXPECT_EQ(req.at(0).head.content_length, 5u) << v;
    EXPECT_EQ(req.at(0).body, "hello") << v;
    const auto res = parse_every_way(mode::response, "HTTP/1.1 200 OK\r\n" + fields + "hello");
    ASSERT_EQ(res.size(), 1u) << v;
    EXPECT_EQ(res.at(0).body, "hello") << v;
  }
  // A tab inside the number is no whitespace around it.
  expect_rejected(mode::request, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\t5\r\n\r\n",
                  "Content-Length");
}

// The framing fields are recognised in any letter case, and only they: a name one byte off is an
// ordinary field.
TEST(ParserRejectTest, FramingFieldNamesMatchInAnyCaseOnly) {
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 5\r\ncOnTeNt-LeNgTh: 5\r\n\r\nhello",
                  "several Content-Length");
  expect_rejected(mode::response,
                  "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
                  "Content-Length and Transfer-Encoding together");
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nHOST: a\r\nhost: b\r\n\r\n", "several Host");
  const auto msgs = parse_every_way(
      mode::response,
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent_Length: 7\r\nContent-Lengtj: 9\r\n"
      "Transfer-Encodinf: chunked\r\n\r\nhi");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].head.content_length.value_or(0), 2u);
  EXPECT_FALSE(msgs[0].head.chunked);
  EXPECT_EQ(msgs[0].body, "hi");
  EXPECT_EQ(msgs[0].head.headers.size(), 4u);
}

// A head that arrives in one piece takes a shorter path (its fields from head_scan's views, llhttp
// without field callbacks); an error llhttp finds on that path makes it parse the head again the
// long way. Whichever check comes first in byte order names the error, whole or byte by byte: a
// field name llhttp rejects ('@' is not a token character) after a second Content-Length, and
// before it.
TEST(ParserRejectTest, TheFirstErrorInByteOrderWinsAcrossBothLayers) {
  expect_rejected(
      mode::response,
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\nBad@Name: x\r\n\r\n",
      "several Content-Length");
  const std::string llhttp_first =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nBad@Name: x\r\nContent-Length: 5\r\n\r\n";
  for (bool bytewise : {false, true}) {
    const std::string what = rejection(mode::response, llhttp_first, bytewise);
    EXPECT_NE(what.find("malformed response"), std::string::npos) << what;
  }
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 1\r\nX@: y\r\n\r\n",
                  "Content-Length and Transfer-Encoding together");
}

// A head in one piece and the same head byte by byte give the same fields, including an empty
// value, a value of whitespace only and values with whitespace at both ends, and every head of a
// keep-alive connection (each message's head arrives in one piece after the one before).
TEST(ParserTest, AHeadInOnePieceGivesTheFieldsTheLongWayGives) {
  const std::string one =
      "HTTP/1.1 200 OK\r\nServer: t\r\nX-Empty:\r\nX-Blank: \t \r\nX-Both:\t a b \t\r\n"
      "Content-Length: 2\r\n\r\nhi";
  const std::string two = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  const auto msgs = parse_every_way(mode::response, one + two + one);
  ASSERT_EQ(msgs.size(), 3u);
  const auto& h = msgs[0].head;
  ASSERT_EQ(h.headers.size(), 5u);
  EXPECT_EQ(h.headers[1].second, "");
  EXPECT_EQ(h.headers[2].second, "");
  EXPECT_EQ(h.headers[3].first, "X-Both");
  EXPECT_EQ(h.headers[3].second, "a b");
  EXPECT_EQ(h.content_length.value_or(0), 2u);
  EXPECT_EQ(msgs[1].head.status, 404);
  ASSERT_EQ(msgs[1].head.headers.size(), 1u);
  EXPECT_EQ(msgs[2].head.headers.size(), 5u);
  EXPECT_EQ(msgs[2].body, "hi");
}

TEST(ParserRejectTest, HostMissingOrDuplicated) {
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "without a Host");
  expect_rejected(mode::request, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "several Host");
  expect_rejected(mode::request, "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", "several Host");
  EXPECT_EQ(parse_whole(mode::request, "GET / HTTP/1.0\r\n\r\n").size(), 1u);
}

TEST(ParserRejectTest, BadChunkFraming) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_rejected(mode::response, head + "zz\r\nhello\r\n0\r\n\r\n", "malformed response");
  expect_rejected(mode::response, head + "5\r\nhelloXX\r\n0\r\n\r\n", "malformed response");
  expect_rejected(mode::response, head + "5\nhello\r\n0\r\n\r\n", "malformed response");
  expect_rejected(mode::response, head + "5;a=b\nc\r\nhello\r\n0\r\n\r\n", "malformed response");
  expect_rejected(mode::response, head + "fffffffffffffffffff\r\n", "malformed response");
  // A chunk extension's name and its value are never empty (RFC 9112 section 7.1.1).
  for (const char* line : {"5;=v", "5;n=", "5;a=1;=v", "5;a=1;b=", "5;a;;b", "5;;a"}) {
    expect_rejected(mode::response, head + line + "\r\nhello\r\n0\r\n\r\n",
                    "empty chunk extension name or value");
  }
  // Nor does a ';' end a line.
  expect_rejected(mode::response, head + "5;a=1;\r\nhello\r\n0\r\n\r\n", "malformed response");
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n0\r\n\r\n[GARBAGE]",
                  "malformed request");
  // (Garbage that is a token is an unknown method: AnUnknownMethodIsNotImplemented.)
}

// llhttp frames "chunked" only as a whole list item: one followed by whitespace or an empty item is
// not chunked to it, while this layer trims and skips those; such a response body would be read
// until the connection closed with its chunk lines as content, so the response is refused (a
// request is refused by this check or by strict llhttp's own, whichever comes first).
TEST(ParserRejectTest, ChunkedThatLlhttpWouldNotFrameAsChunked) {
  for (const char* te : {"chunked\t", "chunked,", "chunked, ", "chunked,,", "\t chunked \t"}) {
    const std::string fields = "Transfer-Encoding: " + std::string(te) + "\r\n\r\n";
    expect_rejected(mode::response, "HTTP/1.1 200 OK\r\n" + fields + "5\r\nhello\r\n0\r\n\r\n",
                    "not framed as chunked");
    expect_rejected(mode::request,
                    "POST / HTTP/1.1\r\nHost: h\r\n" + fields + "5\r\nhello\r\n0\r\n\r\n",
                    "Transfer-Encoding");
  }
  // Whitespace before it, and empty items before it, are llhttp's chunked too.
  for (const char* te : {" chunked", ", chunked", ",chunked"}) {
    const auto msgs =
        parse_every_way(mode::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: " + std::string(te) +
                                            "\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    EXPECT_EQ(msgs.at(0).body, "hello") << te;
  }
  // A response without a body may say anything there.
  parser p(mode::response);
  p.set_request_method("HEAD");
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n";
  EXPECT_EQ(p.feed(std::span<const char>(head.data(), head.size())).event, parse_event::head);
}

// A request line ends with HTTP/x.y (RFC 9112 section 2.3): llhttp also takes RTSP's and ICE's
// protocols for some methods, and HTTP/0.9's line without a version.
// An absolute-form target names the host (RFC 9112 sections 3.2.2 and 3.3): its authority becomes
// the Host field's value; one a Host field could not hold, or with userinfo, is refused.
TEST(ParserTest, AnAbsoluteFormTargetsAuthorityIsTheHost) {
  const auto msgs = parse_every_way(
      mode::request, "GET http://evil.example:8080/info?x HTTP/1.1\r\nX-A: 1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].head.target, "http://evil.example:8080/info?x");
  ASSERT_EQ(msgs[0].head.headers.size(), 2u);
  EXPECT_EQ(msgs[0].head.headers[1].second, "evil.example:8080");
  const auto v6 = parse_whole(mode::request, "GET HTTPS://[::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(v6.at(0).head.headers.at(0).second, "[::1]:443");
  // An HTTP/1.0 request may have no Host field: the authority is its host all the same.
  const auto old =
      parse_every_way(mode::request, "GET http://h.test/info HTTP/1.0\r\nX-A: 1\r\n\r\n");
  ASSERT_EQ(old.at(0).head.headers.size(), 2u);
  EXPECT_EQ(old.at(0).head.find("host"), "h.test");
  // Keep-alive heads reuse their field strings: the added field is this head's alone.
  const auto two = parse_every_way(mode::request,
                                   "GET http://h.test/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                                   "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].head.headers.size(), 2u);
  EXPECT_EQ(two[1].head.headers.size(), 1u);
  EXPECT_EQ(two[1].head.find("host"), std::nullopt);
  // An origin-form or asterisk-form target leaves Host alone.
  EXPECT_EQ(parse_whole(mode::request, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
                .at(0)
                .head.headers.at(0)
                .second,
            "a");
  for (const char* target :
       {"http:///info", "http://@/info", "http://[::1/info", "http://evil:80:81/info",
        "http://evil:ab/info", "http://:80/info", "http://u:p@evil/info", "https://a b/"}) {
    expect_rejected(
        mode::request, "GET " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n\r\n",
        target == std::string("https://a b/") ? "malformed request" : "invalid authority");
  }
}

TEST(ParserRejectTest, ARequestLineOfAnotherProtocol) {
  for (const char* line : {"GET /d RTSP/1.0", "POST /d RTSP/1.0", "OPTIONS * RTSP/1.0",
                           "SOURCE /d ICE/1.0", "GET /d"}) {
    expect_rejected(mode::request, std::string(line) + "\r\nHost: h\r\n\r\n", "without HTTP/x.y");
  }
  // Split anywhere, the check sees the line's end.
  const auto ok = parse_every_way(mode::request, "GET /HTTP/ HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(ok.at(0).head.target, "/HTTP/");
}

// llhttp takes several spaces between the parts of a request line; one is the grammar (RFC 9112
// section 3), and a hop that reads the line otherwise is a smuggling vector (found by a probe: the
// server answered 200, and the pipelined request after it too).
TEST(ParserRejectTest, MoreThanOneSpaceBetweenTheRequestLinesParts) {
  for (const char* line : {"GET  /info HTTP/1.1", "GET /info  HTTP/1.1", "POST   / HTTP/1.1",
                           "GET  http://a/x  HTTP/1.1", "OPTIONS  * HTTP/1.1"}) {
    expect_rejected(mode::request, std::string(line) + "\r\nHost: a\r\n\r\n",
                    "more than one space");
  }
  // The same lines with one space each parse, split anywhere.
  for (const char* line : {"GET /info HTTP/1.1", "POST / HTTP/1.1", "OPTIONS * HTTP/1.1",
                           "GET http://a/x HTTP/1.1", "GET /a%20b?q=1 HTTP/1.0"}) {
    const auto ok = parse_every_way(mode::request, std::string(line) + "\r\nHost: a\r\n\r\n");
    EXPECT_EQ(ok.size(), 1u) << line;
  }
}

TEST(ParserRejectTest, GarbageInTheStartLine) {
  expect_rejected(mode::request, "GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", "malformed request");
  expect_rejected(mode::request, "G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", "control character");
  expect_rejected(mode::response, "HTTP/1.1 2000 OK\r\n\r\n", "malformed response");
  expect_rejected(mode::response, "HTTX/1.1 200 OK\r\n\r\n", "malformed response");
}

// ---- limits ---------------------------------------------------------------------------------------

TEST(ParserLimitTest, RequestLineOverItsLimit) {
  parse_options o;
  o.limits.max_start_line = 64;
  const std::string ok = "GET /" + std::string(64 - 15, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(parse_whole(mode::request, ok, o).size(), 1u);
  const std::string bad = "GET /" + std::string(64 - 13, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  expect_rejected(mode::request, bad, "request line over 64 bytes", o, limit_kind::request_line);
  // With the default limit (8 KiB), and without ever seeing the end of the line.
  expect_rejected(mode::request, "GET /" + std::string(9000, 'a'), "request line over 8192 bytes",
                  {}, limit_kind::request_line);
}

TEST(ParserLimitTest, StatusLineOverItsLimit) {
  expect_rejected(mode::response, "HTTP/1.1 200 " + std::string(9000, 'A'),
                  "status line over 8192 bytes", {}, limit_kind::status_line);
}

TEST(ParserLimitTest, HeaderLineOverItsLimit) {
  parse_options o;
  o.limits.max_field = 100;
  const std::string ok = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(97, 'v') + "\r\n\r\n";
  EXPECT_EQ(parse_whole(mode::request, ok, o).size(), 1u);
  const std::string bad = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(98, 'v') + "\r\n\r\n";
  expect_rejected(mode::request, bad, "header line over 100 bytes", o, limit_kind::header_field);
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'v'),
                  "header line over 8192 bytes", {}, limit_kind::header_field);
}

TEST(ParserLimitTest, HeaderBlockOverItsLimit) {
  parse_options o;
  o.limits.max_head = 32 * 1024;  // the server's
  std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; wire.size() < 33 * 1024; ++i) {
    wire += "X-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  }
  wire += "\r\n";
  expect_rejected(mode::request, wire, "header block over 32768 bytes", o,
                  limit_kind::header_block);
}

// A head of exactly max_head bytes (its closing empty line included) passes, whole (each line taken
// at once) or cut anywhere (byte by byte rules); a line whose LF would cross the limit fails there,
// with the same error either way.
TEST(ParserLimitTest, HeaderBlockLimitIsExactForWholeLines) {
  parse_options o;
  o.limits.max_head = 200;
  const std::string start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n";
  const std::size_t fill = 200 - start.size() - std::string("X: \r\n\r\n").size();
  const std::string ok = start + "X: " + std::string(fill, 'v') + "\r\n\r\n";
  ASSERT_EQ(ok.size(), 200u);
  const auto msgs = parse_every_way(mode::response, ok, o);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].head.headers.at(1).second, std::string(fill, 'v'));
  // One byte over: the empty line's LF crosses. Three: the X line's own LF does.
  for (std::size_t over : {1u, 3u}) {
    const std::string bad = start + "X: " + std::string(fill + over, 'v') + "\r\n\r\n";
    expect_rejected(mode::response, bad, "header block over 200 bytes", o,
                    limit_kind::header_block);
  }
}

TEST(ParserLimitTest, TooManyHeaderFields) {
  parse_options o;
  o.limits.max_headers = 100;  // the server's
  std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 99; ++i) wire += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse_whole(mode::request, wire + "\r\n", o).at(0).head.headers.size(), 100u);
  wire += "X-last: v\r\n\r\n";
  expect_rejected(mode::request, wire, "more than 100 header fields", o, limit_kind::header_count);
}

TEST(ParserLimitTest, BodyOverItsLimit) {
  parse_options o;
  o.limits.max_body = 10;
  // A declared Content-Length over the limit fails at the head, before any body byte.
  parser p(mode::request, o.limits);
  const std::string declared = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n";
  try {
    p.feed(std::span<const char>(declared.data(), declared.size()));
    ADD_FAILURE() << "accepted";
  } catch (const limit_error& e) {
    EXPECT_EQ(e.limit(), limit_kind::body);
    EXPECT_EQ(e.max(), 10u);
  }
  EXPECT_EQ(parse_whole(mode::request,
                        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", o)
                .at(0)
                .body,
            "0123456789");
  // Chunked: refused at the size line of the chunk that would cross the limit, before its bytes.
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "6\r\n012345\r\n5\r\n",
                  "a chunk of 5 bytes over the body limit of 10 bytes", o, limit_kind::body);
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "ffffffffffffffff\r\n",
                  "over the body limit of 10 bytes", o, limit_kind::body);
  EXPECT_EQ(parse_whole(mode::request,
                        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n",
                        o)
                .at(0)
                .body,
            "0123456789");
  // Until close.
  parse_options r;
  r.limits.max_body = 10;
  expect_rejected(mode::response, "HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'x'),
                  "body over 10 bytes", r, limit_kind::body);
}

TEST(ParserLimitTest, ChunkExtensionOverItsLimit) {
  parse_options o;
  o.limits.max_field = 100;
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_rejected(mode::response, head + "5;n=" + std::string(200, 'e') + "\r\nhello\r\n0\r\n\r\n",
                  "chunk extension over 100 bytes", o, limit_kind::chunk_extension);
  // The limit is per chunk.
  std::string many = head;
  for (int i = 0; i < 5; ++i) many += "1;n=" + std::string(60, 'e') + "\r\nx\r\n";
  many += "0\r\n\r\n";
  EXPECT_EQ(parse_whole(mode::response, many, o).at(0).body, "xxxxx");
}

// Each chunk's size line is bounded, but a body of many chunks with long extensions or leading
// zeros and little data would cost its reader bandwidth and time that neither max_body nor a read
// deadline bounds (Node.js, CVE-2024-22019): the sizes and extensions of a message may exceed its
// data by 16 KiB, however the input is split; ordinary chunking stays far below that.
TEST(ParserLimitTest, ChunkFramingBeyondItsDataIsBounded) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string req_head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string extensions = req_head;
  for (int i = 0; i < 20; ++i) extensions += "1;n=" + std::string(1000, 'e') + "\r\nx\r\n";
  extensions += "0\r\n\r\n";
  expect_rejected(mode::request, extensions, "chunk sizes and extensions of", {},
                  limit_kind::chunk_extension);
  std::string zeros = head;
  for (int i = 0; i < 20; ++i) zeros += std::string(1000, '0') + "1\r\nx\r\n";
  zeros += "0\r\n\r\n";
  expect_rejected(mode::response, zeros, "over the body by more than 16384 bytes", {},
                  limit_kind::chunk_extension);
  // Taken: 20,000 one-byte chunks (a digit of framing a byte of data), and long extensions on
  // chunks whose data outweighs them, whole and a byte at a time.
  std::string small_chunks = head;
  for (int i = 0; i < 20000; ++i) small_chunks += "1\r\ny\r\n";
  small_chunks += "0\r\n\r\n";
  EXPECT_EQ(parse_whole(mode::response, small_chunks).at(0).body, std::string(20000, 'y'));
  std::string weighty = head;
  for (int i = 0; i < 20; ++i) {
    weighty += "800;n=" + std::string(1000, 'e') + "\r\n" + std::string(0x800, 'z') + "\r\n";
  }
  weighty += "0\r\n\r\n";
  EXPECT_EQ(parse_whole(mode::response, weighty).at(0).body.size(), 20u * 0x800);
  EXPECT_EQ(parse_bytewise(mode::response, weighty).at(0).body.size(), 20u * 0x800);
}

// A chunk's size may have leading zeros (RFC 9112 section 7.1: 1*HEXDIG), which llhttp takes
// without end; they are bounded by max_field as a header line is, in every chunk, before the
// extensions (which have their own count).
TEST(ParserLimitTest, ChunkSizeOverItsLimit) {
  parse_options o;
  o.limits.max_field = 100;
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string zeros(101, '0');
  expect_rejected(mode::response, head + zeros + "\r\n\r\n", "chunk size over 100 bytes", o,
                  limit_kind::chunk_extension);
  expect_rejected(mode::response, head + "2\r\nab\r\n" + zeros + "1\r\nx\r\n0\r\n\r\n",
                  "chunk size over 100 bytes", o, limit_kind::chunk_extension);
  expect_rejected(mode::request,
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + zeros +
                      "1;e=v\r\nx\r\n0\r\n\r\n",
                  "chunk size over 100 bytes", o, limit_kind::chunk_extension);
  // An error of llhttp's before the limit is reached comes first, however the input is split.
  expect_rejected(mode::response, head + std::string(50, '0') + "g" + zeros, "Invalid character",
                  o);
  // A CONNECT request's head ends its message (llhttp takes it as an upgrade) whatever its
  // Transfer-Encoding says: the bytes after it are no chunk size (here a request line too long).
  parse_options small;
  small.limits.max_field = small.limits.max_start_line = 64;
  expect_rejected(
      mode::request,
      "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\nGET /" +
          std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
      "request line over 64 bytes", small, limit_kind::request_line);
  // 100 bytes of size in each chunk (the limit), with extensions after them: taken.
  std::string at_limit = head;
  for (int i = 0; i < 3; ++i)
    at_limit += std::string(99, '0') + "1;n=" + std::string(60, 'e') + "\r\nx\r\n";
  at_limit += std::string(100, '0') + "\r\n\r\n";
  EXPECT_EQ(parse_whole(mode::response, at_limit, o).at(0).body, "xxx");
  for (const auto& m : parse_every_way(mode::response, at_limit, o)) EXPECT_EQ(m.body, "xxx");
}

TEST(ParserLimitTest, TrailersAreBoundedAndCheckedAsAHeadIs) {
  parse_options o;
  o.limits.max_field = 100;
  o.limits.max_headers = 3;
  o.limits.max_head = 300;
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n";
  expect_rejected(mode::response, head + "X-T: " + std::string(200, 't') + "\r\n\r\n",
                  "trailer line over 100 bytes", o, limit_kind::header_field);
  expect_rejected(mode::response, head + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
                  "more than 3 trailer fields", o, limit_kind::header_count);
  o.limits.max_headers = 100;
  std::string many = head;
  for (int i = 0; i < 10; ++i)
    many += "X-" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
  expect_rejected(mode::response, many + "\r\n", "trailer block over 300 bytes", o,
                  limit_kind::header_block);
  expect_rejected(mode::response, head + "X-T: a\nY: b\r\n\r\n", "bare LF", o);
  expect_rejected(mode::response, head + "X-T: a\r\n folded\r\n\r\n", "obs-fold", o);
  expect_rejected(mode::response, head + "X-T: a\x01\r\n\r\n", "control character", o);
  expect_rejected(mode::response, head + "X-T : a\r\n\r\n", "before the colon", o);
  // Good trailers end the message, and the next one parses.
  const auto msgs = parse_every_way(mode::response, head + "X-T: 1\r\n\r\n" + head + "\r\n", o);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].body, "ok");
}

// ---- llhttp's two copies --------------------------------------------------------------------------

// The outcome of parsing `wire` (whole, or split once at `cut` when it is not 0) as text: every
// message's head and body, or the error's message. Two parses that agree give the same text.
std::string outcome(mode m, std::string_view wire, std::size_t cut) {
  try {
    std::vector<std::size_t> cuts;
    if (cut != 0) cuts.push_back(cut);
    std::string out;
    for (const auto& msg : parse_cut(m, wire, cuts)) {
      const auto& h = msg.head;
      out += h.method + " " + h.target + " " + std::to_string(h.status) + " " + h.reason + " " +
             std::to_string(h.version_major) + "." + std::to_string(h.version_minor) +
             " ka=" + std::to_string(h.keep_alive) + " chunked=" + std::to_string(h.chunked) +
             " cl=" + (h.content_length ? std::to_string(*h.content_length) : "-") + "\n";
      for (const auto& [n, v] : h.headers) out += n + ": " + v + "\n";
      out += "body " + msg.body + "\n";
    }
    return out;
  } catch (const error& e) {
    return std::string("error ") + e.what();
  }
}

// Random heads with long field names and values (so llhttp's 16-byte SSE4.2 scans run), drawn from
// bytes that each rule treats differently: token characters, the separators, SP, HTAB, DEL, bytes
// >= 0x80, other control characters, a lone CR or LF. Each is parsed by both copies, whole and
// split at a random offset; both copies must give the same outcome (the same messages, or the same
// error). 4,000 requests and 4,000 responses from a fixed seed.
TEST(ParserCopiesTest, TheSse42AndBaselineCopiesOfLlhttpAgree) {
  if (!coreio::http::detail::use_llhttp_sse42(true)) {
    GTEST_SKIP() << "no SSE4.2 copy of llhttp in this build or on this CPU";
  }
  const std::string alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
      "!#$%&'*+-.^_`|~ \t:;,\"()/<=>?@[\\]{}\x7f\x80\xc3\xa9\xff\x01\x1f\x0b";
  std::mt19937 rng(20261202);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  // Clean text, and in one field of four one byte from the whole alphabet (or, in one of twenty,
  // a CR or an LF) at a random place: about half the heads carry a byte some rule looks at.
  auto text = [&](std::size_t len, bool name) {
    std::string t;
    for (std::size_t i = 0; i < len; ++i) {
      t += name ? "abcdefghijklmnopqrstuvwxyz-0123456789"[pick(37)]
                : "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ;=/,.0123456789"[pick(52)];
    }
    const std::size_t r = pick(20);
    if (r < 5) t[pick(len)] = alphabet[pick(alphabet.size())];
    if (r == 5) t[pick(len)] = pick(2) == 0 ? '\r' : '\n';
    return t;
  };
  int checked = 0;
  for (int i = 0; i < 8000; ++i) {
    const bool request = i % 2 == 0;
    std::string wire = request ? "GET /" + text(1 + pick(40), true) + " HTTP/1.1\r\nHost: h\r\n"
                               : "HTTP/1.1 200 OK\r\n";
    const std::size_t fields = 1 + pick(4);
    for (std::size_t f = 0; f < fields; ++f) {
      wire += "X-" + text(8 + pick(40), true) + ": " + text(8 + pick(80), false) + "\r\n";
    }
    wire += request ? "\r\n" : "Content-Length: 2\r\n\r\nok";
    const mode m = request ? mode::request : mode::response;
    const std::size_t cut = 1 + pick(wire.size() - 1);
    ASSERT_TRUE(coreio::http::detail::use_llhttp_sse42(true));
    const std::string fast_whole = outcome(m, wire, 0);
    const std::string fast_cut = outcome(m, wire, cut);
    coreio::http::detail::use_llhttp_sse42(false);
    const std::string base_whole = outcome(m, wire, 0);
    const std::string base_cut = outcome(m, wire, cut);
    ASSERT_EQ(fast_whole, base_whole) << "input: " << ::testing::PrintToString(wire);
    ASSERT_EQ(fast_cut, base_cut) << "split at " << cut
                                  << ", input: " << ::testing::PrintToString(wire);
    checked += fast_whole.rfind("error ", 0) != 0 ? 1 : 0;
  }
  // Both kinds of outcome were compared: many heads parse, many are rejected.
  EXPECT_GT(checked, 800);
  EXPECT_LT(checked, 7200);
  // As the other tests of this run expect it (COREIO_TEST_LLHTTP).
  const char* copy = std::getenv("COREIO_TEST_LLHTTP");
  coreio::http::detail::use_llhttp_sse42(copy == nullptr || std::strcmp(copy, "baseline") != 0);
}

}  // namespace
