// coreio/net/tcp_listener.hpp — a listening TCP socket (asyncio's start_server building block).
//
// Thread safety: distinct objects: safe. Shared objects: unsafe. Must not outlive its runtime.
#pragma once

#include <cstdint>
#include <string>

#include <coreio/detail/net_io.hpp>
#include <coreio/net/endpoint.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/task.hpp>

namespace coreio::net {

struct listen_options {
  /// Pending connections the kernel queues before accept.
  int backlog = 1024;
  /// SO_REUSEADDR: rebind a port in TIME_WAIT.
  bool reuse_address = true;
  /// SO_REUSEPORT: several listeners on one port, the kernel spreads connections.
  bool reuse_port = false;
};

class tcp_listener {
 public:
  tcp_listener() noexcept;
  tcp_listener(tcp_listener&&) noexcept;
  tcp_listener& operator=(tcp_listener&&) noexcept;
  /// Closes the listener (the port is free once this returns, when the owner's loop token can be
  /// taken here; else at the owner's next loop step), then frees it.
  ~tcp_listener();

  /// Binds and listens on host:port (port 0: any free port; see port()). host is a numeric address
  /// ("0.0.0.0" or "::" for every interface) or "localhost" in any case (127.0.0.1). Throws
  /// std::system_error (another name, "", a NUL byte, or the bind's error).
  /// Worker only.
  static tcp_listener bind(const std::string& host, std::uint16_t port,
                           listen_options options = {});

  class accept_awaiter;
  /// Waits for the next connection. Its socket lives on this listener's worker's event loop, as
  /// net::serve places them (serve.hpp): in the asyncio-style loop
  /// `for (;;) spawn(session(co_await lis.accept()));` that loop does the sessions' IO, and the
  /// other workers take session tasks from it when it has a backlog (runtime_options::
  /// wake_backlog). accept_on(i) places a socket on worker i's loop instead. A connection already
  /// queued in the backlog is taken at once, without suspending, while the task's poll has budget
  /// (detail/coop.hpp: 128 operations; then it yields once), so an accept loop drains a burst of
  /// connections in a few polls. Throws std::system_error (cancelled_error if cancelled).
  accept_awaiter accept();

  std::uint16_t port() const;
  endpoint local_endpoint() const;
  /// Stops listening; a pending accept ends with an error. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept;

  class accept_awaiter : detail::accept_op {
   public:
    accept_awaiter(tcp_listener& l, int target_worker);
    using detail::accept_op::await_ready;
    using detail::accept_op::await_suspend;
    tcp_stream await_resume();
  };

  /// Accepts onto the event loop of worker `target` (modulo the worker count); -1: this
  /// listener's worker.
  accept_awaiter accept_on(int target);

 private:
  detail::acceptor_ptr impl_;
};

}  // namespace coreio::net
