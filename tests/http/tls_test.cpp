// http/tls_test.cpp — src/http/tls.hpp: a tls_stream client and server over loopback TCP, with
// the throw-away PKI of support/test_certs.hpp.
//
// Each test runs a server task (accept, TLS accept, then a scripted behaviour) and a client in one
// runtime of two workers. Coroutines are free functions taking what they touch by value or
// pointer (tests/support/test_support.hpp). Nothing waits on time: every step waits on the peer's
// bytes or end of stream.
//
// g++ 12 miscompiles temporaries with destructors built inside a co_await expression: a task that
// takes a std::string or a shared_ptr by value is made in its own statement, then awaited.
#include "http/tls.hpp"

#include <gtest/gtest.h>

#include <coreio/coreio.hpp>
#include <coreio/http/errors.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "support/test_certs.hpp"
#include "support/test_support.hpp"

namespace {

using coreio::http::detail::tls_context;
using coreio::http::detail::tls_error;
using coreio::http::detail::tls_stream;
using coreio::net::tcp_listener;
using coreio::net::tcp_stream;
using coreio_http_test::test_certs;

coreio::runtime_options two_workers() {
  coreio::runtime_options o;
  o.workers = 2;
  return o;
}

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Reads until end of stream.
coreio::task<std::string> read_to_eof(tls_stream* t) {
  std::string out;
  std::vector<std::byte> buf(8192);
  for (;;) {
    const std::size_t n = co_await t->read_some(std::span<std::byte>(buf));
    if (n == 0) co_return out;
    out.append(reinterpret_cast<const char*>(buf.data()), n);
  }
}

// Reads exactly n bytes (fails the test at an early end).
coreio::task<std::string> read_n(tls_stream* t, std::size_t n) {
  std::string out;
  std::vector<std::byte> buf(8192);
  while (out.size() < n) {
    const std::size_t want = std::min(buf.size(), n - out.size());
    const std::size_t got = co_await t->read_some(std::span<std::byte>(buf.data(), want));
    if (got == 0) break;
    out.append(reinterpret_cast<const char*>(buf.data()), got);
  }
  co_return out;
}

coreio::task<void> write_str(tls_stream* t, std::string data) {
  co_await t->write_all(bytes(data));
}

// ---- servers ------------------------------------------------------------------------------------

enum class behaviour {
  echo,                    // echo until end of stream, then close_notify and close
  send_then_close_notify,  // send `payload`, close_notify, close
  send_then_drop,          // send `payload`, close the socket without close_notify
  drop_in_handshake,       // read the ClientHello, then close the TCP connection
  plain_http,              // answer in plaintext, no TLS at all
};

struct server_result {
  std::string alpn;
  std::string received;
  std::string error;  // what the server's handshake threw, if it did
};

coreio::task<server_result> serve_one(tcp_listener* lis, std::shared_ptr<tls_context> ctx,
                                      behaviour b, std::string payload) {
  server_result r;
  tcp_stream peer = co_await lis->accept();
  if (b == behaviour::drop_in_handshake) {
    // Read the ClientHello first: closing with unread bytes would send a reset (a system_error
    // at the client, not the end of stream this test is about).
    std::vector<std::byte> hello(16 * 1024);
    const std::size_t n = co_await peer.read_some(std::span<std::byte>(hello));
    EXPECT_GT(n, 0u);
    peer.close();
    co_return r;
  }
  if (b == behaviour::plain_http) {
    co_await peer.write_all(
        std::string_view("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
    peer.close();
    co_return r;
  }
  coreio::net::stream s = std::move(peer);
  tls_stream tls(ctx, std::move(s));
  try {
    co_await tls.accept();
  } catch (const tls_error& e) {
    r.error = e.what();
  }
  if (!r.error.empty()) co_return r;
  r.alpn = std::string(tls.alpn());
  switch (b) {
    case behaviour::echo: {
      std::vector<std::byte> buf(16 * 1024);
      for (;;) {
        const std::size_t n = co_await tls.read_some(std::span<std::byte>(buf));
        if (n == 0) break;
        r.received.append(reinterpret_cast<const char*>(buf.data()), n);
        co_await tls.write_all(std::span<const std::byte>(buf.data(), n));
      }
      co_await tls.shutdown();
      tls.close();
      break;
    }
    case behaviour::send_then_close_notify:
      co_await tls.write_all(bytes(payload));
      co_await tls.shutdown();
      r.received = co_await read_to_eof(&tls);
      tls.close();
      break;
    case behaviour::send_then_drop:
      co_await tls.write_all(bytes(payload));
      tls.close();
      break;
    default:
      break;
  }
  co_return r;
}

std::shared_ptr<tls_context> server_ctx() {
  const auto& c = test_certs::get();
  return tls_context::server(c.cert_file, c.key_file);
}

// Connects a TLS client to lis and runs its handshake for `host`.
coreio::task<tls_stream> connect_tls(std::uint16_t port, std::shared_ptr<tls_context> ctx,
                                     std::string host) {
  tcp_stream conn = co_await tcp_stream::connect("127.0.0.1", port);
  coreio::net::stream s = std::move(conn);
  tls_stream tls(std::move(ctx), std::move(s));
  auto hs = tls.handshake(host);  // its own statement: see the g++ 12 note at the top
  co_await std::move(hs);
  co_return tls;
}

// ---- handshake and data -------------------------------------------------------------------------

struct echo_outcome {
  std::string client_alpn;
  std::string echoed;
  server_result server;
};

coreio::task<echo_outcome> echo_round_trip(std::string host, std::string data) {
  auto lis = tcp_listener::bind("127.0.0.1", 0);
  auto server = coreio::spawn(serve_one(&lis, server_ctx(), behaviour::echo, std::string()));
  const auto& certs = test_certs::get();
  auto client_ctx = tls_context::client(certs.ca_file);
  auto connecting = connect_tls(lis.port(), client_ctx, host);
  tls_stream tls = co_await std::move(connecting);
  echo_outcome o;
  o.client_alpn = std::string(tls.alpn());
  // Write and read at once, from two tasks: the echo comes back while the upload is still going.
  auto writer = write_str(&tls, data);
  auto reader = read_n(&tls, data.size());
  auto [w, echoed] = co_await coreio::gather(std::move(writer), std::move(reader));
  (void)w;
  o.echoed = std::move(echoed);
  co_await tls.shutdown();
  // The server answers our close_notify with its own; then its stream ends.
  const std::string rest = co_await read_to_eof(&tls);
  EXPECT_TRUE(rest.empty());
  o.server = co_await server;
  co_return o;
}

TEST(TlsStreamTest, HandshakesByNameAndEchoesBytesBothWaysAtOnce) {
  coreio::runtime rt{two_workers()};
  const std::string data = pattern(1 << 20, 1);
  const echo_outcome o = rt.block_on(echo_round_trip("localhost", data));
  EXPECT_EQ(o.server.error, "");
  EXPECT_EQ(o.client_alpn, "http/1.1");
  EXPECT_EQ(o.server.alpn, "http/1.1");
  EXPECT_TRUE(o.echoed == data) << "echo differs (" << o.echoed.size() << " bytes back)";
  EXPECT_TRUE(o.server.received == data);
}

TEST(TlsStreamTest, HandshakesWithAnIpAddressAgainstTheCertificatesIpSan) {
  coreio::runtime rt{two_workers()};
  const echo_outcome o = rt.block_on(echo_round_trip("127.0.0.1", "over an address"));
  EXPECT_EQ(o.echoed, "over an address");
  EXPECT_EQ(o.server.error, "");
}

// ---- verification failures ----------------------------------------------------------------------

struct failed_handshake {
  std::string client_error;
  std::string server_error;
};

coreio::task<failed_handshake> handshake_expecting_failure(
    std::shared_ptr<tls_context> client_ctx, std::string host,
    std::shared_ptr<tls_context> served = server_ctx()) {
  auto lis = tcp_listener::bind("127.0.0.1", 0);
  auto server = coreio::spawn(serve_one(&lis, std::move(served), behaviour::echo, std::string()));
  failed_handshake f;
  tcp_stream conn = co_await tcp_stream::connect("127.0.0.1", lis.port());
  coreio::net::stream s = std::move(conn);
  tls_stream tls(client_ctx, std::move(s));
  auto hs = tls.handshake(host);
  bool connected = false;
  try {
    co_await std::move(hs);
    connected = true;
  } catch (const tls_error& e) {
    f.client_error = e.what();
  }
  if (connected) {
    // A handshake that succeeded ends cleanly: closing at once could leave the server's TLS 1.3
    // session tickets unread, and closing a socket with unread bytes sends a reset, which the
    // server's echo read would report instead of the end of the stream.
    co_await tls.shutdown();
    EXPECT_EQ(co_await read_to_eof(&tls), "");
  }
  tls.close();
  const server_result r = co_await server;
  f.server_error = r.error;
  co_return f;
}

TEST(TlsStreamTest, AHostNameMismatchFailsVerification) {
  coreio::runtime rt{two_workers()};
  auto ctx = tls_context::client(test_certs::get().ca_file);
  const auto f = rt.block_on(handshake_expecting_failure(ctx, "wrong.example"));
  EXPECT_NE(f.client_error.find("tls: certificate verify failed: hostname mismatch"),
            std::string::npos)
      << f.client_error;
  EXPECT_NE(f.client_error.find("wrong.example"), std::string::npos) << f.client_error;
  // The client's alert reaches the server.
  EXPECT_NE(f.server_error.find("tls: "), std::string::npos) << f.server_error;
}

// A certificate's CN is never the host's name (RFC 9110 section 4.3.4): one without a
// subjectAltName matches no host, even the one its CN names.
TEST(TlsStreamTest, ACertificateWithOnlyACommonNameMatchesNoHost) {
  coreio::runtime rt{two_workers()};
  const auto& c = test_certs::get();
  auto ctx = tls_context::client(c.ca_file);
  const auto f = rt.block_on(handshake_expecting_failure(
      ctx, "localhost", tls_context::server(c.cn_only_file, c.key_file)));
  EXPECT_NE(f.client_error.find("hostname mismatch"), std::string::npos) << f.client_error;
}

// A fully qualified name's trailing dot is not the certificate's or SNI's (RFC 6066 section 3);
// a leading dot (OpenSSL: "any subdomain"), an empty label or a '*' is no host a certificate can
// vouch for, refused before the handshake.
TEST(TlsStreamTest, ATrailingDotIsDroppedAndOddNamesAreRefused) {
  coreio::runtime rt{two_workers()};
  const echo_outcome o = rt.block_on(echo_round_trip("localhost.", "dotted"));
  EXPECT_EQ(o.echoed, "dotted");
  EXPECT_EQ(o.server.error, "");
  auto ctx = tls_context::client(test_certs::get().ca_file);
  for (const char* odd : {".localhost", "a..localhost", "*.localhost"}) {
    const auto f = rt.block_on(handshake_expecting_failure(ctx, odd));
    EXPECT_NE(f.client_error.find("cannot be checked against a certificate"), std::string::npos)
        << odd << ": " << f.client_error;
  }
}

TEST(TlsStreamTest, AnIpAddressNotInTheCertificateFailsVerification) {
  coreio::runtime rt{two_workers()};
  auto ctx = tls_context::client(test_certs::get().ca_file);
  // The connection goes to 127.0.0.1; the name checked is another address.
  const auto f = rt.block_on(handshake_expecting_failure(ctx, "127.0.0.2"));
  EXPECT_NE(f.client_error.find("certificate verify failed: IP address mismatch"),
            std::string::npos)
      << f.client_error;
}

TEST(TlsStreamTest, ACertificateFromAnUntrustedCaFailsVerification) {
  coreio::runtime rt{two_workers()};
  auto ctx = tls_context::client(test_certs::get().other_ca_file);
  const auto f = rt.block_on(handshake_expecting_failure(ctx, "localhost"));
  EXPECT_NE(f.client_error.find("tls: certificate verify failed: "), std::string::npos)
      << f.client_error;
  EXPECT_NE(f.client_error.find("issuer"), std::string::npos) << f.client_error;
}

TEST(TlsStreamTest, WithoutVerificationAnUntrustedCertificateIsAccepted) {
  coreio::runtime rt{two_workers()};
  auto ctx = tls_context::client("", false);
  const auto f = rt.block_on(handshake_expecting_failure(ctx, "wrong.example"));
  EXPECT_EQ(f.client_error, "");
}

// ---- the peer going away ------------------------------------------------------------------------

struct read_outcome {
  std::string data;
  std::string error;
};

coreio::task<read_outcome> read_from(behaviour b, std::string payload) {
  auto lis = tcp_listener::bind("127.0.0.1", 0);
  auto server = coreio::spawn(serve_one(&lis, server_ctx(), b, payload));
  auto ctx = tls_context::client(test_certs::get().ca_file);
  read_outcome o;
  auto connecting = connect_tls(lis.port(), ctx, "localhost");
  tls_stream tls = co_await std::move(connecting);
  try {
    o.data = co_await read_to_eof(&tls);
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  co_await tls.shutdown();
  tls.close();
  co_await server;
  co_return o;
}

TEST(TlsStreamTest, CloseNotifyEndsTheStream) {
  coreio::runtime rt{two_workers()};
  const std::string payload = pattern(100'000, 2);
  const auto o = rt.block_on(read_from(behaviour::send_then_close_notify, payload));
  EXPECT_EQ(o.error, "");
  EXPECT_TRUE(o.data == payload);
}

TEST(TlsStreamTest, APeerClosingMidStreamWithoutCloseNotifyIsEndOfStream) {
  coreio::runtime rt{two_workers()};
  const std::string payload = pattern(50'000, 3);
  const auto o = rt.block_on(read_from(behaviour::send_then_drop, payload));
  EXPECT_EQ(o.error, "");
  EXPECT_TRUE(o.data == payload) << o.data.size() << " bytes";
}

coreio::task<std::string> handshake_error_against(behaviour b) {
  auto lis = tcp_listener::bind("127.0.0.1", 0);
  auto server = coreio::spawn(serve_one(&lis, server_ctx(), b, std::string()));
  auto ctx = tls_context::client(test_certs::get().ca_file);
  std::string error;
  auto connecting = connect_tls(lis.port(), ctx, "localhost");
  try {
    tls_stream tls = co_await std::move(connecting);
  } catch (const tls_error& e) {
    error = e.what();
  }
  co_await server;
  co_return error;
}

TEST(TlsStreamTest, APeerClosingDuringTheHandshakeIsATlsError) {
  coreio::runtime rt{two_workers()};
  const std::string e = rt.block_on(handshake_error_against(behaviour::drop_in_handshake));
  EXPECT_NE(e.find("tls: connection closed by the peer during the handshake"), std::string::npos)
      << e;
}

TEST(TlsStreamTest, APlaintextServerIsATlsError) {
  coreio::runtime rt{two_workers()};
  const std::string e = rt.block_on(handshake_error_against(behaviour::plain_http));
  EXPECT_EQ(e.rfind("tls: ", 0), 0u) << e;
}

// ---- cancellation -------------------------------------------------------------------------------

// Accepts one TLS client, waits for *go, then sends payload and close_notify.
coreio::task<void> send_when_told(tcp_listener* lis, coreio::event* go, std::string payload) {
  tcp_stream peer = co_await lis->accept();
  coreio::net::stream s = std::move(peer);
  tls_stream tls(server_ctx(), std::move(s));
  co_await tls.accept();
  co_await go->wait();
  co_await tls.write_all(bytes(payload));
  co_await tls.shutdown();
  tls.close();
}

coreio::task<std::string> read_after_a_timed_out_read(std::string payload, bool* timed_out) {
  auto lis = tcp_listener::bind("127.0.0.1", 0);
  coreio::event go;
  auto server = coreio::spawn(send_when_told(&lis, &go, payload));
  auto ctx = tls_context::client(test_certs::get().ca_file);
  auto connecting = connect_tls(lis.port(), ctx, "localhost");
  tls_stream tls = co_await std::move(connecting);
  // Nothing is coming until `go`: the read times out, cancelled inside the socket read.
  std::vector<std::byte> buf(64);
  try {
    co_await coreio::wait_for(tls.read_some(std::span<std::byte>(buf)),
                              std::chrono::milliseconds(50));
  } catch (const coreio::timeout_error&) {
    *timed_out = true;
  }
  go.set();
  const std::string got = co_await read_to_eof(&tls);
  co_await server;
  co_return got;
}

TEST(TlsStreamTest, ACancelledReadLosesNothingAndTheStreamGoesOn) {
  coreio::runtime rt{two_workers()};
  const std::string payload = pattern(200'000, 4);
  bool timed_out = false;
  const std::string got = rt.block_on(read_after_a_timed_out_read(payload, &timed_out));
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(got == payload) << got.size() << " bytes";
}

// ---- contexts -----------------------------------------------------------------------------------

TEST(TlsContextTest, MissingFilesAreErrorsNamingThem) {
  const auto& c = test_certs::get();
  try {
    tls_context::server(c.dir + "/absent.pem", c.key_file);
    ADD_FAILURE() << "accepted";
  } catch (const tls_error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.pem"), std::string::npos) << e.what();
  }
  try {
    tls_context::server(c.cert_file, c.ca_file);  // a certificate where the key should be
    ADD_FAILURE() << "accepted";
  } catch (const tls_error& e) {
    EXPECT_NE(std::string(e.what()).find("private key"), std::string::npos) << e.what();
  }
  try {
    tls_context::client(c.dir + "/no-such-ca.pem");
    ADD_FAILURE() << "accepted";
  } catch (const tls_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-ca.pem"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(tls_context::server(c.chain_file, c.key_file));
  // An encrypted key is refused at once with that said: OpenSSL would otherwise prompt for its
  // passphrase on the terminal and block the thread.
  try {
    tls_context::server(c.cert_file, c.encrypted_key_file);
    ADD_FAILURE() << "accepted";
  } catch (const coreio::http::tls_error& e) {
    EXPECT_NE(std::string(e.what()).find("is encrypted"), std::string::npos) << e.what();
  }
}

}  // namespace
