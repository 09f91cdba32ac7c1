// src/http/tls.cpp — skeleton; the OpenSSL memory-BIO stream follows.
#include "http/tls.hpp"

namespace coreio::http::detail {

struct tls_context::impl {};
tls_context::tls_context(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
tls_context::~tls_context() = default;
std::shared_ptr<tls_context> tls_context::client(std::string_view, bool) {
  throw tls_error("tls: not implemented");
}
std::shared_ptr<tls_context> tls_context::server(std::string_view, std::string_view) {
  throw tls_error("tls: not implemented");
}

struct tls_stream::impl {
  net::stream s;
};
tls_stream::tls_stream(std::shared_ptr<tls_context>, net::stream s)
    : impl_(std::make_unique<impl>(impl{std::move(s)})) {}
tls_stream::~tls_stream() = default;
tls_stream::tls_stream(tls_stream&&) noexcept = default;
tls_stream& tls_stream::operator=(tls_stream&&) noexcept = default;
task<void> tls_stream::handshake(std::string) { throw tls_error("tls: not implemented"); }
task<void> tls_stream::accept() { throw tls_error("tls: not implemented"); }
task<std::size_t> tls_stream::read_some(std::span<std::byte>) {
  throw tls_error("tls: not implemented");
}
task<void> tls_stream::write_all(std::span<const std::byte>) {
  throw tls_error("tls: not implemented");
}
task<void> tls_stream::shutdown() { throw tls_error("tls: not implemented"); }
void tls_stream::close() noexcept { impl_->s.close(); }
bool tls_stream::is_open() const noexcept { return impl_->s.is_open(); }
std::string_view tls_stream::alpn() const noexcept { return {}; }
net::stream& tls_stream::lowest_layer() noexcept { return impl_->s; }

}  // namespace coreio::http::detail
