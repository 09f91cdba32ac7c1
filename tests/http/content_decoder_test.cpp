// http/content_decoder_test.cpp — src/http/content_decoder.hpp: gzip, deflate, br, zstd, chains,
// and the caps that turn a compression bomb into a limit_error.
//
// The encoded inputs are made here with the libraries' own encoders (zlib, brotlienc, zstd).
#include "http/content_decoder.hpp"

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <coreio/http/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using coreio::http::error;
using coreio::http::limit_error;
using coreio::http::limit_kind;
using coreio::http::detail::content_decoder;
using coreio::http::detail::decode_limits;

// ---- encoders ----------------------------------------------------------------------------------

// window_bits: 15 + 16 gzip, 15 zlib, -15 raw deflate.
std::string deflate_with(std::string_view in, int window_bits, int level = 6) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const std::size_t old = out.size();
    out.resize(old + 64 * 1024);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = 64 * 1024;
    rc = deflate(&z, Z_FINISH);
    out.resize(old + 64 * 1024 - z.avail_out);
  }
  deflateEnd(&z);
  return out;
}

std::string gzip(std::string_view in) { return deflate_with(in, 15 + 16); }
std::string zlib_wrapped(std::string_view in) { return deflate_with(in, 15); }
std::string raw_deflate(std::string_view in) { return deflate_with(in, -15); }

std::string brotli(std::string_view in, int quality = 5) {
  std::string out(BrotliEncoderMaxCompressedSize(in.size()) + 16, '\0');
  std::size_t n = out.size();
  if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, in.size(),
                             reinterpret_cast<const std::uint8_t*>(in.data()), &n,
                             reinterpret_cast<std::uint8_t*>(out.data()))) {
    throw std::runtime_error("BrotliEncoderCompress");
  }
  out.resize(n);
  return out;
}

std::string zstd(std::string_view in, int level = 3) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) throw std::runtime_error("ZSTD_compress");
  out.resize(n);
  return out;
}

// Text with some structure (so it compresses) and some noise (so it is not trivial).
std::string sample(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  static const char* words[] = {"coreio ",   "task ", "gather ",           "http ", "llhttp ", "\n",
                                "{\"id\": ", "42, ",  "\"title\": \"x\"} "};
  std::string s;
  while (s.size() < n) {
    s += words[rng() % 9];
    if (rng() % 7 == 0) s += static_cast<char>('a' + rng() % 26);
  }
  s.resize(n);
  return s;
}

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// Decodes `encoded` with the decoder for `coding`, fed in pieces of `piece` bytes (0: whole).
std::string decode(std::string_view coding, std::string_view encoded, std::size_t piece = 0,
                   decode_limits limits = {}) {
  auto d = content_decoder::make_chain(coding, limits);
  if (!d) throw std::runtime_error("no decoder for " + std::string(coding));
  std::string out;
  if (piece == 0) piece = encoded.size() == 0 ? 1 : encoded.size();
  for (std::size_t i = 0; i < encoded.size(); i += piece) {
    d->feed(bytes(encoded.substr(i, piece)), out);
  }
  d->finish(out);
  return out;
}

struct coding_case {
  const char* name;
  const char* coding;
  std::string (*encode)(std::string_view);
};

std::string brotli_default(std::string_view in) { return brotli(in); }
std::string zstd_default(std::string_view in) { return zstd(in); }

const coding_case cases[] = {
    {"gzip", "gzip", gzip},
    {"deflate (zlib-wrapped)", "deflate", zlib_wrapped},
    {"deflate (raw)", "deflate", raw_deflate},
    {"br", "br", brotli_default},
    {"zstd", "zstd", zstd_default},
};

// ---- round trips -------------------------------------------------------------------------------

