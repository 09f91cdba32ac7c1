// fuzz/http_request_fuzz.cpp — libFuzzer target: the request parser (what a server reads).
//
// flags (byte 0): bit 0 small limits. The rest is parsed whole and in pieces cut at points drawn
// from byte 1 (fuzz_driver.hpp); the two must agree, and every invariant of parser.hpp must hold.
#include <cstddef>
#include <cstdint>

#include "fuzz_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreio_fuzz;
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t seed = data[1];
  const std::string_view wire(reinterpret_cast<const char*>(data + 2), size - 2);
  const parse_limits limits = limits_for(flags & 1);
  auto ignore = [](const message&) {};
  const outcome whole = parse(parser::mode::request, limits, {}, wire, {}, ignore);
  const outcome split =
      parse(parser::mode::request, limits, {}, wire, cuts_from(seed, wire.size()), ignore);
  check_same(whole, split);
  return 0;
}
