// src/http/content_decoder.hpp — Content-Encoding decoders: gzip and deflate (zlib), br (libbrotli),
// zstd (libzstd), streaming, with caps.
//
// Protocol: make(coding, limits) for one coding token (case-insensitive; "identity" gives nullptr);
// feed() each body chunk, appending decoded bytes to `out`: at most about 256 KiB per call, the
// input not decoded yet held, and while holding() says so feed({}) goes on with it; finish() at
// the end of the body (it decodes what is held, then checks the stream's end).
// "deflate" accepts both zlib-wrapped and raw deflate (what servers send in practice). A list of
// codings ("gzip, br") is decoded by a chain, last coding first (RFC 9110 section 8.4).
//
// Errors: corrupt data, a truncated stream at finish(), or data after the end of the stream:
// http::error naming the coding; decoded size over max_decoded: http::limit_error
// (limit_kind::decoded_body); decoded/encoded over max_ratio (checked once more than 1 MiB was
// decoded): http::limit_error (limit_kind::decompression_ratio) — a compression bomb is an error,
// not an out-of-memory (aiohttp GHSA-6mq8-rvhq-8wgg). An unknown
// coding: http::error from make(). A list of more than 5 codings, and more than 16 gzip members in
// a row that decode to nothing: http::error (each would cost memory or time with no content).
// Thread safety: one decoder per body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace coreio::http::detail {

struct decode_limits {
  std::uint64_t max_decoded = 64ull << 20;  ///< bytes of decoded body
  std::uint64_t max_ratio = 1000;           ///< decoded / encoded, past the first MiB; 0: none
};

class content_decoder {
 public:
  /// nullptr for "identity"; throws http::error for an unknown coding.
  static std::unique_ptr<content_decoder> make(std::string_view coding, decode_limits limits = {});
  /// True if every coding of a Content-Encoding value (a list) is one make() knows: identity,
  /// gzip, x-gzip, deflate, br, zstd. The client leaves a body with any other coding as it came,
  /// as aiohttp does (a coding in the middle of a list cannot be undone alone).
  static bool decodable(std::string_view codings);
  /// For a Content-Encoding header value (a list): a chain; nullptr when nothing to decode.
  static std::unique_ptr<content_decoder> make_chain(std::string_view codings,
                                                     decode_limits limits = {});
  virtual ~content_decoder() = default;
  virtual void feed(std::span<const std::byte> in, std::string& out) = 0;
  virtual void finish(std::string& out) = 0;
  /// Input is held, or output is pending: feed({}) gives more without new input.
  virtual bool holding() const noexcept = 0;
};

}  // namespace coreio::http::detail
