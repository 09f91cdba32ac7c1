// fuzz/fuzz_driver.hpp — what the HTTP fuzz targets share: the input's control bytes, random cut
// points, and a driver that parses a byte stream the way a connection does.
//
// Input layout: byte 0 = flags (the target says what each bit means), byte 1 = seed of the cuts,
// the rest = the bytes on the wire. parse() feeds them in pieces ending at the cuts, drops what the
// parser consumed, and records every complete message (its head and its body) and whether the
// parse ended in an http::error. Invariants of parser.hpp are checked with check(), which traps:
// consumed never exceeds the input, need_more consumes everything, a body span is non-empty and
// lies inside the input.
#pragma once

#include <coreio/http/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.hpp"

namespace coreio_fuzz {

using coreio::http::detail::message_head;
using coreio::http::detail::parse_event;
using coreio::http::detail::parse_limits;
using coreio::http::detail::parser;

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct message {
  message_head head;
  std::string body;
};

struct outcome {
  std::vector<message> messages;
  bool failed = false;  // ended in an http::error
  bool limit = false;   // ... which was a limit_error
  coreio::http::limit_kind kind{};
};

/// Cut points for `n` bytes from `seed`: pieces of 1..64 bytes (seed 0: no cut, one piece).
inline std::vector<std::size_t> cuts_from(std::uint8_t seed, std::size_t n) {
  std::vector<std::size_t> cuts;
  if (seed == 0) return cuts;
  std::uint32_t x = seed * 2654435761u + 12345u;
  std::size_t at = 0;
  for (;;) {
    x = x * 1664525u + 1013904223u;
    at += 1 + (x >> 24) % (seed % 4 == 0 ? 2 : 64);
    if (at >= n) break;
    cuts.push_back(at);
  }
  return cuts;
}

/// `on_message` runs for each complete message (a decoder in the response target).
template <class OnMessage>
outcome parse(parser::mode m, const parse_limits& limits, const std::string& method,
              std::string_view wire, const std::vector<std::size_t>& cuts, OnMessage on_message) {
  outcome out;
  parser p(m, limits);
  if (!method.empty()) p.set_request_method(method);
  message cur;
  std::string buf;
  std::size_t next_cut = 0;
  std::size_t pos = 0;
  try {
    for (int rounds = 0;; ++rounds) {
      check(rounds < 10'000'000);
      const auto r = p.feed(std::span<const char>(buf.data(), buf.size()));
      check(r.consumed <= buf.size());
      switch (r.event) {
        case parse_event::head:
          cur.head = p.head();
          break;
        case parse_event::body:
          check(!r.body.empty());
          check(r.body.data() >= buf.data() &&
                r.body.data() + r.body.size() <= buf.data() + buf.size());
          cur.body.append(r.body.data(), r.body.size());
          break;
        case parse_event::end:
          on_message(cur);
          out.messages.push_back(std::move(cur));
          cur = message{};
          p.reset();
          if (!method.empty()) p.set_request_method(method);
          break;
        case parse_event::need_more:
          check(r.consumed == buf.size());
          break;
      }
      buf.erase(0, r.consumed);
      if (r.event != parse_event::need_more) continue;
      if (pos == wire.size()) {
        if (p.finish().event == parse_event::end) {
          on_message(cur);
          out.messages.push_back(std::move(cur));
        }
        return out;
      }
      const std::size_t end = next_cut < cuts.size() ? cuts[next_cut++] : wire.size();
      buf.append(wire.substr(pos, end - pos));
      pos = end;
    }
  } catch (const coreio::http::limit_error& e) {
    out.failed = true;
    out.limit = true;
    out.kind = e.limit();
  } catch (const coreio::http::error&) {
    out.failed = true;
  }
  return out;
}

/// Traps unless two parses of the same bytes agree (messages, heads, bodies, failure).
inline void check_same(const outcome& a, const outcome& b) {
  check(a.failed == b.failed);
  check(a.limit == b.limit);
  if (a.limit) check(a.kind == b.kind);
  check(a.messages.size() == b.messages.size());
  for (std::size_t i = 0; i < a.messages.size(); ++i) {
    const auto& x = a.messages[i].head;
    const auto& y = b.messages[i].head;
    check(x.method == y.method && x.target == y.target && x.status == y.status &&
          x.reason == y.reason && x.version_major == y.version_major &&
          x.version_minor == y.version_minor && x.keep_alive == y.keep_alive &&
          x.chunked == y.chunked && x.content_length == y.content_length &&
          x.upgrade == y.upgrade && x.expect_continue == y.expect_continue);
    check(x.headers.size() == y.headers.size());
    for (std::size_t j = 0; j < x.headers.size(); ++j) {
      check(x.headers[j].first == y.headers[j].first && x.headers[j].second == y.headers[j].second);
    }
    check(a.messages[i].body == b.messages[i].body);
  }
}

/// Small limits when the flag asks for them, so that the fuzzer reaches every limit quickly.
inline parse_limits limits_for(bool small) {
  parse_limits l;
  if (small) {
    l.max_start_line = 64;
    l.max_field = 64;
    l.max_head = 256;
    l.max_headers = 8;
    l.max_body = 512;
  }
  return l;
}

}  // namespace coreio_fuzz
