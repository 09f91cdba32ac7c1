// http/client_chunk_chain_test.cpp — a response of tens of thousands of tiny chunks read one
// read_chunk() at a time, in a file built the way a user may build theirs: g++ -O1, where the
// compiler makes no tail call of a coroutine's symmetric transfer (tests/http/CMakeLists.txt
// builds this file with -O1 and without COREIO_SIBLING_CALLS). Each read_chunk() completes at once
// and resumes its reader, which awaits the next: without the transfer's stack guard
// (include/coreio/detail/stack_guard.hpp) each chunk cost a stack frame, and 30,000 chunks
// overflowed the worker's stack.
#include <coreio/http/client.hpp>

#include <gtest/gtest.h>

#include <string>

#include "support/client_support.hpp"

namespace coreio_http_test {
namespace {

constexpr int k_chunks = 100'000;

std::string one_byte_chunks() {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < k_chunks; ++i) out += "1\r\na\r\n";
  out += "0\r\n\r\n";
  return out;
}

coreio::task<void> reads_tiny_chunks_in_constant_stack() {
  raw_server srv{[](const seen_request&, std::size_t) { return reply{one_byte_chunks()}; }};
  http::client session;
  const std::string url = srv.url("/tiny");
  http::response r = co_await session.get(url);
  std::size_t total = 0;
  bool all_a = true;
  for (;;) {
    const std::span<const std::byte> chunk = co_await r.read_chunk();
    if (chunk.empty()) break;
    total += chunk.size();
    for (std::byte b : chunk) all_a = all_a && static_cast<char>(b) == 'a';
  }
  EXPECT_EQ(total, static_cast<std::size_t>(k_chunks));
  EXPECT_TRUE(all_a);
  // The same body through text(): one call that reads the chunks inside the library.
  http::response again = co_await session.get(url);
  const std::string text = co_await again.text();
  EXPECT_EQ(text, std::string(k_chunks, 'a'));
  co_await session.close();
  co_await srv.stop();
}
TEST(ClientChunkChain, ReadsTinyChunksInConstantStack) {
  run_test(reads_tiny_chunks_in_constant_stack);
}

}  // namespace
}  // namespace coreio_http_test
