// src/http/openssl_redirect.hpp — sends OpenSSL calls through openssl_api.hpp's table.
//
// Include it after every OpenSSL header, in a .cpp only: from here on `SSL_read(s, b, n)` is
// `(openssl::api().SSL_read)(s, b, n)`, and so is what OpenSSL's macros expand to (the
// preprocessor rescans their expansion). The names are those of COREIO_OPENSSL_FUNCTIONS; a call
// to a function missing from both lists fails to link, since coreio_http does not link OpenSSL.
#pragma once

#include "http/openssl_api.hpp"

#define BIO_ctrl (::coreio::http::detail::openssl::api().BIO_ctrl)
#define BIO_ctrl_pending (::coreio::http::detail::openssl::api().BIO_ctrl_pending)
#define BIO_free (::coreio::http::detail::openssl::api().BIO_free)
#define BIO_new (::coreio::http::detail::openssl::api().BIO_new)
#define BIO_read (::coreio::http::detail::openssl::api().BIO_read)
#define BIO_s_mem (::coreio::http::detail::openssl::api().BIO_s_mem)
#define BIO_write (::coreio::http::detail::openssl::api().BIO_write)
#define ERR_clear_error (::coreio::http::detail::openssl::api().ERR_clear_error)
#define ERR_error_string_n (::coreio::http::detail::openssl::api().ERR_error_string_n)
#define ERR_get_error (::coreio::http::detail::openssl::api().ERR_get_error)
#define ERR_reason_error_string (::coreio::http::detail::openssl::api().ERR_reason_error_string)
#define SSL_CTX_check_private_key (::coreio::http::detail::openssl::api().SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (::coreio::http::detail::openssl::api().SSL_CTX_ctrl)
#define SSL_CTX_free (::coreio::http::detail::openssl::api().SSL_CTX_free)
#define SSL_CTX_load_verify_locations \
  (::coreio::http::detail::openssl::api().SSL_CTX_load_verify_locations)
#define SSL_CTX_new (::coreio::http::detail::openssl::api().SSL_CTX_new)
#define SSL_CTX_set_alpn_protos (::coreio::http::detail::openssl::api().SSL_CTX_set_alpn_protos)
#define SSL_CTX_set_alpn_select_cb \
  (::coreio::http::detail::openssl::api().SSL_CTX_set_alpn_select_cb)
#define SSL_CTX_set_default_passwd_cb \
  (::coreio::http::detail::openssl::api().SSL_CTX_set_default_passwd_cb)
#define SSL_CTX_set_default_verify_paths \
  (::coreio::http::detail::openssl::api().SSL_CTX_set_default_verify_paths)
#define SSL_CTX_set_options (::coreio::http::detail::openssl::api().SSL_CTX_set_options)
#define SSL_CTX_set_verify (::coreio::http::detail::openssl::api().SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey_file \
  (::coreio::http::detail::openssl::api().SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate_chain_file \
  (::coreio::http::detail::openssl::api().SSL_CTX_use_certificate_chain_file)
#define SSL_ctrl (::coreio::http::detail::openssl::api().SSL_ctrl)
#define SSL_do_handshake (::coreio::http::detail::openssl::api().SSL_do_handshake)
#define SSL_free (::coreio::http::detail::openssl::api().SSL_free)
#define SSL_get0_alpn_selected (::coreio::http::detail::openssl::api().SSL_get0_alpn_selected)
#define SSL_get0_param (::coreio::http::detail::openssl::api().SSL_get0_param)
#define SSL_get_error (::coreio::http::detail::openssl::api().SSL_get_error)
#define SSL_get_verify_result (::coreio::http::detail::openssl::api().SSL_get_verify_result)
#define SSL_new (::coreio::http::detail::openssl::api().SSL_new)
#define SSL_read (::coreio::http::detail::openssl::api().SSL_read)
#define SSL_select_next_proto (::coreio::http::detail::openssl::api().SSL_select_next_proto)
#define SSL_set1_host (::coreio::http::detail::openssl::api().SSL_set1_host)
#define SSL_set_accept_state (::coreio::http::detail::openssl::api().SSL_set_accept_state)
#define SSL_set_bio (::coreio::http::detail::openssl::api().SSL_set_bio)
#define SSL_set_connect_state (::coreio::http::detail::openssl::api().SSL_set_connect_state)
#define SSL_set_hostflags (::coreio::http::detail::openssl::api().SSL_set_hostflags)
#define SSL_shutdown (::coreio::http::detail::openssl::api().SSL_shutdown)
#define SSL_write (::coreio::http::detail::openssl::api().SSL_write)
#define TLS_client_method (::coreio::http::detail::openssl::api().TLS_client_method)
#define TLS_server_method (::coreio::http::detail::openssl::api().TLS_server_method)
#define X509_VERIFY_PARAM_set1_ip_asc \
  (::coreio::http::detail::openssl::api().X509_VERIFY_PARAM_set1_ip_asc)
#define X509_verify_cert_error_string \
  (::coreio::http::detail::openssl::api().X509_verify_cert_error_string)
