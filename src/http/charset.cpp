// src/http/charset.cpp — charset_of and decode_text (charset.hpp).
#include "http/charset.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <initializer_list>

#include "http/text.hpp"

namespace coreio::http::detail {

namespace {

enum class charset_kind { as_is, latin1, windows1252, ascii };

charset_kind kind_of_charset(std::string_view cs) {
  auto any_of = [&](std::initializer_list<std::string_view> names) {
    for (const std::string_view n : names) {
      if (iequals(cs, n)) return true;
    }
    return false;
  };
  // The IANA names and aliases of each charset (IANA "Character Sets" registry), and the spellings
  // Python's codecs take for them (aiohttp's text() decodes with those).
  if (any_of({"iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987", "iso88591", "iso_8859_1",
              "iso-ir-100", "latin1", "latin-1", "latin", "l1", "ibm819", "cp819", "csisolatin1",
              "8859"}))
    return charset_kind::latin1;
  if (any_of({"windows-1252", "cp1252", "x-cp1252", "windows1252"})) {
    return charset_kind::windows1252;
  }
  if (any_of({"us-ascii", "ascii", "ansi_x3.4-1968", "iso-ir-6", "iso646-us", "us", "ibm367",
              "cp367", "csascii"}))
    return charset_kind::ascii;
  return charset_kind::as_is;
}

// Windows-1252's code points for 0x80-0x9F (the WHATWG Encoding Standard's index-windows-1252;
// its five undefined bytes map to the C1 controls of the same value).
constexpr std::array<std::uint16_t, 32> windows1252_high = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string decode_text(std::string bytes, std::string_view charset) {
  const charset_kind k = kind_of_charset(charset);
  if (k == charset_kind::as_is) return bytes;
  std::size_t high = 0;
  for (const char ch : bytes) high += static_cast<unsigned char>(ch) >= 0x80 ? 1 : 0;
  if (high == 0) return bytes;  // ASCII only: the same bytes in every one of these
  std::string utf8;
  utf8.reserve(bytes.size() + 2 * high);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      utf8 += ch;
    } else if (k == charset_kind::ascii) {
      append_utf8(utf8, 0xFFFD);
    } else if (k == charset_kind::windows1252 && c < 0xA0) {
      append_utf8(utf8, windows1252_high[c - 0x80]);
    } else {
      append_utf8(utf8, c);
    }
  }
  return utf8;
}

std::string charset_of(std::string_view content_type) {
  std::string_view rest = content_type;
  const std::size_t first = rest.find(';');
  if (first == std::string_view::npos) return {};
  rest.remove_prefix(first + 1);
  while (!rest.empty()) {
    const std::size_t eq = rest.find_first_of("=;");
    const std::string_view name = trim_ows(rest.substr(0, eq));
    if (eq == std::string_view::npos) return {};
    if (rest[eq] == ';') {  // a parameter without a value
      rest.remove_prefix(eq + 1);
      continue;
    }
    rest.remove_prefix(eq + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      std::size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value += rest[i];
      }
      rest.remove_prefix(std::min(i + 1, rest.size()));
      const std::size_t semi = rest.find(';');
      rest.remove_prefix(semi == std::string_view::npos ? rest.size() : semi + 1);
    } else {
      const std::size_t semi = rest.find(';');
      value = std::string(trim_ows(rest.substr(0, semi)));
      rest.remove_prefix(semi == std::string_view::npos ? rest.size() : semi + 1);
    }
    if (iequals(name, "charset")) {
      for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return value;
    }
  }
  return {};
}

}  // namespace coreio::http::detail
