// errors.cpp — out-of-line throw helpers (keep the throwing code out of hot inline paths).
#include <coreio/errors.hpp>

namespace coreio::detail {

void throw_usage(const char* what) { throw usage_error(what); }

void throw_cancelled() { throw cancelled_error(); }

}  // namespace coreio::detail
