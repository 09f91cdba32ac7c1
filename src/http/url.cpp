// src/http/url.cpp — URL parsing, percent-encoding and reference resolution (url.hpp).
#include "http/url.hpp"

#include <arpa/inet.h>
#include <idn2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

#include <coreio/http/errors.hpp>

#include "http/text.hpp"

namespace coreio::http::detail {

namespace {

[[noreturn]] void bad_url(std::string_view why, std::string_view text) {
  std::string shown(text.substr(0, 200));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw error("http: invalid URL (" + std::string(why) + "): " + shown);
}

bool unreserved(unsigned char c) noexcept {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

constexpr char hex_digits[] = "0123456789ABCDEF";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// Path and query as sent, but for bytes no URI may hold (RFC 3986 section 2), percent-encoded as
/// yarl (aiohttp's URLs) encodes them: bytes >= 0x80, space, the characters " < > \ ^ ` { | }, and
/// a '%' that does not start a %XX escape. Controls refused (a CR or LF would split the request).
constexpr std::array<bool, 256> encoded_in_target = [] {
  std::array<bool, 256> t{};
  for (int c = 0x80; c < 0x100; ++c) t[c] = true;
  for (const char c : std::string_view(" \"<>\\^`{|}")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

std::string clean_target(std::string_view s, std::string_view whole) {
  const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) bad_url("control character", whole);
    const bool stray_percent = c == '%' && !(i + 2 < s.size() && hex(s[i + 1]) && hex(s[i + 2]));
    if (encoded_in_target[c] || stray_percent) {
      out += '%';
      out += hex_digits[c >> 4];
      out += hex_digits[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

/// How many dots the path segment `seg` is, "." or "..", a dot also written %2e (percent-encoded
/// unreserved characters are the characters themselves, RFC 3986 section 6.2.2.2; WHATWG's URL
/// parser reads them so too): 1 or 2, else 0.
int dot_segment(std::string_view seg) noexcept {
  int dots = 0;
  for (std::size_t i = 0; i < seg.size(); ++dots) {
    if (seg[i] == '.') {
      i += 1;
    } else if (seg[i] == '%' && seg.substr(i + 1, 2).size() == 2 && seg[i + 1] == '2' &&
               (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
      i += 3;
    } else {
      return 0;
    }
  }
  return dots <= 2 ? dots : 0;
}

/// RFC 3986 section 5.2.4.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  const bool absolute = !path.empty() && path[0] == '/';
  if (absolute) i = 1;
  bool trailing = false;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    const std::string_view seg = path.substr(i, j - i);
    trailing = false;
    const int dots = dot_segment(seg);
    if (dots == 2) {
      if (!out.empty()) out.pop_back();
      trailing = true;
    } else if (dots == 1) {
      trailing = true;
    } else {
      out.push_back(seg);
    }
    i = j + 1;
  }
  std::string r = absolute ? "/" : "";
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (k > 0) r += '/';
    r += out[k];
  }
  if (trailing && (r.empty() || r.back() != '/')) r += '/';
  return r;
}

/// The path of a target with its dot segments removed (RFC 3986 section 5.2.2 removes them from
/// every reference's path, an absolute URL's too; yarl and curl do so), its query as it is.
std::string without_dot_segments(const std::string& target) {
  const std::size_t q = target.find('?');
  const std::string_view path = std::string_view(target).substr(0, q);
  if (path.find('.') == std::string_view::npos && path.find("%2") == std::string_view::npos) {
    return target;  // no segment can be a dot segment
  }
  std::string r = remove_dot_segments(path);
  if (q != std::string::npos) r.append(target, q);
  return r;
}

/// A dotted quad of four decimal numbers 0-255 without leading zeros ("127.0.0.1"): the form an
/// IPv4 host has when it needs no rewriting.
bool plain_dotted_quad(std::string_view h) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (i <= h.size()) {
    std::size_t j = i;
    unsigned v = 0;
    while (j < h.size() && h[j] >= '0' && h[j] <= '9' && j - i < 4) v = v * 10 + (h[j++] - '0');
    const std::size_t n = j - i;
    if (n == 0 || n > 3 || v > 255 || (n > 1 && h[i] == '0')) return false;
    ++parts;
    if (j == h.size()) break;
    if (h[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

/// An internationalized host name (UTF-8) as the ASCII name DNS knows ("bücher.example" ->
/// "xn--bcher-kva.example"): IDNA2008 with UTS #46's non-transitional mapping (lowercase, NFC), as
/// WHATWG's URL standard and yarl (aiohttp's URLs) convert it; libidn2 does the work.
std::string idna_to_ascii(std::string_view host, std::string_view whole) {
  const std::string text(host);
  uint8_t* out = nullptr;
  const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(text.c_str()), &out,
                                IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    bad_url(std::string("not an internationalized domain name: ") + idn2_strerror(rc), whole);
  }
  std::string ascii(reinterpret_cast<const char*>(out));
  idn2_free(out);
  return ascii;
}

/// The host of an authority, checked and in its canonical form (lowercase; IPv6 as inet_ntop writes
/// it, without brackets; IPv4 as a dotted quad; a non-ASCII name in its IDNA ASCII form).
/// `bracketed`: it was written in brackets, so it must be an IPv6 address (RFC 3986 section
/// 3.2.2). Otherwise no byte may be one WHATWG's URL
/// standard forbids in a host (controls, space, and # % / : < > ? @ [ \ ] ^ |): a ':' there is
/// a second port or an IPv6 address without brackets. A name whose last label is a number is an
/// IPv4 address in one of the forms inet_aton and WHATWG read ("127.1", "0x7f.0.0.1",
/// "2130706433"), written as a dotted quad, or no host at all ("256.0.0.1", "a.1").
std::string canonical_host(std::string_view host, bool bracketed, std::string_view whole) {
  if (host.empty()) bad_url("no host", whole);
  if (bracketed) {
    const std::string text(host);
    in6_addr a{};
    if (inet_pton(AF_INET6, text.c_str(), &a) != 1)
      bad_url("not an IPv6 address in brackets", whole);
    std::array<char, INET6_ADDRSTRLEN> out{};
    return inet_ntop(AF_INET6, &a, out.data(), out.size());
  }
  std::string idna;
  if (std::any_of(host.begin(), host.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    idna = idna_to_ascii(host, whole);
    host = idna;
    if (host.empty()) bad_url("no host (the name maps to nothing)", whole);
  }
  std::string h;
  h.reserve(host.size());
  for (const char ch : host) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("#%/:<>?@[\\]^|").find(ch) != std::string_view::npos)
      bad_url("bad character in the host", whole);
    h += static_cast<char>(std::tolower(c));
  }
  // The last label, a trailing dot aside.
  std::string_view labels = h;
  if (labels.size() > 1 && labels.back() == '.') labels.remove_suffix(1);
  const std::string_view last = labels.substr(labels.rfind('.') + 1);
  const bool numeric =
      !last.empty() &&
      (last.find_first_not_of("0123456789") == std::string_view::npos ||
       ((last.starts_with("0x") || last.starts_with("0X")) &&
        last.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string_view::npos));
  if (!numeric || plain_dotted_quad(h)) return h;
  in_addr a{};
  const std::string text(labels);
  if (inet_aton(text.c_str(), &a) == 0) bad_url("not an IPv4 address", whole);
  std::array<char, INET_ADDRSTRLEN> out{};
  return inet_ntop(AF_INET, &a, out.data(), out.size());
}

}  // namespace

std::string url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!default_port()) {
    h += ':';
    h += std::to_string(port);
  }
  return h;
}

std::string url::origin() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

std::string url::str() const { return scheme + "://" + authority() + target; }

url parse_url(std::string_view text) {
  url u;
  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) bad_url("no scheme", text);
  for (char c : text.substr(0, colon))
    u.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") bad_url("scheme is not http or https", text);
  std::string_view rest = text.substr(colon + 3);
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  const std::size_t slash = rest.find_first_of("/?");
  std::string_view auth = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (const std::size_t at = auth.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = auth.substr(0, at);
    const std::size_t c = info.find(':');
    u.user = percent_decode(info.substr(0, c));
    if (c != std::string_view::npos) u.password = percent_decode(info.substr(c + 1));
    auth = auth.substr(at + 1);
  }
  std::string_view host = auth, port;
  const bool bracketed = !auth.empty() && auth[0] == '[';
  if (bracketed) {
    const std::size_t close = auth.find(']');
    if (close == std::string_view::npos) bad_url("unclosed IPv6 literal", text);
    host = auth.substr(1, close - 1);
    const std::string_view after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') bad_url("junk after the IPv6 literal", text);
      port = after.substr(1);
    }
  } else if (const std::size_t c = auth.rfind(':'); c != std::string_view::npos) {
    host = auth.substr(0, c);
    port = auth.substr(c + 1);
  }
  u.host = canonical_host(host, bracketed, text);
  u.port = u.tls() ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      bad_url("bad port", text);
    u.port = static_cast<std::uint16_t>(value);
  }
  u.target = without_dot_segments(clean_target(path, text));
  if (u.target.empty() || u.target[0] == '?') u.target.insert(u.target.begin(), '/');
  return u;
}

