// src/http/openssl_api.hpp — OpenSSL's functions, loaded when TLS is first used.
//
// Why: linking libssl and libcrypto maps and relocates them at start-up, about 1.8 MB of resident
// memory on Debian 12 (a program that only links them: 3.0 MB against 1.2 MB), in every program
// that links coreio::http, TLS or not. So coreio_http does not link them: the first tls_context
// (tls.cpp) dlopen()s the libssl of the headers it was compiled against (libssl.so.<major>, which
// brings libcrypto), and looks each function up once. A plain-HTTP client or server never loads
// OpenSSL.
//
// Use: api() returns the table; tls.cpp includes openssl_redirect.hpp after OpenSSL's headers, so
// its calls, and the calls OpenSSL's macros expand to, go through the table unchanged in form.
// Errors: api() throws tls_error ("tls: cannot load libssl.so.3 (...)") when the library or a
// function is missing; every call after a successful load is a plain indirect call.
// Thread safety: api() from any thread (loaded once, under a function-local static's guard).
#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

// X(name) for every OpenSSL function tls.cpp calls, directly or through OpenSSL's macros
// (SSL_CTX_set_min_proto_version and SSL_CTX_set_mode are SSL_CTX_ctrl, SSL_set_tlsext_host_name
// is SSL_ctrl, BIO_set_mem_eof_return is BIO_ctrl). openssl_redirect.hpp lists the same names.
#define COREIO_OPENSSL_FUNCTIONS(X)     \
  X(BIO_ctrl)                           \
  X(BIO_ctrl_pending)                   \
  X(BIO_free)                           \
  X(BIO_new)                            \
  X(BIO_read)                           \
  X(BIO_s_mem)                          \
  X(BIO_write)                          \
  X(ERR_clear_error)                    \
  X(ERR_error_string_n)                 \
  X(ERR_get_error)                      \
  X(ERR_reason_error_string)            \
  X(SSL_CTX_check_private_key)          \
  X(SSL_CTX_ctrl)                       \
  X(SSL_CTX_free)                       \
  X(SSL_CTX_load_verify_locations)      \
  X(SSL_CTX_new)                        \
  X(SSL_CTX_set_alpn_protos)            \
  X(SSL_CTX_set_alpn_select_cb)         \
  X(SSL_CTX_set_default_passwd_cb)      \
  X(SSL_CTX_set_default_verify_paths)   \
  X(SSL_CTX_set_options)                \
  X(SSL_CTX_set_verify)                 \
  X(SSL_CTX_use_PrivateKey_file)        \
  X(SSL_CTX_use_certificate_chain_file) \
  X(SSL_ctrl)                           \
  X(SSL_do_handshake)                   \
  X(SSL_free)                           \
  X(SSL_get0_alpn_selected)             \
  X(SSL_get0_param)                     \
  X(SSL_get_error)                      \
  X(SSL_get_verify_result)              \
  X(SSL_new)                            \
  X(SSL_read)                           \
  X(SSL_select_next_proto)              \
  X(SSL_set1_host)                      \
  X(SSL_set_accept_state)               \
  X(SSL_set_bio)                        \
  X(SSL_set_connect_state)              \
  X(SSL_set_hostflags)                  \
  X(SSL_shutdown)                       \
  X(SSL_write)                          \
  X(TLS_client_method)                  \
  X(TLS_server_method)                  \
  X(X509_VERIFY_PARAM_set1_ip_asc)      \
  X(X509_verify_cert_error_string)

namespace coreio::http::detail::openssl {

/// One pointer per function, typed as OpenSSL's header declares it.
struct functions {
#define COREIO_OPENSSL_POINTER(name) decltype(&::name) name = nullptr;
  COREIO_OPENSSL_FUNCTIONS(COREIO_OPENSSL_POINTER)
#undef COREIO_OPENSSL_POINTER
};

/// The table, loaded on the first call; throws tls_error if OpenSSL cannot be loaded.
const functions& api();

}  // namespace coreio::http::detail::openssl
