// src/http/content_decoder.cpp — gzip/deflate (zlib), br (libbrotli), zstd (libzstd), and chains.
//
// Every decoder writes into `out` in steps of at most step_size bytes (out grows by one step, the
// library fills it, out shrinks to what was written) and checks the caps after each step, so a
// compression bomb stops within one step past the cap instead of after inflating all of it. The
// ratio counts the encoded bytes the library has actually consumed, not those fed: a bomb handed
// over in one piece is caught after about 1 MiB of output, not after max_decoded.
//
// One feed() writes at most about piece_size bytes (a step past it at most): the input it did not
// get to is held (copied) and holding() says so; feed({}) goes on with it. So a reader's pieces stay
// bounded whatever the compression ratio (urllib3 and aiohttp bound theirs too). finish() decodes
// whatever is held, without the bound, then checks the stream's end.
//
//   gzip     inflateInit2(15 + 32): gzip or zlib header, detected; concatenated gzip members
//            (RFC 1952 section 2.2) are decoded one after the other.
//   deflate  zlib-wrapped (RFC 1950) when the first two bytes are a valid zlib header, else raw
//            deflate (RFC 1951), which some servers send under this name.
//   br       BrotliDecoderDecompressStream.
//   zstd     ZSTD_decompressStream, window at most 8 MiB (RFC 9659: what HTTP senders may use,
//            and a bound on the decoder's memory); concatenated frames are decoded in turn.
//
// An empty body (finish() with no byte fed) decodes to nothing: a 204, or a HEAD answer, carries
// the Content-Encoding of a body it has not got.
#include "http/content_decoder.hpp"

#include <coreio/http/errors.hpp>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <vector>
#include "http/text.hpp"

namespace coreio::http::detail {

namespace {

constexpr std::size_t step_size = 64 * 1024;
constexpr std::size_t piece_size = 4 * step_size;
// The most codings a Content-Encoding list may ask to undo: each is a decoder's memory, made before
// any body byte arrives (a 64 KiB head can list thousands; urllib3 allows 5 too).
constexpr std::size_t max_codings = 5;
// gzip members in a row that decode to nothing: past this many, a flood (no byte of content, and
// no cap reached however long it goes on; aiohttp refuses it too).
constexpr std::size_t max_empty_members = 16;
constexpr std::uint64_t ratio_floor = 1u << 20;  // the ratio is checked past this much output

// What every decoder shares: its name for messages, the caps and the byte counts.
class capped_decoder : public content_decoder {
 protected:
  capped_decoder(std::string name, decode_limits limits)
      : name_(std::move(name)), limits_(limits) {}

  // Grows out by one step; returns where the library may write.
  static std::byte* grow(std::string& out, std::size_t& old) {
    old = out.size();
    out.resize(old + step_size);
    return reinterpret_cast<std::byte*>(out.data() + old);
  }
  // Shrinks out to what was written in the step and checks the caps.
  void written(std::string& out, std::size_t old, std::size_t n) {
    out.resize(old + n);
    decoded_ += n;
    if (decoded_ > limits_.max_decoded) {
      throw limit_error(limit_kind::decoded_body, static_cast<std::size_t>(limits_.max_decoded),
                        "http: " + name_ + " body decodes to over " +
                            std::to_string(limits_.max_decoded) + " bytes");
    }
    if (limits_.max_ratio != 0 && decoded_ > ratio_floor &&
        decoded_ / (consumed_ == 0 ? 1 : consumed_) > limits_.max_ratio) {
      throw limit_error(
          limit_kind::decompression_ratio, static_cast<std::size_t>(limits_.max_ratio),
          "http: " + name_ + " body expands over " + std::to_string(limits_.max_ratio) +
              " times its size (max_decompression_ratio; a compression bomb?)");
    }
  }
  [[noreturn]] void corrupt(const std::string& detail) const {
    throw error("http: corrupt " + name_ + " body: " + detail);
  }

 public:
  bool holding() const noexcept override { return !held_.empty() || more_; }

 protected:
  // What a call decodes: the held input, then `in` (appended to it), or `in` alone.
  std::span<const std::byte> take_input(std::span<const std::byte> in) {
    if (held_.empty()) return in;
    held_.append(reinterpret_cast<const char*>(in.data()), in.size());
    return std::as_bytes(std::span<const char>(held_.data(), held_.size()));
  }
  // After a call on `src` (take_input's): its last `left` bytes are held for the next call.
  void keep(std::span<const std::byte> src, std::size_t left) {
    if (!held_.empty() && src.data() == reinterpret_cast<const std::byte*>(held_.data())) {
      held_.erase(0, src.size() - left);
    } else {
      held_.assign(reinterpret_cast<const char*>(src.data() + src.size() - left), left);
    }
  }
  // Whether a call that began with out at `start` has written its piece.
  bool piece_done(const std::string& out, std::size_t start) const noexcept {
    return !uncapped_ && out.size() - start >= piece_size;
  }
  // finish(): whatever is held is decoded now, without the piece bound.
  template <class Run>
  void drain(std::string& out, Run&& run) {
    uncapped_ = true;
    if (held_.empty() && !more_) return;
    const std::string rest = std::move(held_);
    held_.clear();
    run(std::as_bytes(std::span<const char>(rest.data(), rest.size())), out, out.size());
  }

