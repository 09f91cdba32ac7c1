// coreio/http/errors.hpp — the exceptions of coreio::http (aiohttp's ClientError family, flattened).
//
//   http::error         malformed input from the peer, a limit breached, a protocol violation; the
//                       message names the part (e.g. "http: header block over 65536 bytes",
//                       "http: Content-Length and Transfer-Encoding together").
//   http::limit_error   an http::error for a size or count limit; limit() names it and max() gives
//                       its value, so a server maps it to 413/414/431 and a client reports it.
//   http::status_error  raise_for_status() on a 4xx/5xx response; status() is the code.
//   http::tls_error     TLS failed: a certificate refused (its reason, as OpenSSL's verifier gives
//                       it: "tls: certificate verify failed: certificate has expired (handshake
//                       with 'h')", "...: hostname mismatch ..."), a handshake or record error, a
//                       CA, certificate or key file that cannot be loaded, or libssl.so.3 missing
//                       (aiohttp's ClientSSLError and ClientConnectorCertificateError, as one).
//
// Timeouts are coreio::timeout_error (errors.hpp) whose message names the phase that ran out.
// Thread safety: exception objects; immutable after construction.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace coreio::http {

/// Base of every coreio::http failure that is not a timeout, a cancellation or a socket error.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Which limit a limit_error breached (RFC 9112 section 2.3 and 5; the server's status for each).
enum class limit_kind {
  request_line,  ///< request line too long (server: 414)
  status_line,   ///< status line too long
  header_field,  ///< one header line too long (server: 431)
  header_block,  ///< the whole head too long (server: 431)
  header_count,  ///< too many header fields (server: 431)
  body,          ///< body over max_body (server: 413)
  decoded_body,  ///< decoded (decompressed) body over its cap (client_options::max_decoded_body)
  /// a chunk extension, or a chunk size's leading zeros, too long; or a chunked body's sizes and
  /// extensions over its data by more than 16 KiB (server: 400)
  chunk_extension,
  /// decoded body bytes per encoded byte over client_options::max_decompression_ratio (max() is
  /// that ratio)
  decompression_ratio
};

/// An http::error for a breached limit: limit() says which, max() its value: bytes, a count
/// (header_count) or a ratio (decompression_ratio).
class limit_error : public error {
 public:
  limit_error(limit_kind which, std::size_t max, const std::string& what)
      : error(what), which_(which), max_(max) {}
  limit_kind limit() const noexcept { return which_; }
  std::size_t max() const noexcept { return max_; }

 private:
  limit_kind which_;
  std::size_t max_;
};

/// A TLS failure (see the file comment); what() starts with "tls: ".
class tls_error : public error {
 public:
  using error::error;
};

/// Thrown by response::raise_for_status() for a status of 400 or more.
class status_error : public error {
 public:
  status_error(int status, const std::string& reason)
      : error("http: status " + std::to_string(status) + (reason.empty() ? "" : " " + reason)),
        status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

}  // namespace coreio::http
