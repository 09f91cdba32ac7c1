// coreio/net/unix_stream.hpp — a connected Unix domain stream socket
// (asyncio.open_unix_connection).
//
// The reading, writing, cancellation and buffering rules are net::stream's (stream.hpp); this adds
// connecting to a path and the two socket paths. Listening: unix_listener.hpp.
//
// Paths are filesystem paths of at most 107 bytes (sockaddr_un's sun_path less its terminator);
// a path that starts with a NUL byte names a socket in Linux's abstract namespace (no file).
//
// Thread safety: as net::stream. Must not outlive its runtime.
#pragma once

#include <string>

#include <coreio/net/stream.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

class unix_listener;

class unix_stream : public stream {
 public:
  unix_stream() noexcept;
  unix_stream(unix_stream&&) noexcept;
  unix_stream& operator=(unix_stream&&) noexcept;
  ~unix_stream();

  /// Connects to the listening socket at path. Throws std::system_error naming the path (no such
  /// file, connection refused: nobody listens there, permission denied), std::invalid_argument for
  /// an empty path and std::system_error (filename_too_long) for one past 107 bytes. Cancellable.
  /// Worker only (usage_error).
  static task<unix_stream> connect(std::string path);

  /// The path this end is bound to: "" for a connecting end (unnamed), the listener's path for an
  /// accepted one.
  std::string local_path() const;
  /// The peer's path: the listener's for a connecting end, "" for an accepted one.
  std::string remote_path() const;

 private:
  friend class unix_listener;
  explicit unix_stream(detail::stream_socket_ptr impl) noexcept;
};

}  // namespace coreio::net