  [[noreturn]] void truncated() const {
    throw error("http: " + name_ + " body ends before the end of its compressed stream");
  }
  [[noreturn]] void trailing() const {
    throw error("http: data after the end of the " + name_ + " stream");
  }

  std::string name_;
  decode_limits limits_;
  std::uint64_t consumed_ = 0;  // encoded bytes the library has consumed
  std::uint64_t decoded_ = 0;   // bytes written to out
  bool fed_ = false;            // some encoded byte arrived
  std::string held_;            // input a call stopped before (piece_size reached)
  bool more_ = false;           // that call's last step filled its buffer: output may be pending
  bool uncapped_ = false;       // finish() has begun: no piece bound
};

// ---- zlib: gzip and deflate ------------------------------------------------------------------------

class zlib_decoder final : public capped_decoder {
 public:
  enum class kind { gzip, deflate };
  zlib_decoder(kind k, decode_limits limits)
      : capped_decoder(k == kind::gzip ? "gzip" : "deflate", limits), kind_(k) {
    if (k == kind::gzip) init(15 + 32);
  }
  ~zlib_decoder() override {
    if (initialised_) inflateEnd(&z_);
  }

  void feed(std::span<const std::byte> in, std::string& out) override {
    if (in.empty() && !holding()) return;
    if (!in.empty()) fed_ = true;
    if (!initialised_) {
      // deflate: decide zlib-wrapped or raw from the first two bytes.
      sniff_.insert(sniff_.end(), in.begin(), in.end());
      if (sniff_.size() < 2) return;
      const auto b0 = static_cast<unsigned>(sniff_[0]);
      const auto b1 = static_cast<unsigned>(sniff_[1]);
      const bool zlib_header = (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 == 0;
      init(zlib_header ? 15 : -15);
      const std::vector<std::byte> first = std::move(sniff_);
      sniff_.clear();
      keep(first, run(first, out, out.size()));
      return;
    }
    const std::span<const std::byte> src = take_input(in);
    keep(src, run(src, out, out.size()));
  }

  void finish(std::string& out) override {
    if (!fed_) return;
    if (!initialised_) truncated();  // one byte of deflate
    drain(out, [this](std::span<const std::byte> src, std::string& o, std::size_t start) {
      (void)run(src, o, start);
    });
    (void)run({}, out, out.size());
    if (!ended_) truncated();
  }

 private:
  void init(int window_bits) {
    z_ = z_stream{};
    if (inflateInit2(&z_, window_bits) != Z_OK) {
      throw error("http: " + name_ + ": zlib inflateInit2 failed");
    }
    initialised_ = true;
  }

  // Decodes `in` into out (which held `start` bytes before this call); returns how many bytes of
  // `in` are left when the piece was written first.
  std::size_t run(std::span<const std::byte> in, std::string& out, std::size_t start) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    more_ = false;
    for (;;) {
      if (ended_) {
        if (z_.avail_in == 0) return 0;
        if (piece_done(out, start)) return z_.avail_in;  // the next member, next call
        // Another gzip member may follow (inflate checks its header); anything else is
        // trailing garbage.
        if (kind_ != kind::gzip || z_.next_in[0] != 0x1f) trailing();
        inflateReset(&z_);
        ended_ = false;
        member_start_ = decoded_;
      }
      std::size_t old = 0;
      z_.next_out = reinterpret_cast<Bytef*>(grow(out, old));
      z_.avail_out = static_cast<uInt>(step_size);
      const uInt before_in = z_.avail_in;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      consumed_ += before_in - z_.avail_in;
      const std::size_t n = step_size - z_.avail_out;
      if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR || rc == Z_MEM_ERROR) {
        out.resize(old);
        corrupt(z_.msg != nullptr ? z_.msg : "zlib error " + std::to_string(rc));
      }
      written(out, old, n);
      if (rc == Z_STREAM_END) {
        ended_ = true;
        empty_members_ = decoded_ == member_start_ ? empty_members_ + 1 : 0;
        if (empty_members_ > max_empty_members) {
          corrupt("more than " + std::to_string(max_empty_members) +
                  " empty gzip members in a row");
        }
        continue;
      }
      // Z_OK or Z_BUF_ERROR: go on while there is input, or while the output step was filled.
      if (z_.avail_in == 0 && n < step_size) return 0;
      if (rc == Z_BUF_ERROR && n == 0) return 0;
      if (piece_done(out, start)) {
        more_ = n == step_size;
        return z_.avail_in;
      }
    }
  }