TEST(ContentDecoderTest, EachCodingRoundTripsWholeAndInPieces) {
  const std::string text = sample(300 * 1024);
  for (const auto& c : cases) {
    const std::string enc = c.encode(text);
    EXPECT_LT(enc.size(), text.size()) << c.name;
    EXPECT_EQ(decode(c.coding, enc), text) << c.name << " whole";
    EXPECT_EQ(decode(c.coding, enc, 1000), text) << c.name << " 1000-byte pieces";
    EXPECT_EQ(decode(c.coding, enc, 7), text) << c.name << " 7-byte pieces";
  }
}

TEST(ContentDecoderTest, EachCodingRoundTripsOneByteAtATime) {
  const std::string text = sample(20 * 1024, 2);
  for (const auto& c : cases) {
    EXPECT_EQ(decode(c.coding, c.encode(text), 1), text) << c.name;
  }
}

TEST(ContentDecoderTest, EmptyBodiesDecodeToNothing) {
  for (const auto& c : cases) {
    EXPECT_EQ(decode(c.coding, ""), "") << c.name << ": no byte at all";
    EXPECT_EQ(decode(c.coding, c.encode("")), "") << c.name << ": an encoded empty body";
  }
}

TEST(ContentDecoderTest, ChainsUndoTheLastCodingFirst) {
  const std::string text = sample(50 * 1024, 3);
  const std::string twice = brotli(gzip(text));  // gzip applied first, then br
  EXPECT_EQ(decode("gzip, br", twice), text);
  EXPECT_EQ(decode("gzip,br", twice, 5), text);
  EXPECT_EQ(decode("identity, gzip, br", twice, 333), text);
  EXPECT_EQ(decode("zstd, deflate", zlib_wrapped(zstd(text)), 100), text);
  EXPECT_THROW(decode("br, gzip", twice), error);
}

TEST(ContentDecoderTest, NamesAreCaseInsensitiveAndIdentityIsNothing) {
  const std::string text = sample(1000);
  EXPECT_EQ(decode("GZIP", gzip(text)), text);
  EXPECT_EQ(decode("x-gzip", gzip(text)), text);
  EXPECT_EQ(decode(" Br ", brotli(text)), text);
  EXPECT_EQ(content_decoder::make("identity"), nullptr);
  EXPECT_EQ(content_decoder::make("IDENTITY"), nullptr);
  EXPECT_EQ(content_decoder::make_chain(""), nullptr);
  EXPECT_EQ(content_decoder::make_chain(" identity , identity"), nullptr);
}

