// src/http/request_body.cpp — request bodies and header checks (request_body.hpp).
#include "http/request_body.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <random>

#include <coreio/http/errors.hpp>

#include "http/text.hpp"
#include "http/url.hpp"

namespace coreio::http::detail {

namespace {

std::string base64(std::string_view in) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool token_char(unsigned char c) noexcept {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

/// A multipart parameter value: quotes and line breaks escaped as the HTML standard does.
std::string quote_param(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '"') out += "%22";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else out += c;
  }
  return out;
}

std::string make_boundary() {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Relaxed: only uniqueness matters.
  const std::uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  char buf[64];
  const int len =
      std::snprintf(buf, sizeof buf, "coreio-%016llx%08llx", static_cast<unsigned long long>(rng()),
                    static_cast<unsigned long long>(n & 0xffffffffu));
  return std::string(buf, static_cast<std::size_t>(len));
}

}  // namespace

bool same_name(std::string_view a, std::string_view b) noexcept { return iequals(a, b); }

void check_field(std::string_view name, std::string_view value) {
  if (name.empty()) throw error("http: an empty header name");
  for (char c : name)
    if (!token_char(static_cast<unsigned char>(c)))
      throw error("http: invalid character in the header name '" + std::string(name) + "'");
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      throw error("http: CR, LF or NUL in the value of header '" + std::string(name) + "'");
}

std::string basic_auth_value(const basic_auth& a) {
  return "Basic " + base64(a.login + ":" + a.password);
}

prepared_body prepare_body(const request_options& o) {
  const int kinds = (!o.body.empty() ? 1 : 0) + (!o.form.empty() ? 1 : 0) +
                    (!o.multipart.empty() ? 1 : 0) + (o.json ? 1 : 0) + (o.upload ? 1 : 0);
  if (kinds > 1) throw error("http: give at most one of body, form, multipart, json and upload");
  prepared_body b;
  if (!o.body.empty() || o.upload) {
    // Bytes of no declared type (RFC 9110 section 8.3: what a recipient would assume), as aiohttp
    // sends its bytes and stream payloads; the caller's own Content-Type wins.
    b.content_type = "application/octet-stream";
    b.bytes = o.body;
    b.present = !o.body.empty();
  } else if (!o.form.empty()) {
    b.bytes = form_encode(o.form);
    b.content_type = "application/x-www-form-urlencoded";
    b.present = true;
  } else if (o.json) {
    b.bytes = *o.json;
    b.content_type = "application/json";
    b.present = true;
  } else if (!o.multipart.empty()) {
    const std::string boundary = make_boundary();
    for (const multipart_field& f : o.multipart) {
      b.bytes += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" +
                 quote_param(f.name) + "\"";
      if (!f.filename.empty()) b.bytes += "; filename=\"" + quote_param(f.filename) + "\"";
      b.bytes += "\r\n";
      std::string type = f.content_type;
      if (type.empty() && !f.filename.empty()) type = "application/octet-stream";
      if (!type.empty()) {
        check_field("Content-Type", type);
        b.bytes += "Content-Type: " + type + "\r\n";
      }
      b.bytes += "\r\n";
      b.bytes += f.value;
      b.bytes += "\r\n";
    }
    b.bytes += "--" + boundary + "--\r\n";
    b.content_type = "multipart/form-data; boundary=" + boundary;
    b.present = true;
  }
  return b;
}

}  // namespace coreio::http::detail
