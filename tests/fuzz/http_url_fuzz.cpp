// fuzz/http_url_fuzz.cpp — libFuzzer target: what the client parses besides messages, all of it
// from untrusted text (a caller's URL, a server's Location, Set-Cookie and Content-Type fields).
//
// flags (byte 0, byte 1 unused):
//   bits 0-1  0: parse_url(rest)
//             1: resolve_reference(base, rest), base = http(s)://a.example.test:8080/p/q?x
//             2: rest split at '\n' into Set-Cookie values stored from base; then the Cookie
//                header for base, for a sibling host and for the other scheme
//             3: charset_of(rest), then decode_text of rest in that charset
//   bit 2     base is https (modes 1 and 2)
// Invariants (a breach traps):
//   * a parsed or resolved URL is http or https with a host, a port, a target starting with '/'
//     and no byte in host or target that could split a request line or a header (controls, space,
//     DEL, bytes >= 0x80); its str() parses again to the same URL (parse_url is idempotent);
//   * bad input is an http::error, never another exception;
//   * a Cookie header holds no control byte but HTAB (RFC 6265bis drops such a Set-Cookie);
//   * charset_of gives lowercase; decode_text in a charset it converts gives valid UTF-8.
#include <coreio/http/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/charset.hpp"
#include "http/cookie_jar.hpp"
#include "http/url.hpp"

namespace {

using coreio::http::detail::url;

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool request_safe(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

void check_url(const url& u) {
  check(u.scheme == "http" || u.scheme == "https");
  check(!u.host.empty() && request_safe(u.host));
  check(u.port != 0);
  check(!u.target.empty() && u.target.front() == '/' && request_safe(u.target));
  check(u.target.find('#') == std::string::npos);
  // Idempotent: what the client would put on the wire, read back, is the same URL.
  url again;
  try {
    again = coreio::http::detail::parse_url(u.str());
  } catch (const coreio::http::error&) {
    check(false);
  }
  check(again.scheme == u.scheme && again.host == u.host && again.port == u.port &&
        again.target == u.target);
}

url base_url(bool https) {
  return coreio::http::detail::parse_url(https ? "https://a.example.test:8080/p/q?x"
                                               : "http://a.example.test:8080/p/q?x");
}

void check_cookie_header(std::string_view h) {
  // RFC 6265bis section 5.6: a set-cookie-string with a control byte other than HTAB is ignored;
  // bytes >= 0x80 may stay (a field value's obs-text, RFC 9110 section 5.5), so none can split.
  for (const char ch : h) {
    const auto c = static_cast<unsigned char>(ch);
    check(c == '\t' || (c >= 0x20 && c != 0x7f));
  }
  check(h.find("; ;") == std::string_view::npos);
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) return false;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    i += n + 1;
  }
  return true;
}

void run(std::uint8_t flags, std::string_view rest) {
  const bool https = (flags & 4) != 0;
  switch (flags & 3) {
    case 0: {
      url u;
      try {
        u = coreio::http::detail::parse_url(rest);
      } catch (const coreio::http::error&) {
        return;
      }
      check_url(u);
      return;
    }
    case 1: {
      url u;
      try {
        u = coreio::http::detail::resolve_reference(base_url(https), rest);
      } catch (const coreio::http::error&) {
        return;
      }
      check_url(u);
      return;
    }
    case 2: {
      const url base = base_url(https);
      coreio::http::detail::cookie_jar jar;
      std::size_t start = 0;
      while (start <= rest.size()) {
        std::size_t end = rest.find('\n', start);
        if (end == std::string_view::npos) end = rest.size();
        jar.store(base, rest.substr(start, end - start));
        start = end + 1;
      }
      check_cookie_header(jar.header_for(base));
      check_cookie_header(jar.header_for(base_url(!https)));
      check_cookie_header(
          jar.header_for(coreio::http::detail::parse_url("https://b.example.test/p/q/r")));
      return;
    }
    default: {
      const std::string cs = coreio::http::detail::charset_of(rest);
      for (const char ch : cs) {
        const auto c = static_cast<unsigned char>(ch);
        check(!(c >= 'A' && c <= 'Z'));
      }
      const std::string text = coreio::http::detail::decode_text(std::string(rest), cs);
      static constexpr std::string_view converted[] = {
          "iso-8859-1",   "iso8859-1", "latin1",   "latin-1",  "l1",   "cp819",
          "windows-1252", "cp1252",    "x-cp1252", "us-ascii", "ascii"};
      for (const std::string_view name : converted) {
        if (cs == name) check(valid_utf8(text));
      }
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  run(data[0], rest);
  return 0;
}
