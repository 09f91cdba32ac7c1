// http/url_test.cpp — src/http/url.hpp: parsing, percent-encoding, form encoding, references.
#include "http/url.hpp"

#include <gtest/gtest.h>

#include <coreio/http/errors.hpp>

namespace {

using coreio::http::detail::append_params;
using coreio::http::detail::form_encode;
using coreio::http::detail::parse_url;
using coreio::http::detail::percent_encode;
using coreio::http::detail::resolve_reference;

TEST(Url, ParsesTheParts) {
  auto u = parse_url("HTTPS://User:p%40ss@Example.COM:8443/a/b?x=1#frag");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.user, "User");
  EXPECT_EQ(u.password, "p@ss");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.target, "/a/b?x=1");
  EXPECT_EQ(u.authority(), "example.com:8443");
  EXPECT_EQ(u.origin(), "https://example.com:8443");
  EXPECT_EQ(u.str(), "https://example.com:8443/a/b?x=1");
  auto v = parse_url("http://[::1]/");
  EXPECT_EQ(v.host, "::1");
  EXPECT_EQ(v.port, 80);
  EXPECT_EQ(v.authority(), "[::1]");
  EXPECT_EQ(parse_url("http://h?q").target, "/?q");
  // A space is encoded, as yarl and requests encode it ("test case" -> "test%20case").
  EXPECT_EQ(parse_url("http://h/get/test case?a b").target, "/get/test%20case?a%20b");
  EXPECT_EQ(parse_url("http://h/caf\xc3\xa9").target, "/caf%C3%A9");
  // Characters no URI holds are percent-encoded (as yarl does), escapes and the rest kept.
  EXPECT_EQ(parse_url("http://h/a\"b<c>d\\e^f`g{h|i}j?k=\"l\"").target,
            "/a%22b%3Cc%3Ed%5Ce%5Ef%60g%7Bh%7Ci%7Dj?k=%22l%22");
  EXPECT_EQ(parse_url("http://h/%7e%zz%4?a=%%41").target, "/%7e%25zz%254?a=%25%41");
  EXPECT_EQ(parse_url("http://h/ok:@!$&'()*+,;=-._~").target, "/ok:@!$&'()*+,;=-._~");
}

TEST(Url, RefusesWhatCannotBeARequestTarget) {
  for (const char* bad : {"h/x", "ftp://h/", "http:///x", "http://h:0/", "http://h:65536/",
                          "http://h:8x/", "http://h/a\tb", "http://h/a\r\nX: y", "http://[::1/"}) {
    EXPECT_THROW(parse_url(bad), coreio::http::error) << bad;
  }
}

// Dot segments leave every path, an absolute URL's too (RFC 3986 sections 5.2.2 and 5.2.4), a dot
// also written %2e; the query keeps them.
TEST(Url, RemovesDotSegmentsFromEveryPath) {
  EXPECT_EQ(parse_url("http://h/a/../b").target, "/b");
  EXPECT_EQ(parse_url("http://h/a/./b/.").target, "/a/b/");
  EXPECT_EQ(parse_url("http://h/../../x?y=/../z").target, "/x?y=/../z");
  EXPECT_EQ(parse_url("http://h/a/%2e%2E/b/%2e/c").target, "/b/c");
  EXPECT_EQ(parse_url("http://h/a/.%2e").target, "/");
  EXPECT_EQ(parse_url("http://h/a/.../b..c/%2e%2e%2e").target, "/a/.../b..c/%2e%2e%2e");
  const auto base = parse_url("http://h/p/q");
  EXPECT_EQ(resolve_reference(base, "http://o/./d/../e").str(), "http://o/e");
  EXPECT_EQ(resolve_reference(base, "//a/x/./y").str(), "http://a/x/y");
  EXPECT_EQ(resolve_reference(base, "%2e%2e/r").str(), "http://h/r");
}