TEST(ContentDecoderTest, AnUnknownCodingIsAnErrorNamingIt) {
  try {
    content_decoder::make("compress");
    ADD_FAILURE() << "accepted";
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown Content-Encoding 'compress'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(content_decoder::make_chain("gzip, snappy"), error);
  // What the client asks first: a list with any unknown coding is left as it came.
  EXPECT_TRUE(content_decoder::decodable("gzip, deflate , BR,zstd, x-gzip, identity"));
  EXPECT_TRUE(content_decoder::decodable(""));
  EXPECT_FALSE(content_decoder::decodable("compress"));
  EXPECT_FALSE(content_decoder::decodable("gzip, snappy"));
  EXPECT_FALSE(content_decoder::decodable("gzip;q=1"));
}

TEST(ContentDecoderTest, ConcatenatedGzipMembersAndZstdFramesDecodeInTurn) {
  EXPECT_EQ(decode("gzip", gzip("first ") + gzip("second")), "first second");
  EXPECT_EQ(decode("gzip", gzip("first ") + gzip("second"), 1), "first second");
  EXPECT_EQ(decode("zstd", zstd("first ") + zstd("second"), 3), "first second");
}

// ---- broken streams ----------------------------------------------------------------------------

std::string failure(std::string_view coding, std::string_view encoded, std::size_t piece = 0) {
  try {
    decode(coding, encoded, piece);
  } catch (const limit_error& e) {
    ADD_FAILURE() << "a limit_error for a broken stream: " << e.what();
    return e.what();
  } catch (const error& e) {
    return e.what();
  }
  ADD_FAILURE() << coding << ": accepted";
  return {};
}

// One feed writes at most a piece (256 KiB, a 64 KiB step past it at most), whatever the input
// expands to: the rest is held and comes out with feed({}) while holding() says so; finish()
// decodes what is still held. urllib3 and aiohttp bound a read's memory the same way.
TEST(ContentDecoderLimitTest, EachFeedWritesAtMostAPiece) {
  const std::string text(8u << 20, 'A');  // expands about a thousand times
  decode_limits unlimited;
  unlimited.max_ratio = 0;
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& c : cases) encoded.emplace_back(c.coding, c.encode(text));
  encoded.emplace_back("gzip, br", brotli(gzip(text)));
  for (const auto& [coding, data] : encoded) {
    for (const bool finish_early : {false, true}) {
      auto d = content_decoder::make_chain(coding, unlimited);
      std::string all, out;
      std::size_t largest = 0, pieces = 0;
      d->feed(bytes(data), out);
      do {
        largest = std::max(largest, out.size());
        all += out;
        ++pieces;
        out.clear();
        if (finish_early && pieces == 3) break;  // finish() takes what is held
        if (d->holding()) d->feed({}, out);
      } while (!out.empty());
      d->finish(out);
      all += out;
      EXPECT_EQ(all.size(), text.size()) << coding;
      EXPECT_TRUE(all == text) << coding;
      if (!finish_early) {
        EXPECT_LE(largest, 320u * 1024) << coding;
        EXPECT_GE(pieces, 8u * 1024 / 320) << coding;
      }
    }
  }
}

// Five codings are undone; a longer list (each a decoder made before any body byte, thousands fit
// in a head) is refused at once (urllib3 allows five too). identity does not count.
TEST(ContentDecoderLimitTest, AtMostFiveCodingsAreUndone) {
  const std::string text = sample(2000, 5);
  EXPECT_EQ(decode("gzip, gzip, gzip, gzip, gzip, identity", gzip(gzip(gzip(gzip(gzip(text)))))),
            text);
  std::string many = "zstd";
  for (int i = 0; i < 2000; ++i) many += ",zstd";
  for (const std::string& list : {std::string("gzip,gzip,gzip,gzip,gzip,gzip"), many}) {
    try {
      content_decoder::make_chain(list);
      ADD_FAILURE() << "accepted " << list.substr(0, 40);
    } catch (const error& e) {
      EXPECT_NE(std::string(e.what()).find("at most 5 are decoded"), std::string::npos) << e.what();
    }
  }
}

// Empty gzip members, one after another, are a flood with no content and no cap to reach (aiohttp
// refuses it too); 16 in a row are taken, and a member with content resets the count.
TEST(ContentDecoderTest, AFloodOfEmptyGzipMembersIsAnError) {
  const std::string empty = gzip("");
  std::string sixteen;
  for (int i = 0; i < 16; ++i) sixteen += empty;
  EXPECT_EQ(decode("gzip", sixteen + gzip("x") + sixteen + gzip("y"), 7), "xy");
  std::string flood = sixteen;
  for (int i = 0; i < 1000; ++i) flood += empty;
  for (const std::size_t piece : {std::size_t{0}, std::size_t{13}}) {
    const std::string what = failure("gzip", flood, piece);
    EXPECT_NE(what.find("empty gzip members"), std::string::npos) << what;
  }
}

TEST(ContentDecoderTest, ATruncatedStreamIsAnErrorNamingTheCoding) {
  const std::string text = sample(100 * 1024, 4);
  for (const auto& c : cases) {
    const std::string enc = c.encode(text);
    for (std::size_t keep : {enc.size() / 2, enc.size() - 1, std::size_t{1}}) {
      const std::string what = failure(c.coding, std::string_view(enc).substr(0, keep));
      EXPECT_NE(what.find(std::string("http: ") + c.coding), std::string::npos) << what;
      EXPECT_NE(what.find("ends before the end"), std::string::npos) << c.name << ": " << what;
    }
  }
}