std::string percent_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += hex_digits[c >> 4];
      out += hex_digits[c & 15];
    }
  }
  return out;
}

void append_params(url& u, const fields& params) {
  if (params.empty()) return;
  char sep = u.target.find('?') == std::string::npos ? '?' : '&';
  if (sep == '&' && u.target.back() == '?') sep = '\0';
  for (const auto& [name, value] : params) {
    if (sep != '\0') u.target += sep;
    sep = '&';
    u.target += percent_encode(name);
    u.target += '=';
    u.target += percent_encode(value);
  }
}

std::string form_encode(const fields& form) {
  std::string out;
  for (const auto& [name, value] : form) {
    if (!out.empty()) out += '&';
    for (const std::string* part : {&name, &value}) {
      for (char ch : *part) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved(c) || ch == '*') {
          out += ch;
        } else if (ch == ' ') {
          out += '+';
        } else {
          out += '%';
          out += hex_digits[c >> 4];
          out += hex_digits[c & 15];
        }
      }
      if (part == &name) out += '=';
    }
  }
  return out;
}

url resolve_reference(const url& base, std::string_view raw_location) {
  // Spaces are percent-encoded, as browsers and yarl do with a Location servers send unencoded.
  std::string spaced;
  if (raw_location.find(' ') != std::string_view::npos) {
    for (const char c : raw_location) {
      if (c == ' ') spaced += "%20";
      else spaced += c;
    }
    raw_location = spaced;
  }
  const std::string_view location = raw_location;
  // A scheme (RFC 3986 section 3.1) other than http or https: not a URL this client can follow.
  if (const std::size_t colon = location.find(':');
      colon != std::string_view::npos && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(location[0])) &&
      location.substr(0, colon).find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") ==
          std::string_view::npos) {
    const std::string_view scheme = location.substr(0, colon);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
      throw error("http: redirect to a non-HTTP URL '" + std::string(location.substr(0, 200)) +
                  "'");
    }
    // "http:/x" and "http:x" have a scheme and no authority: not a URL this client can go to
    // (aiohttp refuses them too), and not a path relative to this one either.
    if (location.substr(colon + 1, 2) != "//") {
      throw error("http: redirect to a URL without a host '" +
                  std::string(location.substr(0, 200)) + "'");
    }
  }
  if (location.find("://") != std::string_view::npos) {
    // Absolute: but only if what precedes :// is a scheme (no '/' or '?' before it).
    const std::size_t p = location.find("://");
    if (location.substr(0, p).find_first_of("/?#") == std::string_view::npos)
      return parse_url(location);
  }
  if (location.starts_with("//")) return parse_url(base.scheme + ":" + std::string(location));
  url u = base;
  u.user.clear();
  u.password.clear();
  std::string_view loc = location;
  if (const std::size_t hash = loc.find('#'); hash != std::string_view::npos)
    loc = loc.substr(0, hash);
  const std::string cleaned = clean_target(loc, location);
  if (cleaned.empty()) return u;
  const std::size_t q = base.target.find('?');
  const std::string base_path = base.target.substr(0, q);
  if (cleaned[0] == '?') {
    u.target = base_path + cleaned;
    return u;
  }
  const std::size_t lq = cleaned.find('?');
  std::string path = cleaned.substr(0, lq);
  const std::string query = lq == std::string::npos ? "" : cleaned.substr(lq);
  if (path[0] != '/') path = base_path.substr(0, base_path.rfind('/') + 1) + path;
  u.target = remove_dot_segments(path) + query;
  if (u.target.empty() || u.target[0] != '/') u.target.insert(u.target.begin(), '/');
  return u;
}

}  // namespace coreio::http::detail
