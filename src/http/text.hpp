// src/http/text.hpp — the small text helpers of HTTP field handling, shared by the parser, the
// decoders, the response and the cookie jar: ASCII case-insensitive comparison (field names and
// tokens are case-insensitive, RFC 9110 section 5.1), trimming of optional whitespace (OWS: SP
// and HTAB, RFC 9110 section 5.6.3), the token character class (tchar, section 5.6.2) and the
// items of a comma-separated list (section 5.6.1).
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace coreio::http::detail {

/// c with A-Z folded to a-z; every other byte as is (no locale: std::tolower is a libc call per
/// byte and may fold more than ASCII).
constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// a == b ignoring ASCII case.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

/// s without leading and trailing SP / HTAB.
inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Calls f(item) for each item of a comma-separated list (RFC 9110 section 5.6.1: `#rule`), each
/// without its surrounding OWS, empty items included; stops at the first call that returns true.
/// Returns whether one did.
template <class F>
bool any_list_item(std::string_view list, F&& f) {
  for (;;) {
    const std::size_t comma = list.find(',');
    if (f(trim_ows(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

/// Whether the comma-separated `list` has `token` as one of its items, ASCII case-insensitive.
inline bool list_has(std::string_view list, std::string_view token) {
  return any_list_item(list, [token](std::string_view item) { return iequals(item, token); });
}

/// c may appear in a token (RFC 9110 section 5.6.2: tchar, the visible ASCII characters but the
/// delimiters "(),/:;<=>?@[\]{}).
constexpr bool is_tchar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace coreio::http::detail