TEST(ContentDecoderTest, CorruptDataIsAnErrorNamingTheCoding) {
  const std::string garbage = "this was never compressed by anything at all, not even a little";
  for (const char* coding : {"gzip", "br", "zstd"}) {
    const std::string what = failure(coding, garbage);
    EXPECT_NE(what.find(std::string("corrupt ") + coding), std::string::npos) << what;
  }
  // A flipped byte in the middle of a gzip stream: its CRC or its structure catches it.
  const std::string text = sample(100 * 1024, 5);
  std::string enc = gzip(text);
  enc[enc.size() / 2] = static_cast<char>(enc[enc.size() / 2] ^ 0x55);
  EXPECT_NE(failure("gzip", enc).find("corrupt gzip"), std::string::npos);
  std::string z = zstd(text);
  z[z.size() / 2] = static_cast<char>(z[z.size() / 2] ^ 0x55);
  EXPECT_NE(failure("zstd", z).find("zstd"), std::string::npos);
}

TEST(ContentDecoderTest, DataAfterTheEndOfTheStreamIsAnError) {
  for (const auto& c : cases) {
    if (std::string_view(c.coding) == "zstd") continue;  // another frame may follow: see below
    const std::string enc = c.encode("hello") + "junk";
    EXPECT_NE(failure(c.coding, enc).find("after the end"), std::string::npos) << c.name;
  }
  EXPECT_NE(failure("zstd", zstd("hello") + "junk").find("zstd"), std::string::npos);
}

// ---- caps --------------------------------------------------------------------------------------

// A bomb: 100 MB of zeros, encoded (about 100 KB as gzip, a few KB as br or zstd).
const std::string& zeros_100mb() {
  static const std::string z(100u << 20, '\0');
  return z;
}

struct bomb {
  const char* coding;
  std::string encoded;
};

const std::vector<bomb>& bombs() {
  static const std::vector<bomb> b = [] {
    std::vector<bomb> v;
    v.push_back({"gzip", deflate_with(zeros_100mb(), 15 + 16, 1)});
    v.push_back({"deflate", deflate_with(zeros_100mb(), -15, 1)});
    v.push_back({"br", brotli(zeros_100mb(), 1)});
    v.push_back({"zstd", zstd(zeros_100mb(), 1)});
    return v;
  }();
  return b;
}

// Feeds the bomb in 16 KiB pieces; returns the limit_error and how large `out` ever got.
std::pair<limit_error, std::size_t> explode(const bomb& b, decode_limits limits) {
  auto d = content_decoder::make(b.coding, limits);
  std::string out;
  std::size_t most = 0;
  try {
    for (std::size_t i = 0; i < b.encoded.size(); i += 16 * 1024) {
      d->feed(bytes(std::string_view(b.encoded).substr(i, 16 * 1024)), out);
      most = std::max(most, out.capacity());
      out.clear();  // what a streaming reader does with each chunk
    }
    d->finish(out);
  } catch (const limit_error& e) {
    return {e, std::max(most, out.capacity())};
  }
  ADD_FAILURE() << b.coding << ": the bomb decoded";
  return {limit_error(limit_kind::body, 0, "none"), most};
}

