// src/http/openssl_api.cpp — loads OpenSSL at first use (protocol: openssl_api.hpp).
#include "http/openssl_api.hpp"

#include <dlfcn.h>
#include <openssl/opensslv.h>

#include <string>

#include "http/tls.hpp"

namespace coreio::http::detail::openssl {

namespace {

// The soname of the libssl whose headers this file was compiled with: the ABI the table's types
// describe (OpenSSL keeps it stable within a major version).
#define COREIO_OPENSSL_STR2(x) #x
#define COREIO_OPENSSL_STR(x) COREIO_OPENSSL_STR2(x)
constexpr const char* libssl_soname = "libssl.so." COREIO_OPENSSL_STR(OPENSSL_VERSION_MAJOR);
#undef COREIO_OPENSSL_STR
#undef COREIO_OPENSSL_STR2

functions load() {
  // RTLD_LOCAL: OpenSSL's symbols stay out of the global scope, where they could interpose on
  // another copy the program links. Never closed: OpenSSL's exit handlers live in it.
  void* lib = ::dlopen(libssl_soname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    throw tls_error(std::string("tls: cannot load ") + libssl_soname +
                    " (Debian package libssl3): " + (why != nullptr ? why : "dlopen failed"));
  }
  functions f;
  // dlsym on libssl's handle also searches what it depends on (libcrypto).
#define COREIO_OPENSSL_LOOKUP(name)                                                    \
  f.name = reinterpret_cast<decltype(f.name)>(::dlsym(lib, #name));                    \
  if (f.name == nullptr) {                                                             \
    throw tls_error(std::string("tls: ") + libssl_soname + " has no function " #name); \
  }
  COREIO_OPENSSL_FUNCTIONS(COREIO_OPENSSL_LOOKUP)
#undef COREIO_OPENSSL_LOOKUP
  return f;
}

}  // namespace

const functions& api() {
  // A function-local static: loaded once, thread-safe; a failed load throws and is tried again
  // by the next call.
  static const functions table = load();
  return table;
}

}  // namespace coreio::http::detail::openssl
