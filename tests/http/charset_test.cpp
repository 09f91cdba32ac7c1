// http/charset_test.cpp — src/http/charset.hpp: a body's text in UTF-8 from its charset.
#include "http/charset.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using coreio::http::detail::decode_text;

std::string all_high_bytes() {
  std::string s;
  for (int b = 0x80; b <= 0xFF; ++b) s += static_cast<char>(b);
  return s;
}

// The UTF-8 of one code point under 0x10000.
std::string utf8(unsigned cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(CharsetTest, Latin1IsByteForCodePointUnderEveryName) {
  std::string want;
  for (unsigned b = 0x80; b <= 0xFF; ++b) want += utf8(b);
  for (const char* name :
       {"iso-8859-1", "ISO-8859-1", "iso8859-1", "latin1", "Latin-1", "l1", "cp819", "ISO_8859-1",
        "ISO_8859-1:1987", "IBM819", "csISOLatin1", "iso-ir-100", "iso88591", "latin"}) {
    EXPECT_EQ(decode_text("caf\xe9", name), "caf\xc3\xa9") << name;
    EXPECT_EQ(decode_text(all_high_bytes(), name), want) << name;
  }
}

TEST(CharsetTest, Windows1252HasItsOwnCharactersAt0x80To0x9F) {
  // "“quoted” — €5" as Windows writes it.
  const std::string cp1252 =
      "\x93quoted\x94 \x97 \x80"
      "5";
  const std::string want =
      "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x94 \xe2\x82\xac"
      "5";
  for (const char* name : {"windows-1252", "Windows-1252", "cp1252", "x-cp1252"}) {
    EXPECT_EQ(decode_text(cp1252, name), want) << name;
  }
  // The table, against the WHATWG Encoding Standard's index-windows-1252, and 0xA0-0xFF as latin1.
  const unsigned table[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                              0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
                              0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                              0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  std::string want_all;
  for (unsigned b = 0x80; b <= 0xFF; ++b) want_all += utf8(b < 0xA0 ? table[b - 0x80] : b);
  EXPECT_EQ(decode_text(all_high_bytes(), "windows-1252"), want_all);
}

TEST(CharsetTest, UsAsciiKeepsAsciiAndReplacesEveryOtherByte) {
  EXPECT_EQ(decode_text("plain text\n", "us-ascii"), "plain text\n");
  EXPECT_EQ(decode_text("a\x80"
                        "b\xff",
                        "US-ASCII"),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
  EXPECT_EQ(decode_text("\xe9", "ascii"), "\xef\xbf\xbd");
  for (const char* name : {"ANSI_X3.4-1968", "iso-ir-6", "ISO646-US", "us", "IBM367", "csASCII"}) {
    EXPECT_EQ(decode_text("a\xe9", name), "a\xef\xbf\xbd") << name;
  }
}

TEST(CharsetTest, OtherCharsetsAndNoneKeepTheBytes) {
  const std::string bytes = "caf\xc3\xa9 \xe9\x80";  // UTF-8 then stray bytes: left as they are
  for (const char* name : {"", "utf-8", "UTF-8", "utf-16", "koi8-r", "latin-2", "windows-1251"}) {
    EXPECT_EQ(decode_text(bytes, name), bytes) << name;
  }
  EXPECT_EQ(decode_text("", "windows-1252"), "");
}

}  // namespace

TEST(CharsetTest, TheCharsetIsAParameterOfTheMediaType) {
  using coreio::http::detail::charset_of;
  EXPECT_EQ(charset_of("text/html; charset=ISO-8859-1"), "iso-8859-1");
  EXPECT_EQ(charset_of("text/html;charset=\"UTF-8\""), "utf-8");
  EXPECT_EQ(charset_of("text/html; Charset = latin1 ; q=1"), "latin1");  // spaces around '='
  EXPECT_EQ(charset_of("text/html; format=flowed; charset=cp1252"), "cp1252");
  EXPECT_EQ(charset_of("text/html; x=\"a;charset=latin1\"; charset=us-ascii"), "us-ascii");
  EXPECT_EQ(charset_of("text/html; v=\"q\\\"x\"; charset=latin1"), "latin1");  // an escaped quote
  EXPECT_EQ(charset_of("text/plain; xcharset=iso-8859-1"), "");  // another parameter's name
  EXPECT_EQ(charset_of("text/plain; charsetx=iso-8859-1"), "");
  EXPECT_EQ(charset_of("text/plain; flag; charset=latin1"), "latin1");  // a parameter without '='
  EXPECT_EQ(charset_of("text/plain"), "");
  EXPECT_EQ(charset_of(""), "");
  EXPECT_EQ(charset_of("text/plain; charset="), "");
}