TEST(ContentDecoderLimitTest, ABombFailsOnTheRatioAfterAboutOneMegabyte) {
  for (const auto& b : bombs()) {
    ASSERT_LT(b.encoded.size(), 1u << 20) << b.coding;
    decode_limits limits;  // 64 MiB
    limits.max_ratio = 100;
    // All of it in one feed: the ratio counts consumed input, so it still stops early.
    auto d = content_decoder::make(b.coding, limits);
    std::string out;
    try {
      d->feed(bytes(b.encoded), out);
      while (d->holding()) d->feed({}, out);  // the held rest, as a reader takes it
      ADD_FAILURE() << b.coding << ": the bomb decoded";
    } catch (const limit_error& e) {
      EXPECT_EQ(e.limit(), limit_kind::decompression_ratio);
      EXPECT_EQ(e.max(), 100u);
      EXPECT_NE(std::string(e.what()).find("expands over 100 times"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(b.coding), std::string::npos) << e.what();
    }
    EXPECT_LT(out.size(), 2u << 20) << b.coding << ": decoded far past the first MiB";
  }
}

TEST(ContentDecoderLimitTest, ABombFailsOnTheDecodedSizeWhenTheRatioIsAllowed) {
  for (const auto& b : bombs()) {
    decode_limits limits;
    limits.max_decoded = 8u << 20;
    limits.max_ratio = 0;  // no ratio limit
    auto [e, most] = explode(b, limits);
    EXPECT_EQ(e.limit(), limit_kind::decoded_body) << b.coding;
    EXPECT_EQ(e.max(), 8u << 20) << b.coding;
    EXPECT_NE(std::string(e.what()).find("decodes to over 8388608 bytes"), std::string::npos)
        << e.what();
    // One 16 KiB feed of zeros decodes to many MiB, so `out` holds up to the cap (and the string's
    // growth), never the 100 MB.
    EXPECT_LE(most, 2 * (8u << 20) + (1u << 20)) << b.coding;
  }
}

TEST(ContentDecoderLimitTest, AChainIsCappedOnItsWholeExpansion) {
  // gzip inside br: the chain's ratio is of the whole expansion, br's input to gzip's output.
  const std::string inner = deflate_with(std::string(20u << 20, '\0'), 15 + 16, 1);
  const std::string outer = brotli(inner, 1);
  try {
    decode("gzip, br", outer, 4096);
    ADD_FAILURE() << "decoded";
  } catch (const limit_error& e) {
    EXPECT_EQ(e.limit(), limit_kind::decompression_ratio);
  }
}

// A body that compresses a few hundred times (rows of JSON with a long constant part, as an API's
// listing can be) decodes within the default ratio of 1,000, in every coding; a ratio set below
// its own refuses it, naming the ratio.
TEST(ContentDecoderLimitTest, ABodyThatCompressesAFewHundredTimesDecodesByDefault) {
  std::string rows;
  for (int i = 0; rows.size() < (3u << 20); ++i) {
    rows += "{\"id\":" + std::to_string(i) + ",\"kind\":\"item\",\"pad\":\"" +
            std::string(1500, ' ') + "\"}\n";
  }
  for (const auto& c : cases) {
    const std::string encoded = c.encode(rows);
    const std::size_t ratio = rows.size() / encoded.size();
    EXPECT_GT(ratio, 150u) << c.name;
    EXPECT_LT(ratio, 1000u) << c.name;
    EXPECT_EQ(decode(c.coding, encoded, 64 * 1024), rows) << c.name;
    decode_limits tight;
    tight.max_ratio = ratio / 2;
    try {
      decode(c.coding, encoded, 64 * 1024, tight);
      ADD_FAILURE() << c.name << ": decoded over a ratio of " << tight.max_ratio;
    } catch (const limit_error& e) {
      EXPECT_EQ(e.limit(), limit_kind::decompression_ratio) << c.name;
      EXPECT_EQ(e.max(), tight.max_ratio) << c.name;
      EXPECT_NE(std::string(e.what()).find("max_decompression_ratio"), std::string::npos)
          << e.what();
    }
  }
}

TEST(ContentDecoderLimitTest, OrdinaryCompressionIsWithinTheCaps) {
  // Highly compressible but honest text (JSON-like) stays within the default ratio.
  const std::string text = sample(8u << 20, 6);
  for (const auto& c : cases) {
    EXPECT_EQ(decode(c.coding, c.encode(text), 64 * 1024), text) << c.name;
  }
}

}  // namespace
