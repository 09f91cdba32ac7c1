// http/text_test.cpp — src/http/text.hpp: ASCII case folding and OWS trimming.
#include "http/text.hpp"

#include <gtest/gtest.h>

namespace {

using coreio::http::detail::ascii_lower;
using coreio::http::detail::iequals;
using coreio::http::detail::trim_ows;

TEST(TextTest, IequalsFoldsAsciiLettersOnly) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("Content-Length", "Content-Lengt"));
  EXPECT_FALSE(iequals("a", "b"));
  // '[' and '{' differ from 'A'/'a' by the same 0x20 as the letters: not letters, not folded.
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("@", "`"));
  // Bytes >= 0x80 (Latin-1 'É' / 'é') are compared as they are.
  EXPECT_FALSE(iequals("\xc9", "\xe9"));
  EXPECT_TRUE(iequals("\xc9", "\xc9"));
  EXPECT_EQ(ascii_lower('Z'), 'z');
  EXPECT_EQ(ascii_lower('z'), 'z');
  EXPECT_EQ(ascii_lower('['), '[');
}

TEST(TextTest, TrimOwsDropsSpacesAndTabsAtBothEnds) {
  EXPECT_EQ(trim_ows(" \t a b \t "), "a b");
  EXPECT_EQ(trim_ows("\t \t"), "");
  EXPECT_EQ(trim_ows("x"), "x");
}

}  // namespace
