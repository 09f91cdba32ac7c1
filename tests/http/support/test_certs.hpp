// http/support/test_certs.hpp — a throw-away PKI for TLS tests: a CA and a server certificate for
// localhost / 127.0.0.1 / ::1, made once per test process with the `openssl` command in a temporary
// directory, which is removed at exit.
//
//   const auto& certs = coreio_http_test::test_certs::get();
//   auto server_ctx = tls_context::server(certs.cert_file, certs.key_file);
//   auto client_ctx = tls_context::client(certs.ca_file);
//
// Also usable for nginx (ssl_certificate certs.cert_file; ssl_certificate_key certs.key_file) and
// curl (--cacert certs.ca_file). other_ca_file is a second CA that signed nothing the server
// presents: a client trusting only it must fail verification ("untrusted certificate" tests).
//
// Thread safety: get() is safe from any thread (a function-local static); the files are read-only.
#pragma once

#include <string>

namespace coreio_http_test {

struct test_certs {
  std::string dir;            ///< the temporary directory holding every file below
  std::string ca_file;        ///< PEM: the CA certificate that signed cert_file
  std::string cert_file;      ///< PEM: server certificate (SAN DNS:localhost, IP:127.0.0.1, IP:::1)
  std::string key_file;       ///< PEM: its private key (unencrypted)
  std::string chain_file;     ///< PEM: cert_file followed by ca_file
  std::string other_ca_file;  ///< PEM: an unrelated CA (signed nothing here)
  std::string cn_only_file;   ///< PEM: CN=localhost without subjectAltName (key_file's key)
  std::string encrypted_key_file;  ///< PEM: key_file's key, encrypted (passphrase "secret")

  /// Made on first use; throws std::runtime_error naming the openssl step that failed.
  static const test_certs& get();
};

}  // namespace coreio_http_test