// A host is a name of allowed bytes, an IPv6 address in brackets, or an IPv4 address, written in
// one canonical form; anything else is an invalid URL (http::error), not a name for the resolver.
TEST(Url, ChecksAndCanonicalisesHosts) {
  for (const char* bad :
       {"http://h:22:80/", "http://2001::1/", "http://[localhost]/", "http://[127.0.0.1]/",
        "http://[:]/", "http://[0::0::0]/", "http://a<b/", "http://a|b/", "http://a^b/",
        "http://a%41b/", "http://a]b/", "http://256.256.256.256/", "http://1.2.3.4.5/",
        "http://a.1/", "http://0x100000000/", "http://[v1.x]/"}) {
    EXPECT_THROW(parse_url(bad), coreio::http::error) << bad;
  }
  EXPECT_EQ(parse_url("http://127.1/").host, "127.0.0.1");
  EXPECT_EQ(parse_url("http://0x7f.1:8/").host, "127.0.0.1");
  EXPECT_EQ(parse_url("http://2130706433/").host, "127.0.0.1");
  EXPECT_EQ(parse_url("http://10.0.0.1./").host, "10.0.0.1");
  EXPECT_EQ(parse_url("http://192.168.0.1/").host, "192.168.0.1");
  EXPECT_EQ(parse_url("http://[1:0::]:81/").authority(), "[1::]:81");
  EXPECT_EQ(parse_url("http://[::FFFF:1.2.3.4]/").host, "::ffff:1.2.3.4");
  EXPECT_EQ(parse_url("http://a-b_c.x9.example/").host, "a-b_c.x9.example");
  EXPECT_EQ(parse_url("http://!$&'()*+,;=.ex/").host, "!$&'()*+,;=.ex");
  // Internationalized names go as IDNA's ASCII form (UTS #46 non-transitional, as WHATWG and yarl):
  // lowercased, ß kept.
  EXPECT_EQ(parse_url("http://b\xc3\xbc"
                      "cher.example/")
                .host,
            "xn--bcher-kva.example");
  EXPECT_EQ(parse_url("http://B\xc3\x9c"
                      "CHER.example:81/")
                .authority(),
            "xn--bcher-kva.example:81");
  EXPECT_EQ(parse_url("https://fa\xc3\x9f.de/").host, "xn--fa-hia.de");
  for (const char* bad : {"http://\xff.com/", "http://a\xc3.com/", "http://\xe2\x80\x8b/"}) {
    EXPECT_THROW(parse_url(bad), coreio::http::error) << bad;
  }
  // A space a Location left unencoded is not taken into a host.
  EXPECT_THROW(resolve_reference(parse_url("http://h/"), "http://example example.com/"),
               coreio::http::error);
}

TEST(Url, EncodesParamsAndForms) {
  EXPECT_EQ(percent_encode("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
  auto u = parse_url("http://h/p");
  append_params(u, {{"q", "a b"}, {"empty", ""}});
  EXPECT_EQ(u.target, "/p?q=a%20b&empty=");
  auto w = parse_url("http://h/p?k=v");
  append_params(w, {{"x", "1"}});
  EXPECT_EQ(w.target, "/p?k=v&x=1");
  EXPECT_EQ(form_encode({{"a b", "c+d"}, {"x", "1&2"}}), "a+b=c%2Bd&x=1%262");
}

TEST(Url, ResolvesRedirectReferences) {
  const auto base = parse_url("http://u:p@h:81/a/b/c?q=1");
  EXPECT_EQ(resolve_reference(base, "/x").str(), "http://h:81/x");
  EXPECT_EQ(resolve_reference(base, "d").str(), "http://h:81/a/b/d");
  EXPECT_EQ(resolve_reference(base, "../d?z").str(), "http://h:81/a/d?z");
  EXPECT_EQ(resolve_reference(base, "?n=2").str(), "http://h:81/a/b/c?n=2");
  // A scheme with no authority is neither a URL to go to nor a path (aiohttp refuses it too).
  for (const char* bad : {"http:/echo?x", "http:echo", "https:/x", "HTTP:/x"}) {
    EXPECT_THROW(resolve_reference(base, bad), coreio::http::error) << bad;
  }
  EXPECT_EQ(resolve_reference(base, "//other/p").str(), "http://other/p");
  EXPECT_EQ(resolve_reference(base, "https://s/").str(), "https://s/");
  EXPECT_TRUE(resolve_reference(base, "/x").user.empty());
  // A space a server left unencoded is encoded, as browsers do; schemes are ASCII case-insensitive.
  EXPECT_EQ(resolve_reference(base, "/echo?a b").str(), "http://h:81/echo?a%20b");
  EXPECT_EQ(resolve_reference(base, "a b/c").str(), "http://h:81/a/b/a%20b/c");
  EXPECT_EQ(resolve_reference(base, "HTTPS://s/").str(), "https://s/");
  // Another scheme is not a path to resolve: an error naming it.
  for (const char* other : {"mailto:x@y", "ftp://s/f", "javascript:alert(1)", "data:,x"}) {
    try {
      (void)resolve_reference(base, other);
      ADD_FAILURE() << other << " was followed";
    } catch (const coreio::http::error& e) {
      EXPECT_NE(std::string(e.what()).find("non-HTTP URL"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
