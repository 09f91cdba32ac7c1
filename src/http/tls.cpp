// src/http/tls.cpp — TLS over net::stream with OpenSSL memory BIOs (see tls.hpp).
//
// Each tls_stream owns an SSL object whose read BIO (rbio) and write BIO (wbio) are memory BIOs:
// OpenSSL never touches the socket. Ciphertext from the socket goes into rbio (BIO_write); what
// OpenSSL produces (handshake messages, records, alerts, close_notify) is taken from wbio
// (BIO_read) and written to the socket with net::stream::write_all.
//
// Who touches what. A reader task and a writer task may run at once, on different workers
// (net::stream's contract). So:
//   * every SSL_* and BIO_* call is made under ssl_mu (a std::mutex, never held across a
//     co_await): OpenSSL's SSL object is not thread-safe;
//   * writing ciphertext to the socket (flush) is serialised by write_mu (coreio::mutex, held
//     across the write): drains of wbio happen in order and each is written whole before the next,
//     so records reach the socket in the order OpenSSL made them, whichever task flushes (a read
//     may have to flush too: TLS 1.2 alerts, TLS 1.3 key updates);
//   * only a read (or the handshake) reads the socket; bytes read go into rbio before the next
//     SSL_read.
//
// Steps of a read_some: SSL_read; flush what it produced; data → return it; WANT_READ → read the
// socket, feed rbio, again. End of stream: close_notify (SSL_ERROR_ZERO_RETURN), or the socket
// ending without one (reported as end of stream too, as the header says). Renegotiation is off.
//
// Errors: OpenSSL's error queue is read right after the failing call, under ssl_mu, into the
// tls_error's text ("tls: certificate verify failed: hostname mismatch (handshake with 'x')").
#include "http/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http/openssl_redirect.hpp"  // after OpenSSL's headers: calls go through the loaded table

#include <coreio/sync/mutex.hpp>

#include <algorithm>
#include <climits>
#include <mutex>
#include <system_error>
#include <vector>

