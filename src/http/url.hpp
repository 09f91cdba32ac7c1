// src/http/url.hpp — the URLs the client accepts (http and https, RFC 3986), query parameters,
// form encoding and redirect targets.
//
// parse_url keeps what a request needs: scheme, userinfo (for basic auth), host (lowercase; an
// IPv6 literal without brackets, as inet_ntop writes it; an IPv4 address as a dotted quad, whatever
// form inet_aton reads it in), port (the scheme's default if absent) and the request target (path
// and query, "/" when empty, the path's dot segments removed as RFC 3986 section 5.2.4 says); the
// fragment is dropped. Bytes that cannot appear in a request line are refused (controls, space,
// DEL: request splitting) or percent-encoded (bytes >= 0x80); a host with a byte WHATWG's URL
// standard forbids there (a second ':', brackets around what is not an IPv6 address, < > ^ | %)
// is refused, and a non-ASCII host name goes in its IDNA ASCII form ("xn--...", libidn2).
//
// Errors: http::error naming the URL part that is wrong. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <coreio/http/options.hpp>

namespace coreio::http::detail {

struct url {
  std::string scheme;  ///< "http" or "https"
  std::string user;    ///< percent-decoded userinfo, "" when none
  std::string password;
  std::string host;  ///< lowercase; IPv6 without brackets
  std::uint16_t port = 0;
  std::string target;  ///< "/path?query", never empty

  bool tls() const noexcept { return scheme == "https"; }
  /// Credentials were given (a user, a password, or both; "http://:pw@h/" has an empty user).
  bool has_userinfo() const noexcept { return !user.empty() || !password.empty(); }
  bool default_port() const noexcept { return port == (tls() ? 443 : 80); }
  /// "host", "host:port", "[::1]:8080": the Host header's value.
  std::string authority() const;
  /// "https://host:443": the pool key and the origin for cross-origin rules.
  std::string origin() const;
  /// The URL without userinfo: "http://host:8080/path?q".
  std::string str() const;
};

/// Parses an absolute http or https URL. Throws http::error.
url parse_url(std::string_view text);

/// Appends params to the target's query, each name and value percent-encoded (space: %20).
void append_params(url& u, const fields& params);

/// RFC 3986 percent-encoding: unreserved characters stay, everything else becomes %XX.
std::string percent_encode(std::string_view s);

/// application/x-www-form-urlencoded (WHATWG): space becomes '+', unreserved characters stay.
std::string form_encode(const fields& form);

/// The URL a Location header points to, relative to base (RFC 3986 section 5); spaces are
/// percent-encoded, the fragment dropped. Throws http::error for a scheme other than http and
/// https ("mailto:...": not a URL to follow) and for what cannot be a request target.
url resolve_reference(const url& base, std::string_view location);

}  // namespace coreio::http::detail
