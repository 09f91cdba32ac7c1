// src/http/charset.hpp — a received body's text in UTF-8, from the charset its Content-Type names
// (response::text()): the charset parameter (charset_of), then the bytes decoded (decode_text).
//
//   iso-8859-1, iso8859-1, latin1, latin-1, l1, cp819
//            ISO-8859-1: each byte is the code point of the same value (Python's latin-1 codec,
//            which aiohttp's text() uses).
//   windows-1252, cp1252, x-cp1252
//            Windows-1252: as ISO-8859-1 except 0x80-0x9F, which are the 27 characters Windows
//            puts there (0x80 the euro sign, 0x93/0x94 the curly double quotes, ...); the five it
//            leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) are the C1 controls of the same value,
//            as the WHATWG Encoding Standard's windows-1252 index has them.
//   us-ascii, ascii
//            bytes under 0x80 as they are; any other byte is not ASCII and becomes U+FFFD (the
//            replacement character), so that the result is valid UTF-8.
//   anything else (utf-8 included) or none: the bytes as they are.
//
// The name is matched ASCII case-insensitively. Thread safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace coreio::http::detail {

/// `bytes` as UTF-8 from `charset` (see above); `bytes` itself when nothing is to convert.
std::string decode_text(std::string bytes, std::string_view charset);

/// A Content-Type value's charset parameter, lowercase; "" if none. The parameters after the
/// media type (RFC 9110 section 5.6.6: `;` name `=` token or quoted-string, backslash escapes),
/// whitespace around `=` tolerated as aiohttp's parser does; a name is matched whole, in any case
/// (`xcharset` is not `charset`).
std::string charset_of(std::string_view content_type);

}  // namespace coreio::http::detail
