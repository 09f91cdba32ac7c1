// http/support/test_certs.cpp — makes the test PKI with the openssl command (see test_certs.hpp).
//
// Steps, each one `openssl` run through std::system with its output in <dir>/openssl.log:
//   1. an EC P-256 CA key and a self-signed CA certificate (basicConstraints CA:TRUE);
//   2. an EC P-256 server key and a CSR for CN=localhost;
//   3. the server certificate signed by the CA with subjectAltName DNS:localhost, IP:127.0.0.1,
//      IP:::1, extendedKeyUsage serverAuth (OpenSSL 3 checks the SAN, never the CN);
//   4. a second, unrelated CA (other_ca_file);
//   5. chain_file = server certificate + CA certificate;
//   6. cn_only_file: the server's CSR signed again without a subjectAltName, and
//      encrypted_key_file: the server key under a passphrase.
// The directory is removed by an atexit handler.
#include "support/test_certs.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#ifndef COREIO_TEST_OPENSSL
#define COREIO_TEST_OPENSSL "openssl"
#endif

namespace coreio_http_test {
namespace {

std::string shell_quoted(const std::string& s) { return "'" + s + "'"; }

void run_openssl(const std::string& dir, const std::string& args, const char* step) {
  const std::string log = dir + "/openssl.log";
  const std::string cmd = std::string(COREIO_TEST_OPENSSL) + " " + args + " >>" +
                          shell_quoted(log) + " 2>&1 </dev/null";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    throw std::runtime_error(std::string("test_certs: openssl failed to ") + step + ": " + cmd +
                             "\n" + ss.str());
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("test_certs: cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string* dir_to_remove = nullptr;

void remove_dir() {
  if (dir_to_remove == nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(*dir_to_remove, ec);
}

test_certs make() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "coreio-test-certs-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("test_certs: mkdtemp failed");
  test_certs c;
  c.dir = tmpl;
  dir_to_remove = new std::string(c.dir);
  std::atexit(remove_dir);
  const std::string& d = c.dir;
  c.ca_file = d + "/ca.pem";
  c.cert_file = d + "/server.pem";
  c.key_file = d + "/server.key";
  c.chain_file = d + "/chain.pem";
  c.other_ca_file = d + "/other-ca.pem";
  c.cn_only_file = d + "/cn-only.pem";
  c.encrypted_key_file = d + "/encrypted.key";

  write_file(d + "/server.ext",
             "basicConstraints=CA:FALSE\n"
             "keyUsage=digitalSignature,keyEncipherment\n"
             "extendedKeyUsage=serverAuth\n"
             "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n");
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  run_openssl(d,
              "req -x509 " + ec + "-keyout " + shell_quoted(d + "/ca.key") + " -out " +
                  shell_quoted(c.ca_file) +
                  " -days 2 -subj '/CN=coreio test CA' -addext basicConstraints=critical,CA:TRUE"
                  " -addext keyUsage=critical,keyCertSign,cRLSign",
              "make the CA");
  run_openssl(d,
              "req -new " + ec + "-keyout " + shell_quoted(c.key_file) + " -out " +
                  shell_quoted(d + "/server.csr") + " -subj '/CN=localhost'",
              "make the server key and CSR");
  run_openssl(d,
              "x509 -req -in " + shell_quoted(d + "/server.csr") + " -CA " +
                  shell_quoted(c.ca_file) + " -CAkey " + shell_quoted(d + "/ca.key") +
                  " -CAcreateserial -days 2 -out " + shell_quoted(c.cert_file) + " -extfile " +
                  shell_quoted(d + "/server.ext"),
              "sign the server certificate");
  run_openssl(d,
              "req -x509 " + ec + "-keyout " + shell_quoted(d + "/other-ca.key") + " -out " +
                  shell_quoted(c.other_ca_file) +
                  " -days 2 -subj '/CN=coreio unrelated CA'"
                  " -addext basicConstraints=critical,CA:TRUE",
              "make the unrelated CA");
  write_file(c.chain_file, read_file(c.cert_file) + read_file(c.ca_file));
  write_file(d + "/cn-only.ext",
             "basicConstraints=CA:FALSE\n"
             "keyUsage=digitalSignature,keyEncipherment\n"
             "extendedKeyUsage=serverAuth\n");
  run_openssl(d,
              "x509 -req -in " + shell_quoted(d + "/server.csr") + " -CA " +
                  shell_quoted(c.ca_file) + " -CAkey " + shell_quoted(d + "/ca.key") +
                  " -CAcreateserial -days 2 -out " + shell_quoted(c.cn_only_file) + " -extfile " +
                  shell_quoted(d + "/cn-only.ext"),
              "sign the CN-only certificate");
  run_openssl(d,
              "pkey -in " + shell_quoted(c.key_file) + " -aes128 -passout pass:secret -out " +
                  shell_quoted(c.encrypted_key_file),
              "encrypt the server key");
  return c;
}

}  // namespace

const test_certs& test_certs::get() {
  static const test_certs certs = make();
  return certs;
}

}  // namespace coreio_http_test
