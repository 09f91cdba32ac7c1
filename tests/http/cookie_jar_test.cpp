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

// RFC 6265bis section 5.7: a plain-http response cannot replace, delete or shadow a Secure cookie
// (WPT cookie-forcing), from the same host or a sibling through Domain; https can.
TEST(CookieJar, PlainHttpLeavesSecureCookiesAlone) {
  cookie_jar jar;
  const auto secure = parse_url("https://a.com/");
  const auto plain = parse_url("http://a.com/");
  jar.store(secure, "s=good; Secure; Path=/");
  jar.store(plain, "s=evil; Path=/");
  jar.store(plain, "s=; Max-Age=0");
  jar.store(plain, "s=evil; Path=/login");
  jar.store(parse_url("http://www.a.com/"), "s=evil; Domain=a.com; Path=/");
  EXPECT_EQ(jar.header_for(parse_url("https://a.com/login")), "s=good");
  // Another name, or a path outside the Secure cookie's, is no shadow.
  jar.store(plain, "t=1; Path=/");
  EXPECT_EQ(jar.header_for(parse_url("https://a.com/login")), "s=good; t=1");
  cookie_jar narrow;
  narrow.store(secure, "n=good; Secure; Path=/admin");
  narrow.store(plain, "n=other; Path=/");
  EXPECT_EQ(narrow.header_for(parse_url("http://a.com/")), "n=other");
  // https replaces it.
  jar.store(secure, "s=better; Secure; Path=/");
  EXPECT_EQ(jar.header_for(secure), "s=better; t=1");
}

// The name prefixes of RFC 6265bis section 4.1.3, in any letter case.
TEST(CookieJar, SecureAndHostPrefixesAreEnforced) {
  cookie_jar jar;
  const auto from = parse_url("https://www.a.com/dir/page");
  jar.store(from, "__Secure-a=1");
  jar.store(from, "__secure-b=1");
  jar.store(from, "__Host-c=1; Secure; Path=/; Domain=www.a.com");
  jar.store(from, "__Host-d=1; Secure");  // default path /dir
  jar.store(from, "__HOST-e=1; Secure; Path=/dir");
  EXPECT_EQ(jar.size(), 0u);
  jar.store(from, "__Secure-f=1; Secure; Domain=a.com; Path=/");
  jar.store(from, "__Host-g=1; Secure; Path=/");
  EXPECT_EQ(jar.header_for(parse_url("https://www.a.com/")), "__Secure-f=1; __Host-g=1");
  EXPECT_EQ(jar.header_for(parse_url("https://x.a.com/")), "__Secure-f=1");
}

// RFC 6265 section 5.3 (http-state's domain0035/36, path0030): the last Domain and the last Path
// count; an empty or relative Path means the default path; the 4096-byte cap is on name and value
// only, and an attribute value over 1024 bytes is ignored alone; a control byte ignores the line.
TEST(CookieJar, AttributesFollowTheStorageModel) {
  cookie_jar jar;
  const auto from = parse_url("http://home.example.org:8888/cookie-parser?x");
  jar.store(from, "a=1; domain=.bar.example.org; domain=home.example.org");
  jar.store(from, "b=2; domain=home.example.org; domain=.bar.example.org");
  jar.store(from, "c=3; path=/dog; path=");
  jar.store(from, "d=4; path=/dog; path=cat");
  EXPECT_EQ(jar.header_for(parse_url("http://sub.home.example.org/")), "a=1");
  EXPECT_EQ(jar.header_for(parse_url("http://home.example.org:8888/")), "a=1; c=3; d=4");
  cookie_jar sizes;
  const std::string long_path = "/" + std::string(1100, 'p');
  sizes.store(from, "e=1; Path=/x; Path=" + long_path + "; Comment=" + std::string(3000, 'c'));
  sizes.store(from, std::string(2000, 'n') + "=" + std::string(2097, 'v'));  // 4097 bytes
  sizes.store(from, std::string(2000, 'n') + "=" + std::string(2096, 'v'));  // 4096 bytes
  EXPECT_EQ(sizes.size(), 2u);
  EXPECT_EQ(sizes.header_for(parse_url("http://home.example.org:8888/x")).substr(0, 4), "e=1;");
  cookie_jar controls;
  for (const std::string& bad : {std::string("a=b\x01c"), std::string("a=b\x7f"),
                                 std::string("a=b; Path=/\x1f"), std::string("a=b\0c", 5)}) {
    controls.store(from, bad);
  }
  controls.store(from, "t=with\ttab");
  EXPECT_EQ(controls.header_for(from), "t=with\ttab");
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

// Any Domain attribute, the request host's own name included, makes the cookie a domain cookie
// (RFC 6265 section 5.3 step 6): sent to the subdomains too.
TEST(CookieJar, ADomainEqualToTheHostStillCoversItsSubdomains) {
  cookie_jar jar;
  const auto from = parse_url("http://example.com/");
  jar.store(from, "exact=1; Domain=example.com");
  jar.store(from, "dot=2; Domain=.example.com");
  jar.store(from, "host=3");
  EXPECT_EQ(jar.header_for(parse_url("http://sub.example.com/")), "exact=1; dot=2");
  EXPECT_EQ(jar.header_for(parse_url("http://example.com/")), "exact=1; dot=2; host=3");
  EXPECT_EQ(jar.header_for(parse_url("http://notexample.com/")), "");
  // A dot-less name is taken as a public suffix: from that host itself, host-only.
  cookie_jar local;
  local.store(parse_url("http://localhost/"), "l=1; Domain=localhost");
  EXPECT_EQ(local.header_for(parse_url("http://localhost/")), "l=1");
  EXPECT_EQ(local.header_for(parse_url("http://x.localhost/")), "");
}

// Expires is read as RFC 6265 section 5.1.1 reads a cookie date: the time, day, month and year
// tokens in any order, with or without a weekday; a two-digit year is 1970-2069.
TEST(CookieJar, CookieDatesInEveryFormatServersSend) {
  cookie_jar jar;
  const auto from = parse_url("http://h/");
  jar.store(from, "a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT");     // RFC 1123
  jar.store(from, "b=1; Expires=Friday, 01-Jan-2100 00:00:00 GMT");  // RFC 850, four digits
  jar.store(from, "c=1; Expires=Wed, 09-Jun-69 10:18:14 GMT");       // two digits: 2069
  jar.store(from, "d=1; Expires=Fri Jan  1 00:00:00 2100");          // asctime
  jar.store(from, "e=1; Expires=01 Jan 2100 10:18:14 GMT");          // no weekday
  EXPECT_EQ(jar.header_for(from), "a=1; b=1; c=1; d=1; e=1");
  // In the past, however written: each deletes its cookie.
  jar.store(from, "a=1; Expires=Thu, 01-Jan-70 00:00:01 GMT");     // two digits: 1970
  jar.store(from, "b=1; Expires=Friday, 01-Jan-99 00:00:00 GMT");  // 1999
  jar.store(from, "c=1; Expires=01 Jan 1990 10:18:14 GMT");
  jar.store(from, "d=1; Expires=Mon Jan  1 00:00:00 1990");
  EXPECT_EQ(jar.header_for(from), "e=1");
  // Unreadable dates (no time, no such day, a year before 1601) leave a session cookie.
  jar.store(from, "f=1; Expires=01 Jan 1990");
  jar.store(from, "g=1; Expires=31 Feb 1990 00:00:00");
  jar.store(from, "h=1; Expires=01 Jan 1500 00:00:00");
  jar.store(from, "i=1; Expires=01 Jan 1990 24:00:00");
  EXPECT_EQ(jar.header_for(from), "e=1; f=1; g=1; h=1; i=1");
}

}  // namespace

