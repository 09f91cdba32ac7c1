// src/http/cookie_jar.cpp — Set-Cookie parsing and Cookie selection (cookie_jar.hpp).
#include "http/cookie_jar.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <string>
#include "http/text.hpp"

namespace coreio::http::detail {

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

/// A cookie date (RFC 6265 section 5.1.1): the first time, day of month, month and year tokens
/// in any order, each taken once, whatever else the text holds (weekdays, zones, RFC 850's dashes,
/// asctime's order); a two-digit year is 1970-2069. nullopt for a missing part, a part out of
/// range or a date that does not exist (31 Feb).
std::optional<std::chrono::system_clock::time_point> parse_cookie_date(std::string_view text) {
  const auto delimiter = [](unsigned char c) {
    return c == 0x09 || (c >= 0x20 && c <= 0x2f) || (c >= 0x3b && c <= 0x40) ||
           (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
  };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  // 1 to max digits at t[i...], then the end or a non-digit; returns the value, advances i.
  const auto digits = [&](std::string_view t, std::size_t& i, std::size_t min,
                          std::size_t max) -> std::optional<int> {
    std::size_t n = 0;
    int v = 0;
    while (i + n < t.size() && digit(t[i + n])) {
      if (++n > max) return std::nullopt;
      v = v * 10 + (t[i + n - 1] - '0');
    }
    if (n < min) return std::nullopt;
    i += n;
    return v;
  };
  bool have_time = false, have_day = false, have_month = false, have_year = false;
  int hour = 0, minute = 0, second = 0, day = 0, month = 0, year = 0;
  static constexpr std::string_view months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && delimiter(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && !delimiter(static_cast<unsigned char>(text[j]))) ++j;
    const std::string_view tok = text.substr(i, j - i);
    i = j;
    if (tok.empty()) continue;
    if (!have_time) {
      std::size_t k = 0;
      const auto h = digits(tok, k, 1, 2);
      if (h && k < tok.size() && tok[k] == ':') {
        ++k;
        const auto m = digits(tok, k, 1, 2);
        if (m && k < tok.size() && tok[k] == ':') {
          ++k;
          if (const auto sec = digits(tok, k, 1, 2)) {
            have_time = true;
            hour = *h;
            minute = *m;
            second = *sec;
            continue;
          }
        }
      }
    }
    if (!have_day) {
      std::size_t k = 0;
      if (const auto d = digits(tok, k, 1, 2)) {
        have_day = true;
        day = *d;
        continue;
      }
    }
    if (!have_month && tok.size() >= 3) {
      const std::string head = lower(tok.substr(0, 3));
      const auto* m = std::find(std::begin(months), std::end(months), head);
      if (m != std::end(months)) {
        have_month = true;
        month = static_cast<int>(m - std::begin(months)) + 1;
        continue;
      }
    }
    if (!have_year) {
      std::size_t k = 0;
      if (const auto y = digits(tok, k, 2, 4)) {
        have_year = true;
        year = *y;
      }
    }
  }
  if (year >= 70 && year <= 99) year += 1900;
  else if (year >= 0 && year <= 69) year += 2000;
  if (!have_time || !have_day || !have_month || !have_year) return std::nullopt;
  if (day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  if (tm.tm_mday != day || tm.tm_mon != month - 1) return std::nullopt;  // normalised: no such day
  // system_clock counts nanoseconds in 64 bits: about 1677 to 2262. A date outside is the clock's
  // first or last instant (in the past: a deletion; in the future: capped by store() anyway).
  using clock = std::chrono::system_clock;
  constexpr auto reach = std::chrono::duration_cast<std::chrono::seconds>(clock::duration::max());
  if (t >= reach.count()) return clock::time_point::max();
  if (t <= -reach.count()) return clock::time_point::min();
  return clock::from_time_t(t);
}

bool domain_match(std::string_view host, std::string_view domain) {
  if (host == domain) return true;
  return host.size() > domain.size() && host.ends_with(domain) &&
         host[host.size() - domain.size() - 1] == '.' && host.find(':') == std::string_view::npos &&
         !std::all_of(host.begin(), host.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
         });
}

bool path_match(std::string_view request_path, std::string_view cookie_path) {
  if (request_path == cookie_path) return true;
  if (!request_path.starts_with(cookie_path)) return false;
  return cookie_path.back() == '/' || request_path[cookie_path.size()] == '/';
}

std::string default_path(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path.empty() || path[0] != '/') return "/";
  const std::size_t last = path.rfind('/');
  return last == 0 ? "/" : std::string(path.substr(0, last));
}

