// src/http/content_decoder.cpp — skeleton; the zlib/brotli/zstd decoders follow.
#include "http/content_decoder.hpp"

#include <coreio/http/errors.hpp>

namespace coreio::http::detail {

std::unique_ptr<content_decoder> content_decoder::make(std::string_view, decode_limits) {
  throw error("http: content decoding not implemented");
}
std::unique_ptr<content_decoder> content_decoder::make_chain(std::string_view, decode_limits) {
  throw error("http: content decoding not implemented");
}

}  // namespace coreio::http::detail
