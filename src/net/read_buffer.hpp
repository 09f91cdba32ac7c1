// net/read_buffer.hpp — a stream's read-ahead buffer: the bytes read from the socket and not yet
// handed to the user, in one contiguous block [begin_, end_) of a heap array of capacity cap_.
//
// Memory bound. The buffer grows only when a read needs more room than is free after the live
// bytes, and before it grows it drops the consumed bytes (moving the live ones to the front), so
// its size follows the largest pending read, not the stream's length. Growth doubles (at least up
// to what is needed), so the copying stays linear; capacity is therefore at most about twice the
// largest pending read plus one chunk. When it empties, a block larger than k_keep_capacity is
// freed, so one long line does not pin its memory for the rest of the connection.
//
// Cost of the compaction: bytes are moved only when a read needs room, and the reads that fill
// this buffer (read_until) do so only when the buffer holds no complete item, i.e. at most the
// partial item that the pending read is waiting for: O(pending read) per fill that grows, amortised
// O(1) per byte.
//
// Thread safety: none. It belongs to the stream's reading side: only the task holding the stream's
// read claim (stream_claim) touches it; the claim's acquire/release hands it from task to task.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace coreio::detail {

class read_buffer {
 public:
  /// The smallest read from the socket into the buffer (a fill asks for at least this much room).
  static constexpr std::size_t k_chunk = 8 * 1024;
  /// An empty buffer keeps a block up to this size for the next fill; a larger one is freed.
  static constexpr std::size_t k_keep_capacity = 64 * 1024;

  /// Buffered bytes.
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return cap_; }
  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(data_.get()) + begin_, size()};
  }

  /// Drops the first n buffered bytes (n <= size()).
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
      if (cap_ > k_keep_capacity) {
        data_.reset();
        cap_ = 0;
      }
    }
  }

  /// Copies up to out.size() buffered bytes into out and consumes them; returns how many.
  std::size_t take(std::span<std::byte> out) noexcept {
    const std::size_t n = std::min(size(), out.size());
    if (n == 0) return 0;
    std::memcpy(out.data(), data_.get() + begin_, n);
    consume(n);
    return n;
  }

  /// Room for at least `min` more bytes after the buffered ones: all the free space at the end,
  /// after compacting or growing if less than `min` was free. Commit what was written with
  /// commit(). Throws std::bad_alloc (the buffer unchanged).
  std::span<std::byte> prepare(std::size_t min) {
    if (cap_ - end_ < min) {
      const std::size_t live = size();
      if (cap_ - live >= min) {
        // Dropping the consumed prefix frees enough: compact, do not grow.
        std::memmove(data_.get(), data_.get() + begin_, live);
      } else {
        const std::size_t cap = std::max(cap_ * 2, live + min);
        std::unique_ptr<std::byte[]> grown(new std::byte[cap]);
        if (live != 0) std::memcpy(grown.get(), data_.get() + begin_, live);
        data_ = std::move(grown);
        cap_ = cap;
      }
      begin_ = 0;
      end_ = live;
    }
    return {data_.get() + end_, cap_ - end_};
  }

  /// Appends n bytes written into the span prepare() returned.
  void commit(std::size_t n) noexcept { end_ += n; }

  /// Puts bytes back in front of the buffered ones (they were read before them): what a cancelled
  /// read_exact had read. Throws std::bad_alloc (the buffer unchanged).
  void unread(std::span<const std::byte> front) {
    const std::size_t n = front.size();
    if (n == 0) return;
    if (begin_ >= n) {
      begin_ -= n;
    } else {
      const std::size_t live = size();
      if (cap_ < live + n) {
        const std::size_t cap = live + n + k_chunk;
        std::unique_ptr<std::byte[]> grown(new std::byte[cap]);
        if (live != 0) std::memcpy(grown.get() + n, data_.get() + begin_, live);
        data_ = std::move(grown);
        cap_ = cap;
      } else if (live != 0) {
        std::memmove(data_.get() + n, data_.get() + begin_, live);
      }
      begin_ = 0;
      end_ = n + live;
    }
    std::memcpy(data_.get() + begin_, front.data(), n);
  }

 private:
  // The block (null while cap_ is 0); buffered bytes are [begin_, end_).
  std::unique_ptr<std::byte[]> data_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace coreio::detail
