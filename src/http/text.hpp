// src/http/text.hpp — the small text helpers of HTTP field handling, shared by the parser, the
// decoders, the response and the cookie jar: ASCII case-insensitive comparison (field names and
// tokens are case-insensitive, RFC 9110 section 5.1), trimming of optional whitespace (OWS: SP
// and HTAB, RFC 9110 section 5.6.3) and the token character class (tchar, section 5.6.2).
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

/// c may appear in a token (RFC 9110 section 5.6.2: tchar, the visible ASCII characters but the
/// delimiters "(),/:;<=>?@[\]{}).
constexpr bool is_tchar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace coreio::http::detail
