// http/support/client_support.hpp — what the client tests share: running a test body on a
// runtime of two workers (so a request and its connection's loop may be on different workers).
#pragma once

#include <coreio/coreio.hpp>
#include <coreio/http.hpp>

#include "support/raw_server.hpp"

namespace coreio_http_test {

using namespace std::chrono_literals;
namespace http = coreio::http;

/// Runs body() to completion on a runtime of `workers` workers; rethrows what it throws.
inline void run_test(coreio::task<void> (*body)(), std::size_t workers = 2) {
  coreio::runtime rt{coreio::runtime_options{.workers = workers}};
  rt.block_on(body());
}

}  // namespace coreio_http_test
