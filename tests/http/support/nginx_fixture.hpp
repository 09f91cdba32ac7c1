// http/support/nginx_fixture.hpp — a real nginx for the client's tests: its own config and
// temporary directory (document root, logs, temp paths, pid), free ports on 127.0.0.1 (plain, and
// TLS with the test certificates when asked), started as a child (`nginx -p DIR -c nginx.conf -g
// 'daemon off;'`), ready once its ports accept connections (probed, never a fixed sleep), stopped
// (SIGQUIT, then SIGKILL after 5 s) and removed in the destructor.
//
//   nginx_fixture nginx{{.tls = true}};
//   nginx.write_file("index.html", "<html>...");
//   std::string url = nginx.url("/index.html"), secure = nginx.tls_url("/index.html");
//
// The server: static files from root() with gzip on for text (so a gzip response is also a chunked
// one), keep-alive (65 s, 10000 requests), `/redirect` answering 302 to `/index.html`,
// `/status/404` and `/status/500` answering those codes.
//
// Errors: std::runtime_error naming the step (nginx missing, failed to start: its error log).
// Thread safety: one object per test; construct and destroy on one thread, the getters from any.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace coreio_http_test {

struct nginx_options {
  bool tls = false;  ///< also listen with TLS (test_certs' server certificate)
};

class nginx_fixture {
 public:
  explicit nginx_fixture(nginx_options o = {});
  ~nginx_fixture();
  nginx_fixture(const nginx_fixture&) = delete;
  nginx_fixture& operator=(const nginx_fixture&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint16_t tls_port() const { return tls_port_; }
  /// "http://127.0.0.1:<port><path>".
  std::string url(std::string_view path) const;
  /// "https://localhost:<tls port><path>" (the certificate names localhost and 127.0.0.1).
  std::string tls_url(std::string_view path) const;
  /// The document root.
  const std::string& root() const { return root_; }
  /// Writes root()/name (parent directories made).
  void write_file(std::string_view name, std::string_view content) const;

 private:
  std::string dir_, root_;
  std::uint16_t port_ = 0, tls_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace coreio_http_test
