// stress_support.hpp — what the stress tests share.
//
// Every stress test checks an exact result (a sum, a count that must reconcile), never a timing.
// The sizes are the full ones in every build: measured on 2 cores, the slowest test takes ~10 s
// under ThreadSanitizer and ~4 s under AddressSanitizer (the whole label ~60 s and ~30 s), so none
// is scaled down for sanitizers.
#pragma once

#include <cstdint>
#include <exception>

namespace coreio_stress {

/// An error type of the tests' own, so that a caught exception is provably the one thrown.
struct test_error : std::exception {
  explicit test_error(std::uint64_t v) : value(v) {}
  const char* what() const noexcept override { return "coreio_stress::test_error"; }
  std::uint64_t value;
};

/// Sum 0 + 1 + ... + (n - 1).
constexpr std::uint64_t triangle(std::uint64_t n) { return n * (n - 1) / 2; }

}  // namespace coreio_stress
