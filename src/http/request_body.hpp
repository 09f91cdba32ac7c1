// src/http/request_body.hpp — building a request's body and its head: form and multipart
// encodings, basic auth, header merging and validation (no CR, LF or NUL in a value, token
// characters in a name: a header cannot smuggle a second request).
//
// Errors: http::error naming the bad header or the conflicting body options.
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include <coreio/http/options.hpp>

namespace coreio::http::detail {

/// A body ready to send: the bytes and the Content-Type it implies ("" = none implied).
struct prepared_body {
  std::string bytes;
  std::string content_type;
  bool present = false;  ///< some body option was given (even an empty one)
};

/// The body of request_options (body, form, multipart or json; at most one, else http::error).
prepared_body prepare_body(const request_options& o);

/// "Basic base64(login:password)".
std::string basic_auth_value(const basic_auth& a);

/// Throws http::error unless name is a token and value has no CR, LF or NUL.
void check_field(std::string_view name, std::string_view value);

/// Case-insensitive equality of header names.
bool same_name(std::string_view a, std::string_view b) noexcept;

}  // namespace coreio::http::detail
