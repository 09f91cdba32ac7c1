// coreio/net/unix_listener.hpp — a listening Unix domain stream socket (asyncio.start_unix_server's
// building block).
//
// bind() creates the socket file. As asyncio does, a stale socket file left at the path by a
// process that is gone is replaced (only a socket nobody listens on: binding over a live server's
// socket throws address_in_use; any other kind of file is never removed), and the file is removed
// again when the listener closes, if it is still the one this listener created.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe. Must not outlive its runtime.
#pragma once

#include <string>

#include <coreio/detail/net_io.hpp>
#include <coreio/net/unix_stream.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

struct unix_listen_options {
  /// Pending connections the kernel queues before accept.
  int backlog = 1024;
  /// Replace a stale socket file at the path (one nobody listens on) instead of failing.
  bool replace_stale = true;
  /// Remove the socket file when the listener closes (if it is still this listener's).
  bool unlink_on_close = true;
};

class unix_listener {
 public:
  unix_listener() noexcept;
  unix_listener(unix_listener&&) noexcept;
  unix_listener& operator=(unix_listener&&) noexcept;
  /// Closes (close()).
  ~unix_listener();

  /// Creates the socket file at path and listens on it. Throws std::system_error naming the path
  /// (address_in_use: a live listener or another file is there; no such directory; permission
  /// denied), std::invalid_argument for an empty path, std::system_error (filename_too_long) past
  /// 107 bytes. Worker only (usage_error).
  static unix_listener bind(const std::string& path, unix_listen_options options = {});

  class accept_awaiter;
  /// Waits for the next connection. Its socket lives on this listener's worker's event loop, as
  /// tcp_listener::accept().
  accept_awaiter accept();
  /// Accepts onto the event loop of worker `target` (modulo the worker count); -1: this
  /// listener's worker.
  accept_awaiter accept_on(int target);

  /// The path bound.
  std::string path() const;
  /// Stops listening and removes the socket file (unix_listen_options::unlink_on_close); a pending
  /// accept ends with an error. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept;

  class accept_awaiter : detail::accept_op {
   public:
    accept_awaiter(unix_listener& l, int target_worker);
    using detail::accept_op::await_ready;
    using detail::accept_op::await_suspend;
    unix_stream await_resume();
  };

 private:
  detail::acceptor_ptr impl_;
};

}  // namespace coreio::net