// A cookie's name and value together, and one attribute's value (RFC 6265bis section 5.6).
constexpr std::size_t max_cookie_bytes = 4096;
constexpr std::size_t max_attribute_bytes = 1024;
constexpr std::size_t max_cookies = 3000;
// The longest a cookie is kept, from Max-Age or Expires (RFC 6265bis section 5.5: 400 days).
constexpr std::chrono::seconds max_lifetime{400LL * 86400};

// Whether `name` starts with `prefix`, ASCII case-insensitive.
bool has_prefix(std::string_view name, std::string_view prefix) {
  return name.size() >= prefix.size() && iequals(name.substr(0, prefix.size()), prefix);
}

}  // namespace

// The steps of RFC 6265bis sections 5.6 and 5.7 this jar keeps (no SameSite, HttpOnly or public
// suffix list): a control byte ignores the whole line; the last Domain and the last Path attribute
// count, an empty or relative Path meaning the default path; an attribute value over 1024 bytes is
// ignored; a plain-http response may not set, replace or shadow a Secure cookie; a __Secure- name
// needs Secure, a __Host- name Secure, no Domain and the path /.
void cookie_jar::store(const url& from, std::string_view set_cookie) {
  for (const char ch : set_cookie) {
    const auto b = static_cast<unsigned char>(ch);
    if ((b < 0x20 && b != '\t') || b == 0x7f) return;
  }
  const auto now = std::chrono::system_clock::now();
  cookie c;
  c.created = now;
  c.last_set = now;
  std::string_view rest = set_cookie;
  const std::size_t semi = rest.find(';');
  const std::string_view pair = trim_ows(rest.substr(0, semi));
  rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
  const std::size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return;
  c.name = std::string(trim_ows(pair.substr(0, eq)));
  c.value = std::string(trim_ows(pair.substr(eq + 1)));
  if (c.name.empty() || c.name.size() + c.value.size() > max_cookie_bytes) return;
  c.domain = from.host;
  c.path = default_path(from.target);
  bool have_max_age = false;
  std::optional<std::string_view> domain_attr;
  while (!rest.empty()) {
    const std::size_t s = rest.find(';');
    const std::string_view attr = trim_ows(rest.substr(0, s));
    rest = s == std::string_view::npos ? std::string_view{} : rest.substr(s + 1);
    const std::size_t e = attr.find('=');
    const std::string key = lower(trim_ows(attr.substr(0, e)));
    const std::string_view val = e == std::string_view::npos ? "" : trim_ows(attr.substr(e + 1));
    if (val.size() > max_attribute_bytes) continue;
    if (key == "domain" && !val.empty()) {
      domain_attr = val;
    } else if (key == "path") {
      c.path = !val.empty() && val[0] == '/' ? std::string(val) : default_path(from.target);
    } else if (key == "secure") {
      c.secure = true;
    } else if (key == "max-age") {
      // An optional '-' and digits (RFC 6265 section 5.2.2), any number of them: a value past
      // 64 bits is as far as one can go either way.
      const bool negative = !val.empty() && val[0] == '-';
      const std::string_view digits = negative ? val.substr(1) : val;
      if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos) {
        long long secs = 0;
        const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), secs);
        have_max_age = true;
        if (negative || (ec == std::errc{} && secs == 0)) {
          c.expires = std::chrono::system_clock::time_point::min();
        } else {
          c.expires = now + (ec == std::errc::result_out_of_range
                                 ? max_lifetime
                                 : std::min<std::chrono::seconds>(std::chrono::seconds(secs),
                                                                  max_lifetime));
        }
      }
    } else if (key == "expires" && !have_max_age) {
      if (auto t = parse_cookie_date(val)) {
        c.expires = *t > now + max_lifetime ? now + max_lifetime : *t;
      }
    }
  }
  if (domain_attr) {
    std::string d = lower(*domain_attr);
    if (d.front() == '.') d.erase(0, 1);
    if (d.find('.') == std::string::npos && d != from.host) return;  // a bare TLD
    if (!domain_match(from.host, d)) return;  // not for this host: ignored (RFC 6265 5.3)
    c.domain = d;
    // Any Domain attribute makes a domain cookie, the host's own name too (RFC 6265 section 5.3
    // step 6), but for a name without a dot, taken as a public suffix: set by that very host, it
    // stays host-only (step 5).
    c.host_only = d.find('.') == std::string::npos;
  }
  if (c.secure && !from.tls()) return;  // RFC 6265bis: Secure only from a secure origin
  if (has_prefix(c.name, "__Secure-") && !c.secure) return;
  if (has_prefix(c.name, "__Host-") && !(c.secure && !domain_attr && c.path == "/")) return;
  std::lock_guard<std::mutex> g(m_);
  // A plain-http response leaves Secure cookies alone (RFC 6265bis section 5.7, step 16): it may
  // not replace or delete one, nor shadow it with a cookie of its name on an overlapping domain and
  // a path within its path.
  if (!from.tls() && std::any_of(cookies_.begin(), cookies_.end(), [&](const cookie& o) {
        return o.secure && o.name == c.name &&
               (domain_match(o.domain, c.domain) || domain_match(c.domain, o.domain)) &&
               path_match(c.path, o.path);
      })) {
    return;
  }
  const bool deletion = c.expires && *c.expires <= now;
  const auto old = std::find_if(cookies_.begin(), cookies_.end(), [&](const cookie& o) {
    return o.name == c.name && o.domain == c.domain && o.path == c.path;
  });
  if (old != cookies_.end()) {
    if (deletion) {
      cookies_.erase(old);
    } else {
      // A replacement keeps the old cookie's creation time (RFC 6265 section 5.3 step 11.3),
      // and so its place in the jar's order, which header_for's ties follow.
      c.created = old->created;
      *old = std::move(c);
    }
  } else if (!deletion) {
    if (cookies_.size() >= max_cookies) {
      // Full: expired cookies go first, then the one set longest ago (RFC 6265 section 5.3,
      // with the last set standing for the last access).
      std::erase_if(cookies_, [&](const cookie& o) { return o.expires && *o.expires <= now; });
      if (cookies_.size() >= max_cookies) {
        cookies_.erase(std::min_element(
            cookies_.begin(), cookies_.end(),
            [](const cookie& a, const cookie& b) { return a.last_set < b.last_set; }));
      }
    }
    cookies_.push_back(std::move(c));
  }
  count_.store(cookies_.size(), std::memory_order_relaxed);
}

