// http/support/nginx_fixture.cpp — the nginx child process of the client tests (nginx_fixture.hpp).
#include "support/nginx_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/test_certs.hpp"

extern char** environ;

namespace coreio_http_test {

namespace {

namespace fs = std::filesystem;

/// A port the kernel says is free on 127.0.0.1 now (bound to 0, read, closed).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("nginx_fixture: socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("nginx_fixture: no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

/// True if something accepts TCP connections on 127.0.0.1:port.
bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string find_nginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"})
    if (::access(p, X_OK) == 0) return p;
  throw std::runtime_error(
      "nginx_fixture: nginx not found (Debian package nginx; tools/dev setup installs it)");
}

}  // namespace

nginx_fixture::nginx_fixture(nginx_options o) {
  const std::string nginx = find_nginx();
  std::string tmpl = (fs::temp_directory_path() / "coreio-nginx-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("nginx_fixture: mkdtemp failed");
  dir_ = tmpl;
  // mkdtemp makes it 0700; nginx's workers run as another user when the tests run as root.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  root_ = dir_ + "/www";
  fs::create_directories(root_);
  fs::create_directories(dir_ + "/tmp");
  fs::create_directories(dir_ + "/logs");
  write_file("index.html", "<html><body>coreio test page</body></html>\n");
  port_ = free_port();
  std::string tls_listen;
  if (o.tls) {
    const test_certs& certs = test_certs::get();
    tls_port_ = free_port();
    while (tls_port_ == port_) tls_port_ = free_port();
    tls_listen = "    listen 127.0.0.1:" + std::to_string(tls_port_) + " ssl;\n" +
                 "    ssl_certificate " + certs.cert_file + ";\n" + "    ssl_certificate_key " +
                 certs.key_file + ";\n";
  }
  std::ofstream conf(dir_ + "/nginx.conf");
  conf << "worker_processes 1;\n"
       << "error_log " << dir_ << "/logs/error.log warn;\n"
       << "pid " << dir_ << "/nginx.pid;\n"
       << "events { worker_connections 1024; }\n"
       << "http {\n"
       << "  access_log off;\n"
       << "  client_body_temp_path " << dir_ << "/tmp/body;\n"
       << "  proxy_temp_path " << dir_ << "/tmp/proxy;\n"
       << "  fastcgi_temp_path " << dir_ << "/tmp/fastcgi;\n"
       << "  uwsgi_temp_path " << dir_ << "/tmp/uwsgi;\n"
       << "  scgi_temp_path " << dir_ << "/tmp/scgi;\n"
       << "  types { text/html html; text/plain txt; application/json json; }\n"
       << "  default_type application/octet-stream;\n"
       << "  keepalive_timeout 65;\n"
       << "  keepalive_requests 10000;\n"
       << "  gzip on;\n  gzip_types text/plain application/json;\n  gzip_min_length 64;\n"
       << "  server {\n"
       << "    listen 127.0.0.1:" << port_ << ";\n"
       << tls_listen << "    root " << root_ << ";\n"
       << "    location = /redirect { return 302 /index.html; }\n"
       << "    location = /status/404 { return 404; }\n"
       << "    location = /status/500 { return 500; }\n"
       << "  }\n"
       << "}\n";
  conf.close();

  std::vector<std::string> args = {nginx, "-p",         dir_, "-c", dir_ + "/nginx.conf",
                                   "-g",  "daemon off;"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (::posix_spawn(&pid_, nginx.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
    pid_ = -1;
    throw std::runtime_error("nginx_fixture: posix_spawn(nginx) failed");
  }
  // Ready when every port accepts; a child that exits first failed (its log says why).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("nginx_fixture: nginx exited at start: " +
                               read_file(dir_ + "/logs/error.log"));
    }
    if (accepts(port_) && (tls_port_ == 0 || accepts(tls_port_))) break;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("nginx_fixture: nginx did not accept within 20 s: " +
                               read_file(dir_ + "/logs/error.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // between probes
  }
}

nginx_fixture::~nginx_fixture() {
  if (pid_ > 0) {
    ::kill(pid_, SIGQUIT);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string nginx_fixture::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::string nginx_fixture::tls_url(std::string_view path) const {
  return "https://localhost:" + std::to_string(tls_port_) + std::string(path);
}

void nginx_fixture::write_file(std::string_view name, std::string_view content) const {
  const fs::path p = fs::path(root_) / std::string(name);
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

}  // namespace coreio_http_test
