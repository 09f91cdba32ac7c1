// src/http/cookie_jar.hpp — a client's cookies (RFC 6265, the simple parts): Set-Cookie parsed
// into name, value, domain (host-only or a domain and its subdomains), path, expiry (Expires or
// Max-Age; none = a session cookie) and Secure; a request gets the cookies whose domain, path and
// scheme match and that have not expired, longest path first.
//
// From RFC 6265bis: Secure cookies are set only over https and left alone by plain-http
// responses; the __Secure- and __Host- name prefixes are enforced; a line with a control byte is
// ignored.
//
// Not done: the public suffix list (a Domain attribute naming a bare TLD is refused only when it
// has no dot), SameSite, HttpOnly's effect (there are no scripts), size or count caps beyond 4096
// bytes of name and value, 1024 bytes per attribute value and 3000 cookies per jar.
//
// Thread safety: shared objects: safe (one mutex; requests on any worker use one jar).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/url.hpp"

namespace coreio::http::detail {

class cookie_jar {
 public:
  /// Stores the cookie of one Set-Cookie value received from `from`; an invalid one is ignored.
  void store(const url& from, std::string_view set_cookie);
  /// The Cookie header value for a request to `to`, "" if no cookie matches.
  std::string header_for(const url& to);
  std::size_t size();

 private:
  struct cookie {
    std::string name, value, domain, path;
    bool host_only = true;
    bool secure = false;
    std::optional<std::chrono::system_clock::time_point> expires;
    std::chrono::system_clock::time_point created;
    std::chrono::system_clock::time_point last_set;  // the jar's eviction order
  };
  // Guards cookies_.
  std::mutex m_;
  std::vector<cookie> cookies_;
  // cookies_.size(), stored under m_ after each change; header_for reads it without m_ to skip the
  // lock when the jar is empty (most clients never get a cookie). Relaxed store and load: a
  // request that happens after a store (its response was handled first) reads that value or a
  // later one by read-after-write coherence, and one racing with it may miss the new cookie, as it
  // would had it taken the lock first; nothing else is read through it.
  std::atomic<std::size_t> count_{0};
};

}  // namespace coreio::http::detail