std::string cookie_jar::header_for(const url& to) {
  if (count_.load(std::memory_order_relaxed) == 0) return {};  // see count_
  const auto now = std::chrono::system_clock::now();
  const std::string_view path = std::string_view(to.target).substr(0, to.target.find('?'));
  std::vector<const cookie*> picked;
  std::lock_guard<std::mutex> g(m_);
  std::erase_if(cookies_, [&](const cookie& o) { return o.expires && *o.expires <= now; });
  count_.store(cookies_.size(), std::memory_order_relaxed);
  for (const cookie& c : cookies_) {
    if (c.secure && !to.tls()) continue;
    if (c.host_only ? c.domain != to.host : !domain_match(to.host, c.domain)) continue;
    if (!path_match(path, c.path)) continue;
    picked.push_back(&c);
  }
  // Longest path first, then oldest first (RFC 6265 5.4). picked is in jar order (oldest first), so
  // the pointers order ties; std::sort, not stable_sort: clang 19 with libstdc++ 12 flags the
  // latter's get_temporary_buffer as deprecated.
  std::sort(picked.begin(), picked.end(), [](const cookie* a, const cookie* b) {
    if (a->path.size() != b->path.size()) return a->path.size() > b->path.size();
    return a < b;
  });
  std::string out;
  for (const cookie* c : picked) {
    if (!out.empty()) out += "; ";
    out += c->name;
    out += '=';
    out += c->value;
  }
  return out;
}

std::size_t cookie_jar::size() {
  std::lock_guard<std::mutex> g(m_);
  return cookies_.size();
}

}  // namespace coreio::http::detail
