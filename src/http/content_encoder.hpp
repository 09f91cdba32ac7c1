// src/http/content_encoder.hpp — gzip encoding of response bodies (zlib), whole or streamed, and
// the Accept-Encoding check that decides whether a client gets it.
//
// Protocol: one gzip_encoder per body. feed() appends compressed bytes to `out`; with flush = true
// it ends with a sync flush (Z_SYNC_FLUSH), so everything fed so far can be decoded by the peer
// now (a stream's write() must reach the client, not sit in zlib's window); finish() appends the
// rest and the gzip trailer. After finish() the encoder is spent.
//
// Errors: zlib failures (out of memory) throw std::runtime_error naming the call.
// Thread safety: one encoder per body, one task at a time.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <zlib.h>

namespace coreio::http::detail {

class gzip_encoder {
 public:
  explicit gzip_encoder(int level = Z_DEFAULT_COMPRESSION);
  ~gzip_encoder();
  gzip_encoder(const gzip_encoder&) = delete;
  gzip_encoder& operator=(const gzip_encoder&) = delete;
  void feed(std::span<const std::byte> in, std::string& out, bool flush);
  void finish(std::string& out);

 private:
  void run(std::span<const std::byte> in, std::string& out, int mode);
  z_stream z_{};
};

/// The whole body gzip-compressed.
std::string gzip_compress(std::string_view body);

/// True when an Accept-Encoding value allows gzip (RFC 9110 section 12.5.3): "gzip" or "x-gzip"
/// with a non-zero q, or "*" with a non-zero q and gzip not refused by name.
bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace coreio::http::detail