namespace coreio::http::detail {

namespace {

constexpr std::size_t cipher_buffer = 17 * 1024;  // one TLS record and some

// OpenSSL's passphrase callback for a key file: no passphrase (0 bytes), and a note that one was
// asked for, so the load's failure can say the key is encrypted. Per thread: a context is made on
// the thread that loads its key.
thread_local bool passphrase_asked = false;
int no_passphrase(char*, int, int, void*) {
  passphrase_asked = true;
  return 0;
}
constexpr unsigned char alpn_offer[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// The reasons in OpenSSL's error queue (emptied), most specific last, joined by "; ".
std::string drain_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    std::string text;
    if (r != nullptr) {
      text = r;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      text = buf;
    }
    if (out.find(text) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out;
}

std::string strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Server: picks http/1.1 when the client offers it; no ALPN otherwise.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  unsigned char chosen_len = 0;
  if (SSL_select_next_proto(&chosen, &chosen_len, alpn_offer, sizeof alpn_offer, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    *outlen = chosen_len;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

// ---- tls_context --------------------------------------------------------------------------------

struct tls_context::impl {
  SSL_CTX* ctx = nullptr;
  bool server = false;
  bool verify = true;
  ~impl() { SSL_CTX_free(ctx); }
};

tls_context::tls_context(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
tls_context::~tls_context() = default;

namespace {

std::unique_ptr<tls_context::impl> new_ctx(bool server) {
  auto i = std::make_unique<tls_context::impl>();
  ERR_clear_error();
  i->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (i->ctx == nullptr) throw tls_error("tls: SSL_CTX_new failed: " + drain_errors());
  i->server = server;
  SSL_CTX_set_min_proto_version(i->ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(i->ctx, SSL_OP_NO_RENEGOTIATION);
  // SSL_write never returns a partial count with memory BIOs; this keeps a moved buffer legal.
  SSL_CTX_set_mode(i->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return i;
}

}  // namespace

std::shared_ptr<tls_context> tls_context::client(std::string_view ca_file, bool verify) {
  auto i = new_ctx(false);
  i->verify = verify;
  if (verify) {
    SSL_CTX_set_verify(i->ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(i->ctx) != 1) {
      throw tls_error("tls: cannot load the system trust store: " + drain_errors());
    }
    if (!ca_file.empty()) {
      const std::string path(ca_file);
      if (SSL_CTX_load_verify_locations(i->ctx, path.c_str(), nullptr) != 1) {
        throw tls_error("tls: cannot load the CA file '" + path + "': " + drain_errors());
      }
    }
  } else {
    SSL_CTX_set_verify(i->ctx, SSL_VERIFY_NONE, nullptr);
  }
  // Returns 0 on success (unlike the rest of OpenSSL).
  if (SSL_CTX_set_alpn_protos(i->ctx, alpn_offer, sizeof alpn_offer) != 0) {
    throw tls_error("tls: cannot set ALPN: " + drain_errors());
  }
  return std::shared_ptr<tls_context>(new tls_context(std::move(i)));
}

std::shared_ptr<tls_context> tls_context::server(std::string_view cert_file,
                                                 std::string_view key_file) {
  auto i = new_ctx(true);
  const std::string cert(cert_file);
  const std::string key(key_file);
  if (SSL_CTX_use_certificate_chain_file(i->ctx, cert.c_str()) != 1) {
    throw tls_error("tls: cannot load the certificate chain '" + cert + "': " + drain_errors());
  }
  // An encrypted key would make OpenSSL prompt for its passphrase on the terminal, blocking the
  // thread: no passphrase is given instead, and the load fails with that said.
  passphrase_asked = false;
  SSL_CTX_set_default_passwd_cb(i->ctx, no_passphrase);
  if (SSL_CTX_use_PrivateKey_file(i->ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (passphrase_asked) {
      drain_errors();
      throw tls_error("tls: the private key '" + key +
                      "' is encrypted (keys with a passphrase are not supported)");
    }
    throw tls_error("tls: cannot load the private key '" + key + "': " + drain_errors());
  }
  if (SSL_CTX_check_private_key(i->ctx) != 1) {
    throw tls_error("tls: the private key '" + key + "' does not match the certificate '" + cert +
                    "': " + drain_errors());
  }
  SSL_CTX_set_alpn_select_cb(i->ctx, select_alpn, nullptr);
  return std::shared_ptr<tls_context>(new tls_context(std::move(i)));
}

// ---- tls_stream ---------------------------------------------------------------------------------

struct tls_stream::impl {
  impl(std::shared_ptr<tls_context> c, net::stream st) : ctx(std::move(c)), s(std::move(st)) {
    ERR_clear_error();
    ssl = SSL_new(ctx->get().ctx);
    if (ssl == nullptr) throw tls_error("tls: SSL_new failed: " + drain_errors());
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    if (rbio == nullptr || wbio == nullptr) {
      BIO_free(rbio);
      BIO_free(wbio);
      SSL_free(ssl);
      throw tls_error("tls: BIO_new failed");
    }
    // An empty rbio means "want read", not end of file.
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(ssl, rbio, wbio);  // the SSL owns both from here
  }
  ~impl() { SSL_free(ssl); }

  // The text of a failed call: OpenSSL's queue, plus the verification result when that failed.
  std::string failure_text(int ssl_error) {
    std::string reasons = drain_errors();
    const long verify = SSL_get_verify_result(ssl);
    std::string text;
    if (verify != X509_V_OK && ctx->get().verify && !ctx->get().server && !handshaken) {
      text = "certificate verify failed: ";
      text += X509_verify_cert_error_string(verify);
    } else if (!reasons.empty()) {
      text = reasons;
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
      text = "unexpected end of the TLS stream";
    } else {
      text = "SSL error " + std::to_string(ssl_error);
    }
    return text;
  }

  // Writes out everything OpenSSL has produced, in order (see the file comment).
  task<void> flush() {
    auto lock = co_await write_mu.lock();
    std::vector<std::byte>& out = wbuf;  // guarded by write_mu; its capacity is kept
    out.clear();
    for (;;) {
      {
        std::lock_guard g(ssl_mu);
        const std::size_t pending = BIO_ctrl_pending(wbio);
        if (pending > 0) {
          out.resize(pending);
          const int n = BIO_read(wbio, out.data(), static_cast<int>(pending));
          out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        }
      }
      if (out.empty()) co_return;
      co_await s.write_all(std::span<const std::byte>(out.data(), out.size()));
      out.clear();
    }
  }

  // flush(), but a socket error is dropped: used where a TLS error is about to be reported, which
  // says more than the peer's reset does.
  task<void> flush_quietly() {
    try {
      co_await flush();
    } catch (const std::system_error&) {
    }
  }

  // Reads ciphertext from the socket into rbio; false at end of stream.
  task<bool> fill() {
    // Not zero-filled: only the pages the socket writes into become resident.
    if (!rbuf) rbuf.reset(new std::byte[cipher_buffer]);
    const std::size_t n = co_await s.read_some(std::span<std::byte>(rbuf.get(), cipher_buffer));
    if (n == 0) {
      eof = true;
      co_return false;
    }
    std::lock_guard g(ssl_mu);
    BIO_write(rbio, rbuf.get(), static_cast<int>(n));
    co_return true;
  }

  task<void> run_handshake() {
    for (;;) {
      int rc = 0;
      int err = 0;
      std::string text;
      {
        std::lock_guard g(ssl_mu);
        ERR_clear_error();
        rc = SSL_do_handshake(ssl);
        if (rc != 1) {
          err = SSL_get_error(ssl, rc);
          if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) text = failure_text(err);
        }
      }
      if (!text.empty()) {
        co_await flush_quietly();  // the alert tells the peer why
        throw tls_error("tls: " + text + " (" + who + ")");
      }
      co_await flush();
      if (rc == 1) break;
      if (err == SSL_ERROR_WANT_READ) {
        if (!co_await fill()) {
          throw tls_error("tls: connection closed by the peer during the handshake (" + who + ")");
        }
      }
    }
    std::lock_guard g(ssl_mu);
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    alpn.assign(reinterpret_cast<const char*>(proto), proto == nullptr ? 0 : len);
    handshaken = true;
  }

  std::shared_ptr<tls_context> ctx;
  net::stream s;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;                // owned by ssl
  BIO* wbio = nullptr;                // owned by ssl
  std::mutex ssl_mu;                  // guards every SSL_* and BIO_* call
  coreio::mutex write_mu;             // serialises flushes to the socket
  std::unique_ptr<std::byte[]> rbuf;  // ciphertext read from the socket (cipher_buffer bytes)
  std::vector<std::byte> wbuf;        // ciphertext being written (flush, under write_mu)
  std::string alpn;
  std::string who;  // for messages: "handshake with 'host'" or "accepting"
  bool eof = false;
  bool handshaken = false;
};

tls_stream::tls_stream(std::shared_ptr<tls_context> ctx, net::stream s)
    : impl_(std::make_unique<impl>(std::move(ctx), std::move(s))) {}
tls_stream::~tls_stream() = default;
tls_stream::tls_stream(tls_stream&&) noexcept = default;
tls_stream& tls_stream::operator=(tls_stream&&) noexcept = default;

task<void> tls_stream::handshake(std::string host) {
  auto& i = *impl_;
  if (i.ctx->get().server) throw tls_error("tls: handshake() on a server context (use accept())");
  std::string name = strip_brackets(host);
  // A fully qualified name's trailing dot is not part of the name a certificate or SNI carries
  // (RFC 6066 section 3); DNS had it.
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  i.who = "handshake with '" + name + "'";
  // OpenSSL reads a leading dot as "any subdomain" and compares a '*' literally: a host that is
  // neither cannot be checked against a certificate (nor is it a name DNS has).
  if (!is_ip_literal(name) && (name.starts_with('.') || name.find("..") != std::string::npos ||
                               name.find('*') != std::string::npos)) {
    throw tls_error("tls: the host name '" + name + "' cannot be checked against a certificate");
  }
  {
    std::lock_guard g(i.ssl_mu);
    ERR_clear_error();
    SSL_set_connect_state(i.ssl);
    if (is_ip_literal(name)) {
      // No SNI for an address (RFC 6066 section 3); verify the certificate's IP SAN.
      if (i.ctx->get().verify &&
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(i.ssl), name.c_str()) != 1) {
        throw tls_error("tls: cannot verify the address '" + name + "': " + drain_errors());
      }
    } else if (!name.empty()) {
      if (SSL_set_tlsext_host_name(i.ssl, name.c_str()) != 1) {
        throw tls_error("tls: cannot set SNI '" + name + "': " + drain_errors());
      }
      if (i.ctx->get().verify) {
        // Subject alternative names only: a certificate's CN is never the host's name (RFC 9110
        // section 4.3.4: a client MUST NOT use a CN-ID), as urllib3 2, Go and browsers.
        SSL_set_hostflags(
            i.ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
        if (SSL_set1_host(i.ssl, name.c_str()) != 1) {
          throw tls_error("tls: cannot verify the host '" + name + "': " + drain_errors());
        }
      }
    }
  }
  co_await i.run_handshake();
}

task<void> tls_stream::accept() {
  auto& i = *impl_;
  if (!i.ctx->get().server) throw tls_error("tls: accept() on a client context (use handshake())");
  i.who = "accepting a client";
  {
    std::lock_guard g(i.ssl_mu);
    SSL_set_accept_state(i.ssl);
  }
  co_await i.run_handshake();
}

task<std::size_t> tls_stream::read_some(std::span<std::byte> buf) {
  auto& i = *impl_;
  if (buf.empty()) co_return 0;
  if (!i.handshaken) throw tls_error("tls: read before the handshake");
  const int want = static_cast<int>(std::min<std::size_t>(buf.size(), INT_MAX));
  for (;;) {
    int n = 0;
    int err = 0;
    bool produced = false;
    std::string text;
    {
      std::lock_guard g(i.ssl_mu);
      ERR_clear_error();
      n = SSL_read(i.ssl, buf.data(), want);
      if (n <= 0) {
        err = SSL_get_error(i.ssl, n);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE &&
            err != SSL_ERROR_ZERO_RETURN) {
          text = i.failure_text(err);
        }
      }
      produced = BIO_ctrl_pending(i.wbio) > 0;
    }
    if (!text.empty()) {
      co_await i.flush_quietly();
      throw tls_error("tls: " + text + " (reading)");
    }
    if (produced) co_await i.flush();
    if (n > 0) co_return static_cast<std::size_t>(n);
    if (err == SSL_ERROR_ZERO_RETURN) co_return 0;  // close_notify
    if (err == SSL_ERROR_WANT_READ) {
      // The socket ended without close_notify: end of stream (tls.hpp).
      if (i.eof || !co_await i.fill()) co_return 0;
    }
  }
}

task<void> tls_stream::write_all(std::span<const std::byte> data) {
  auto& i = *impl_;
  if (!i.handshaken) throw tls_error("tls: write before the handshake");
  while (!data.empty()) {
    // A few records at a time, so that wbio stays small.
    const std::size_t chunk = std::min<std::size_t>(data.size(), 64 * 1024);
    int n = 0;
    std::string text;
    {
      std::lock_guard g(i.ssl_mu);
      ERR_clear_error();
      n = SSL_write(i.ssl, data.data(), static_cast<int>(chunk));
      if (n <= 0) text = i.failure_text(SSL_get_error(i.ssl, n));
    }
    if (!text.empty()) {
      co_await i.flush_quietly();
      throw tls_error("tls: " + text + " (writing)");
    }
    data = data.subspan(static_cast<std::size_t>(n));
    co_await i.flush();
  }
}

task<void> tls_stream::shutdown() {
  auto& i = *impl_;
  if (i.handshaken) {
    {
      std::lock_guard g(i.ssl_mu);
      ERR_clear_error();
      SSL_shutdown(i.ssl);  // queues close_notify in wbio
      ERR_clear_error();
    }
    co_await i.flush_quietly();
  }
  try {
    i.s.shutdown_write();
  } catch (const std::system_error&) {
  }
}

void tls_stream::close() noexcept {
  if (impl_) impl_->s.close();
}

bool tls_stream::is_open() const noexcept { return impl_ && impl_->s.is_open(); }

std::string_view tls_stream::alpn() const noexcept {
  return impl_ ? std::string_view(impl_->alpn) : std::string_view();
}

net::stream& tls_stream::lowest_layer() noexcept { return impl_->s; }

}  // namespace coreio::http::detail