// Dates and ages at the ends of what a clock can hold: system_clock's nanoseconds reach about 1677
// to 2262, and an age may have more digits than 64 bits hold. A far future keeps the cookie (for
// at most 400 days, RFC 6265bis section 5.5), a far past deletes it, a Max-Age of any size wins
// over Expires (RFC 6265 section 5.3 step 3).
TEST(CookieJar, DatesAndAgesBeyondTheClockKeepTheirMeaning) {
  cookie_jar jar;
  const auto from = parse_url("http://h/");
  jar.store(from, "y9999=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT; Path=/");
  jar.store(from, "y3024=1; Expires=Sat, 01 Jan 3024 00:00:00 GMT");
  jar.store(from, "big=1; Max-Age=99999999999999999999; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(jar.header_for(from), "y9999=1; y3024=1; big=1");
  // A refresh far in the future replaces, and does not delete, the cookie.
  jar.store(from, "y9999=2; Expires=Fri, 31 Dec 9999 23:59:59 GMT; Path=/");
  EXPECT_EQ(jar.header_for(from), "y9999=2; y3024=1; big=1");
  // Deletions by a date before the clock's reach, or by an age below -2^63.
  jar.store(from, "y3024=x; Expires=Mon, 01 Jan 1601 00:00:01 GMT");
  jar.store(from, "big=x; Max-Age=-99999999999999999999");
  EXPECT_EQ(jar.header_for(from), "y9999=2");
  jar.store(from, "neg=1; Max-Age=-5");
  jar.store(from, "zero=1; Max-Age=-0");
  jar.store(from, "junk=1; Max-Age=12x");  // not an age: ignored, a session cookie
  EXPECT_EQ(jar.header_for(from), "y9999=2; junk=1");
}

// A cookie replaced keeps its creation time, and so its place among cookies of equal paths (RFC
// 6265 section 5.3 step 11.3, section 5.4 step 2).
TEST(CookieJar, AReplacedCookieKeepsItsPlace) {
  cookie_jar jar;
  const auto from = parse_url("http://h/");
  jar.store(from, "oa=1");
  jar.store(from, "ob=2");
  jar.store(from, "oa=3");
  EXPECT_EQ(jar.header_for(from), "oa=3; ob=2");
}

// A full jar (3,000 cookies) drops expired cookies first, then the one set longest ago: a cookie
// refreshed just now stays, though it was created first (RFC 6265 section 5.3).
TEST(CookieJar, AFullJarDropsTheCookieSetLongestAgo) {
  cookie_jar jar;
  const auto from = parse_url("http://h/");
  for (int i = 0; i < 3000; ++i) jar.store(from, "c" + std::to_string(i) + "=1");
  jar.store(from, "c0=2");  // refreshed: the newest set
  jar.store(from, "extra=1");
  EXPECT_EQ(jar.size(), 3000u);
  const std::string header = jar.header_for(from);
  EXPECT_EQ(header.rfind("c0=2; c2=1", 0), 0u) << header.substr(0, 40);  // c1 went
  EXPECT_NE(header.find("; extra=1"), std::string::npos);
}
