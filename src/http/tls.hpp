// src/http/tls.hpp — TLS over a coreio::net::stream through OpenSSL memory BIOs.
//
// Protocol: a tls_context holds the configuration (one per client or server, shared by its
// connections); a tls_stream wraps a connected net::stream, runs the handshake, then reads and
// writes application data. Reads and writes move ciphertext between the BIOs and the socket with
// the stream's own read_some/write_all, so cancellation and timeouts work as on a plain stream.
//
// Client side: SNI set from the host name, hostname verification (X509_VERIFY_PARAM_set1_host, or
// the IP address for an IP literal), the system store (SSL_CTX_set_default_verify_paths) plus an
// optional extra CA file, TLS 1.2 minimum, ALPN offered ("http/1.1"; "h2" later).
// Server side: certificate chain and key files.
//
// Errors: handshake or record failures throw tls_error (an http::error) naming OpenSSL's reason
// (e.g. "tls: certificate verify failed: hostname mismatch"); socket errors pass through as
// std::system_error; a close without close_notify after some data is reported as end of stream.
// Thread safety: tls_context is safe to share (immutable after construction); tls_stream: one
// reader and one writer task at a time, as net::stream.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <coreio/http/errors.hpp>
#include <coreio/net/stream.hpp>
#include <coreio/task.hpp>

namespace coreio::http::detail {

using tls_error = coreio::http::tls_error;

class tls_context {
 public:
  /// Client: verify the peer against the system store and, if non-empty, the PEM file ca_file.
  static std::shared_ptr<tls_context> client(std::string_view ca_file = {}, bool verify = true);
  /// Server: PEM certificate chain and private key.
  static std::shared_ptr<tls_context> server(std::string_view cert_file, std::string_view key_file);
  ~tls_context();
  struct impl;
  impl& get() noexcept { return *impl_; }

 private:
  explicit tls_context(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

class tls_stream {
 public:
  tls_stream(std::shared_ptr<tls_context> ctx, net::stream s);
  ~tls_stream();
  tls_stream(tls_stream&&) noexcept;
  tls_stream& operator=(tls_stream&&) noexcept;

  /// Client handshake; host is the name for SNI and verification (an IP literal: no SNI, IP check).
  task<void> handshake(std::string host);
  /// Server handshake.
  task<void> accept();
  /// Reads at least one byte of plaintext; 0 at end of stream.
  task<std::size_t> read_some(std::span<std::byte> buf);
  /// Writes all of data (the bytes stay valid until the co_await returns).
  task<void> write_all(std::span<const std::byte> data);
  /// Sends close_notify (best effort) and shuts down the write side.
  task<void> shutdown();
  void close() noexcept;
  bool is_open() const noexcept;
  /// The ALPN protocol the peer chose ("" if none).
  std::string_view alpn() const noexcept;
  net::stream& lowest_layer() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace coreio::http::detail
