// fuzz/http_response_fuzz.cpp — libFuzzer target: the response parser (what a client reads) and
// the content decoders.
//
// flags (byte 0):
//   bit 0     small parse limits
//   bit 1     the request was HEAD (no response has a body)
//   bit 7     decoder mode: the rest of the input (after byte 1) is a body encoded with
//             codings[(flags >> 2) % 6], fed to the decoder in pieces cut at points from byte 1;
//             a decoded size over 1 MiB (or ratio over 100) must be a limit_error
// Otherwise the rest is parsed as responses, whole and cut at points from byte 1 (the two must
// agree), and each complete response's body goes through the decoder its Content-Encoding names.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fuzz_driver.hpp"
#include "http/content_decoder.hpp"

namespace {

using coreio::http::detail::content_decoder;
using coreio::http::detail::decode_limits;

constexpr const char* codings[] = {"gzip", "deflate", "br", "zstd", "gzip, br", "deflate, zstd"};

decode_limits small_decode_limits() {
  decode_limits l;
  l.max_decoded = 1u << 20;
  l.max_ratio = 100;
  return l;
}

// Decodes `body` in pieces; checks that the output stays within the cap (plus one step).
void decode(std::string_view coding, std::string_view body, const std::vector<std::size_t>& cuts) {
  std::unique_ptr<content_decoder> d;
  try {
    d = content_decoder::make_chain(coding, small_decode_limits());
  } catch (const coreio::http::error&) {
    return;  // an unknown coding
  }
  if (!d) return;
  std::string out;
  std::size_t pos = 0;
  try {
    for (std::size_t c : cuts) {
      d->feed(std::as_bytes(std::span<const char>(body.data() + pos, c - pos)), out);
      coreio_fuzz::check(out.size() <= (1u << 20) + (64u << 10));
      // Every other cut, what the decoder holds is taken a piece at a time, as a reader does.
      while ((c & 1) != 0 && d->holding()) {
        const std::size_t before = out.size();
        d->feed({}, out);
        coreio_fuzz::check(out.size() - before <= (320u << 10));
        coreio_fuzz::check(out.size() <= (1u << 20) + (64u << 10));
      }
      pos = c;
    }
    d->feed(std::as_bytes(std::span<const char>(body.data() + pos, body.size() - pos)), out);
    d->finish(out);
    coreio_fuzz::check(out.size() <= (1u << 20));
  } catch (const coreio::http::error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreio_fuzz;
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t seed = data[1];
  const std::string_view wire(reinterpret_cast<const char*>(data + 2), size - 2);
  if (flags & 0x80) {
    decode(codings[(flags >> 2) % 6], wire, cuts_from(seed, wire.size()));
    return 0;
  }
  const parse_limits limits = limits_for(flags & 1);
  const std::string method = (flags & 2) ? "HEAD" : "GET";
  auto decode_body = [&](const message& m) {
    if (auto ce = m.head.find("content-encoding")) {
      decode(*ce, m.body, cuts_from(seed, m.body.size()));
    }
  };
  auto ignore = [](const message&) {};
  const outcome whole = parse(parser::mode::response, limits, method, wire, {}, decode_body);
  const outcome split =
      parse(parser::mode::response, limits, method, wire, cuts_from(seed, wire.size()), ignore);
  check_same(whole, split);
  return 0;
}