  kind kind_;
  z_stream z_{};
  bool initialised_ = false;
  bool ended_ = false;
  std::uint64_t member_start_ = 0;  // decoded_ when the current gzip member began
  std::size_t empty_members_ = 0;   // members in a row that decoded to nothing
  std::vector<std::byte> sniff_;    // deflate: bytes before the header was decided
};

// ---- brotli ------------------------------------------------------------------------------------

class brotli_decoder final : public capped_decoder {
 public:
  explicit brotli_decoder(decode_limits limits) : capped_decoder("br", limits) {
    state_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    if (state_ == nullptr) throw error("http: br: BrotliDecoderCreateInstance failed");
  }
  ~brotli_decoder() override { BrotliDecoderDestroyInstance(state_); }

  void feed(std::span<const std::byte> in, std::string& out) override {
    if (in.empty() && !holding()) return;
    if (!in.empty()) fed_ = true;
    if (ended_) trailing();
    const std::span<const std::byte> src = take_input(in);
    keep(src, run(src, out, out.size()));
  }
  void finish(std::string& out) override {
    if (!fed_) return;
    drain(out, [this](std::span<const std::byte> src, std::string& o, std::size_t start) {
      (void)run(src, o, start);
    });
    (void)run({}, out, out.size());
    if (!ended_) truncated();
  }

 private:
  // As zlib_decoder::run.
  std::size_t run(std::span<const std::byte> in, std::string& out, std::size_t start) {
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
    std::size_t avail_in = in.size();
    more_ = false;
    if (ended_) return 0;
    for (;;) {
      std::size_t old = 0;
      auto* next_out = reinterpret_cast<std::uint8_t*>(grow(out, old));
      std::size_t avail_out = step_size;
      const std::size_t before_in = avail_in;
      const auto rc = BrotliDecoderDecompressStream(state_, &avail_in, &next_in, &avail_out,
                                                    &next_out, nullptr);
      consumed_ += before_in - avail_in;
      const std::size_t n = step_size - avail_out;
      if (rc == BROTLI_DECODER_RESULT_ERROR) {
        out.resize(old);
        corrupt(BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state_)));
      }
      written(out, old, n);
      if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
        ended_ = true;
        if (avail_in > 0) trailing();
        return 0;
      }
      if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return 0;
      // NEEDS_MORE_OUTPUT: another step, unless the piece is written.
      if (piece_done(out, start)) {
        more_ = true;
        return avail_in;
      }
    }
  }

  BrotliDecoderState* state_ = nullptr;
  bool ended_ = false;
};

// ---- zstd --------------------------------------------------------------------------------------

class zstd_decoder final : public capped_decoder {
 public:
  static constexpr int window_log_max = 23;  // 8 MiB

  explicit zstd_decoder(decode_limits limits) : capped_decoder("zstd", limits) {
    ctx_ = ZSTD_createDCtx();
    if (ctx_ == nullptr) throw error("http: zstd: ZSTD_createDCtx failed");
    ZSTD_DCtx_setParameter(ctx_, ZSTD_d_windowLogMax, window_log_max);
  }
  ~zstd_decoder() override { ZSTD_freeDCtx(ctx_); }

  void feed(std::span<const std::byte> in, std::string& out) override {
    if (in.empty() && !holding()) return;
    if (!in.empty()) fed_ = true;
    const std::span<const std::byte> src = take_input(in);
    keep(src, run(src, out, out.size()));
  }
  void finish(std::string& out) override {
    if (!fed_) return;
    drain(out, [this](std::span<const std::byte> src, std::string& o, std::size_t start) {
      (void)run(src, o, start);
    });
    if (frame_done_) return;
    (void)run({}, out, out.size());
    if (!frame_done_) truncated();
  }

 private:
  // As zlib_decoder::run.
  std::size_t run(std::span<const std::byte> in, std::string& out, std::size_t start) {
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    more_ = false;
    for (;;) {
      std::size_t old = 0;
      ZSTD_outBuffer ob{grow(out, old), step_size, 0};
      const std::size_t before_in = ib.pos;
      const std::size_t rc = ZSTD_decompressStream(ctx_, &ob, &ib);
      consumed_ += ib.pos - before_in;
      if (ZSTD_isError(rc)) {
        out.resize(old);
        corrupt(ZSTD_getErrorName(rc));
      }
      written(out, old, ob.pos);
      // rc == 0: a frame ended and is flushed; another frame may follow in the input. (A call
      // that moved nothing returns a hint for the next frame, which says nothing of this one.)
      if (rc == 0 || ib.pos > before_in || ob.pos > 0) frame_done_ = rc == 0;
      if (ib.pos == ib.size && ob.pos < ob.size) return 0;
      if (piece_done(out, start)) {
        more_ = ob.pos == ob.size;
        return ib.size - ib.pos;
      }
    }
  }

