// http/parser_test.cpp — src/http/parser.hpp: llhttp strict plus coreio's checks.
#include "http/parser.hpp"

#include <gtest/gtest.h>

namespace {

using coreio::http::detail::parser;

TEST(ParserTest, ConstructsForBothModes) {
  parser req(parser::mode::request);
  parser resp(parser::mode::response);
  SUCCEED();
}

}  // namespace
