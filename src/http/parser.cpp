// src/http/parser.cpp — skeleton; the llhttp-backed parser follows.
#include "http/parser.hpp"

#include <coreio/http/errors.hpp>

#include <llhttp.h>

namespace coreio::http::detail {

std::optional<std::string_view> message_head::find(std::string_view) const noexcept {
  return std::nullopt;
}

struct parser::impl {
  llhttp_t p{};
  message_head head;
};

parser::parser(mode, parse_limits) : impl_(std::make_unique<impl>()) {}
parser::~parser() = default;
parser::parser(parser&&) noexcept = default;
parser& parser::operator=(parser&&) noexcept = default;
void parser::reset() {}
void parser::set_request_method(std::string_view) {}
parse_result parser::feed(std::span<const char>) { throw error("http: parser not implemented"); }
parse_result parser::finish() { throw error("http: parser not implemented"); }
const message_head& parser::head() const noexcept { return impl_->head; }

}  // namespace coreio::http::detail
