// read_buffer_test.cpp — src/net/read_buffer.hpp: a stream's read-ahead buffer. Consumed bytes are
// dropped before it grows, so its capacity follows the largest pending read and not the stream's
// length; a large block is freed once empty; bytes put back come first, in order; prepare and
// commit append.
#include "net/read_buffer.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace {

using coreio::detail::read_buffer;

/// Appends text as one socket read would: into prepare()'s room, then commit.
void append(read_buffer& b, std::string_view text, std::size_t min = read_buffer::k_chunk) {
  std::span<std::byte> room = b.prepare(std::max(min, text.size()));
  ASSERT_GE(room.size(), text.size());
  std::memcpy(room.data(), text.data(), text.size());
  b.commit(text.size());
}

std::string take_all(read_buffer& b) {
  std::string out(b.size(), '\0');
  b.take(std::as_writable_bytes(std::span<char>(out.data(), out.size())));
  return out;
}

TEST(ReadBufferTest, PrepareAndCommitAppendAndTakeConsumesInOrder) {
  read_buffer b;
  EXPECT_TRUE(b.empty());
  append(b, "hello ");
  append(b, "world");
  EXPECT_EQ(b.view(), "hello world");
  char five[5];
  EXPECT_EQ(b.take(std::as_writable_bytes(std::span<char>(five))), 5u);
  EXPECT_EQ(std::string_view(five, 5), "hello");
  EXPECT_EQ(b.view(), " world");
  b.consume(1);
  EXPECT_EQ(take_all(b), "world");
  EXPECT_TRUE(b.empty());
}

TEST(ReadBufferTest, ALongStreamOfLinesThatNeverEndOnAChunkBorderKeepsTheCapacityBounded) {
  // As read_until reads 8,191-byte lines: fill a chunk at a time until a line is in, consume it.
  read_buffer b;
  const std::size_t len = 8191;
  const std::string chunk(read_buffer::k_chunk, 'x');
  std::size_t max_capacity = 0;
  for (int line = 0; line < 4096; ++line) {
    while (b.size() < len) {
      std::span<std::byte> room = b.prepare(read_buffer::k_chunk);
      const std::size_t n = std::min(room.size(), chunk.size());
      std::memcpy(room.data(), chunk.data(), n);
      b.commit(n);
      max_capacity = std::max(max_capacity, b.capacity());
    }
    b.consume(len);
  }
  // 32 MiB went through; the block never grew past twice a line plus a chunk.
  EXPECT_LE(max_capacity, 2 * (len + read_buffer::k_chunk));
}

TEST(ReadBufferTest, CompactionKeepsTheLiveBytes) {
  read_buffer b;
  append(b, std::string(read_buffer::k_chunk - 3, 'a') + "xyz");
  b.consume(read_buffer::k_chunk - 3);
  // Not enough room after the live bytes, enough once the consumed ones are dropped: the live bytes
  // move to the front and the block does not grow.
  append(b, std::string(read_buffer::k_chunk - 3, 'b'), read_buffer::k_chunk - 3);
  EXPECT_EQ(b.view(), "xyz" + std::string(read_buffer::k_chunk - 3, 'b'));
  EXPECT_EQ(b.capacity(), read_buffer::k_chunk);
}

TEST(ReadBufferTest, ALargeBlockIsFreedOnceEmptyAndASmallOneKept) {
  read_buffer b;
  append(b, std::string(1 << 20, 'L'));
  EXPECT_GE(b.capacity(), 1u << 20);
  b.consume(b.size());
  EXPECT_EQ(b.capacity(), 0u);
  append(b, "small");
  const std::size_t small = b.capacity();
  b.consume(b.size());
  EXPECT_EQ(b.capacity(), small);
}

TEST(ReadBufferTest, UnreadPutsBytesBackInFrontInOrder) {
  read_buffer b;
  // Into an empty buffer.
  const std::string abc = "abc";
  b.unread(std::as_bytes(std::span<const char>(abc.data(), abc.size())));
  EXPECT_EQ(b.view(), "abc");
  // In front of buffered bytes, with room before them (after a consume)...
  append(b, "defgh");
  b.consume(4);  // "efgh" left, 4 free bytes before it
  const std::string cd = "cd";
  b.unread(std::as_bytes(std::span<const char>(cd.data(), cd.size())));
  EXPECT_EQ(b.view(), "cdefgh");
  // ...and without: the buffer makes room.
  const std::string big(3 * read_buffer::k_chunk, 'z');
  b.unread(std::as_bytes(std::span<const char>(big.data(), big.size())));
  EXPECT_EQ(b.view(), big + "cdefgh");
}

}  // namespace
