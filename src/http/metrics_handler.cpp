// http/metrics_handler.cpp — the one-line /metrics route (coreio/http/metrics_handler.hpp).
#include <coreio/http/metrics_handler.hpp>

#include <string>

#include <coreio/http/stats.hpp>
#include <coreio/metrics_text.hpp>

namespace coreio::http {

handler metrics_handler() {
  return [](request&) -> task<response> {
    response r{200, coreio::metrics_text() + http::metrics_text()};
    r.set_header("Content-Type", std::string(coreio::metrics_content_type));
    co_return r;
  };
}

}  // namespace coreio::http
