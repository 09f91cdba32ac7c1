// src/http/content_encoder.cpp — gzip through zlib's deflate (windowBits 15 + 16: a gzip wrapper),
// and the Accept-Encoding parser.
#include "content_encoder.hpp"

#include <algorithm>
#include <stdexcept>

#include "text.hpp"

namespace coreio::http::detail {

gzip_encoder::gzip_encoder(int level) {
  if (deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("http: gzip: deflateInit2 failed");
  }
}

gzip_encoder::~gzip_encoder() { deflateEnd(&z_); }

void gzip_encoder::run(std::span<const std::byte> in, std::string& out, int mode) {
  // Safety: zlib reads next_in only; the const_cast is its C signature.
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  while (true) {
    const std::size_t old = out.size();
    const std::size_t room = deflateBound(&z_, z_.avail_in) + 64;
    out.resize(old + room);
    z_.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z_.avail_out = static_cast<uInt>(room);
    const int rc = deflate(&z_, mode);
    out.resize(old + (room - z_.avail_out));
    if (rc == Z_STREAM_ERROR) throw std::runtime_error("http: gzip: deflate failed");
    if (mode == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) break;
  }
}

void gzip_encoder::feed(std::span<const std::byte> in, std::string& out, bool flush) {
  run(in, out, flush ? Z_SYNC_FLUSH : Z_NO_FLUSH);
}

void gzip_encoder::finish(std::string& out) { run({}, out, Z_FINISH); }

std::string gzip_compress(std::string_view body) {
  gzip_encoder enc;
  std::string out;
  out.reserve(body.size() / 2 + 64);
  enc.feed(std::as_bytes(std::span<const char>(body.data(), body.size())), out, false);
  enc.finish(out);
  return out;
}

namespace {
// q of one Accept-Encoding item's parameters ("q=0.5"); 1 when absent, 0 when malformed.
double quality(std::string_view params) noexcept {
  while (!params.empty()) {
    const std::size_t semi = std::min(params.find(';'), params.size());
    const std::string_view p = trim_ows(params.substr(0, semi));
    params.remove_prefix(std::min(semi + 1, params.size()));
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
    const std::string_view v = p.substr(2);
    // "0", "0.5", "1", "1.000": the digits after the point as thousandths.
    if (v.empty() || (v[0] != '0' && v[0] != '1')) return 0;
    if (v[0] == '1') return 1;
    double q = 0;
    double scale = 0.1;
    for (std::size_t i = 2; i < v.size() && i < 5; ++i) {
      if (v[i] < '0' || v[i] > '9') return 0;
      q += (v[i] - '0') * scale;
      scale /= 10;
    }
    return q;
  }
  return 1;
}
}  // namespace

bool accepts_gzip(std::string_view value) noexcept {
  double gzip_q = -1;
  double star_q = -1;
  while (!value.empty()) {
    const std::size_t comma = std::min(value.find(','), value.size());
    std::string_view item = value.substr(0, comma);
    value.remove_prefix(std::min(comma + 1, value.size()));
    const std::size_t semi = std::min(item.find(';'), item.size());
    const std::string_view coding = trim_ows(item.substr(0, semi));
    const double q = quality(item.substr(std::min(semi + 1, item.size())));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q, q);
    } else if (coding == "*") {
      star_q = q;
    }
  }
  if (gzip_q >= 0) return gzip_q > 0;
  return star_q > 0;
}

}  // namespace coreio::http::detail
