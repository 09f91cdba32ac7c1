// http/cookie_jar_test.cpp — src/http/cookie_jar.hpp: Set-Cookie attributes and selection.
#include "http/cookie_jar.hpp"

#include <gtest/gtest.h>

namespace {

using coreio::http::detail::cookie_jar;
using coreio::http::detail::parse_url;

TEST(CookieJar, MatchesDomainPathAndScheme) {
  cookie_jar jar;
  const auto from = parse_url("https://www.example.com/account/login");
  jar.store(from, "sid=1; Path=/; Secure; HttpOnly");
  jar.store(from, "pref=dark; Domain=example.com; Path=/");
  jar.store(from, "acct=7");                    // default path /account
  jar.store(from, "evil=1; Domain=other.com");  // not for this host: ignored
  jar.store(from, "tld=1; Domain=com");         // a bare TLD: ignored
  EXPECT_EQ(jar.size(), 3u);
  EXPECT_EQ(jar.header_for(parse_url("https://www.example.com/account/x")),
            "acct=7; sid=1; pref=dark");
  EXPECT_EQ(jar.header_for(parse_url("http://www.example.com/")), "pref=dark");   // not Secure
  EXPECT_EQ(jar.header_for(parse_url("https://api.example.com/")), "pref=dark");  // host-only sid
  EXPECT_EQ(jar.header_for(parse_url("https://example.org/")), "");
  EXPECT_EQ(jar.header_for(parse_url("https://www.example.com/accounting")), "sid=1; pref=dark");
}

TEST(CookieJar, ExpiresAndDeletes) {
  cookie_jar jar;
  const auto from = parse_url("http://h/");
  jar.store(from, "a=1; Max-Age=3600");
  jar.store(from, "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT");  // in the past
  jar.store(from, "c=3; Expires=Fri, 01 Jan 2100 00:00:00 GMT");
  EXPECT_EQ(jar.header_for(from), "a=1; c=3");
  jar.store(from, "a=gone; Max-Age=0");
  EXPECT_EQ(jar.header_for(from), "c=3");
  jar.store(from, "c=4");  // replaces
  EXPECT_EQ(jar.header_for(from), "c=4");
  jar.store(parse_url("http://h/"), "s=1; Secure");  // Secure from http: refused
  EXPECT_EQ(jar.header_for(parse_url("https://h/")), "c=4");
}

TEST(CookieJar, AJarEmptiedByDeletionsFillsAgain) {
  // header_for skips the lock while the jar is empty: emptying and refilling it must be seen.
  cookie_jar jar;
  const auto from = parse_url("http://h/");
  EXPECT_EQ(jar.header_for(from), "");
  jar.store(from, "a=1");
  EXPECT_EQ(jar.header_for(from), "a=1");
  jar.store(from, "a=gone; Max-Age=0");
  EXPECT_EQ(jar.size(), 0u);
  EXPECT_EQ(jar.header_for(from), "");
  jar.store(from, "b=2");
  EXPECT_EQ(jar.header_for(from), "b=2");
}

}  // namespace