  ZSTD_DCtx* ctx_ = nullptr;
  bool frame_done_ = false;
};

// ---- chain -------------------------------------------------------------------------------------

// Several codings: stages_[0] undoes the last coding applied, its output feeds stages_[1], ...
class chain_decoder final : public capped_decoder {
 public:
  chain_decoder(std::vector<std::unique_ptr<content_decoder>> stages, decode_limits limits)
      : capped_decoder("chained", limits), stages_(std::move(stages)) {}

  // New input goes to the first stage. Without any, the last stage that holds input goes on: a
  // stage is given more only once the stages after it have used what they hold, so no stage holds
  // more than a piece from the one before it.
  void feed(std::span<const std::byte> in, std::string& out) override {
    consumed_ += in.size();
    if (!in.empty()) {
      pass(0, in, out, false);
      return;
    }
    for (std::size_t i = stages_.size(); i-- > 0;) {
      if (stages_[i]->holding()) {
        pass(i, {}, out, false);
        return;
      }
    }
  }
  void finish(std::string& out) override { pass(0, {}, out, true); }
  bool holding() const noexcept override {
    return std::any_of(stages_.begin(), stages_.end(), [](const auto& s) { return s->holding(); });
  }

 private:
  // Feeds stage i (then finishes it if `last`), and what it produced onward.
  void pass(std::size_t i, std::span<const std::byte> in, std::string& out, bool last) {
    if (i == stages_.size()) {
      const std::size_t old = out.size();
      out.append(reinterpret_cast<const char*>(in.data()), in.size());
      // Checks the whole chain's expansion against the encoded input.
      written(out, old, in.size());
      return;
    }
    std::string mid;
    stages_[i]->feed(in, mid);
    if (last) stages_[i]->finish(mid);
    pass(i + 1, std::as_bytes(std::span<const char>(mid.data(), mid.size())), out, last);
  }

  std::vector<std::unique_ptr<content_decoder>> stages_;
};

}  // namespace

std::unique_ptr<content_decoder> content_decoder::make(std::string_view coding,
                                                       decode_limits limits) {
  const std::string_view c = trim_ows(coding);
  if (iequals(c, "identity")) return nullptr;
  if (iequals(c, "gzip") || iequals(c, "x-gzip")) {
    return std::make_unique<zlib_decoder>(zlib_decoder::kind::gzip, limits);
  }
  if (iequals(c, "deflate")) {
    return std::make_unique<zlib_decoder>(zlib_decoder::kind::deflate, limits);
  }
  if (iequals(c, "br")) return std::make_unique<brotli_decoder>(limits);
  if (iequals(c, "zstd")) return std::make_unique<zstd_decoder>(limits);
  throw error("http: unknown Content-Encoding '" + std::string(c.substr(0, 64)) + "'");
}

bool content_decoder::decodable(std::string_view codings) {
  return !any_list_item(codings, [](std::string_view c) {
    return !c.empty() && !iequals(c, "identity") && !iequals(c, "gzip") && !iequals(c, "x-gzip") &&
           !iequals(c, "deflate") && !iequals(c, "br") && !iequals(c, "zstd");
  });
}

std::unique_ptr<content_decoder> content_decoder::make_chain(std::string_view codings,
                                                             decode_limits limits) {
  std::size_t count = 0;
  any_list_item(codings, [&count](std::string_view c) {
    count += !c.empty() && !iequals(c, "identity") ? 1 : 0;
    return false;
  });
  if (count > max_codings) {
    throw error("http: Content-Encoding lists " + std::to_string(count) + " codings (at most " +
                std::to_string(max_codings) + " are decoded)");
  }
  std::vector<std::unique_ptr<content_decoder>> stages;
  any_list_item(codings, [&](std::string_view item) {
    if (!item.empty()) {
      if (auto d = make(item, limits)) stages.push_back(std::move(d));
    }
    return false;
  });
  if (stages.empty()) return nullptr;
  if (stages.size() == 1) return std::move(stages.front());
  // Listed in the order applied: undo the last first.
  std::vector<std::unique_ptr<content_decoder>> reversed;
  for (auto it = stages.rbegin(); it != stages.rend(); ++it) reversed.push_back(std::move(*it));
  return std::make_unique<chain_decoder>(std::move(reversed), limits);
}

}  // namespace coreio::http::detail
