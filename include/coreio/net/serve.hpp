// coreio/net/serve.hpp — serve(): asyncio's start_server. One task per connection, spread over
// the workers, a connection limit, and a handle to stop accepting and wait for the connections.
//
// The accept loop runs on the listener's worker. By default every accepted socket stays on that
// worker's event loop (one loop does the connections' IO, as Tokio's one IO driver), its handler
// task is spawned there, and the other workers take tasks from its run queue when it has a
// backlog (runtime_options::wake_backlog); serve_options::spread places each socket on the next
// worker in turn instead, one loop per worker.
// Cancelling (stop()) ends the accept loop at once; open connections run on until their handlers
// return. Destroying the runtime cancels them like any task. Handler exceptions are counted and
// otherwise dropped (one bad connection does not stop the server).
// Task names (dump_tasks, the tracer, the per-name metrics): the accept loop is
// "net.serve.accept", each connection's task "net.serve.connection".
//
// Thread safety: server: stop(), counters from any thread; wait() from a task.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include <coreio/net/tcp_listener.hpp>
#include <coreio/net/tcp_stream.hpp>
#include <coreio/task.hpp>

namespace coreio::detail {
struct server_state;
}

namespace coreio::net {

struct serve_options {
  /// At most this many connections are handled at once; accept waits for one to end. 0: no limit.
  std::size_t max_connections = 0;
  /// Place accepted connections on every worker in turn (true) or all on the listener's (false).
  /// Measured on 2 CPUs shared with the load generator (echo through an accept loop, 2 workers, 50
  /// connections, 3 interleaved rounds): false 71-107k round trips a second at p99 0.58-0.96 ms,
  /// true 66-80k at 1.7-7.9 ms (a worker that the OS deschedules holds half of the sockets). A
  /// handler that computes 50 us a message gets 0.87-0.89x of true's rate with false. true may also
  /// suit many CPUs, where one loop's IO could become the bottleneck (not measured here).
  bool spread = false;
};

/// The handler of one connection.
using connection_handler = std::function<task<void>(tcp_stream)>;

class server {
 public:
  server() = default;
  /// Stops accepting (the listener is closed). Open connections go on. Idempotent; any thread.
  void stop();
  /// Waits until accepting has stopped and every connection handler has ended.
  task<void> wait();
  /// Connections being handled now.
  std::size_t active() const;
  /// Connections accepted so far.
  std::uint64_t accepted() const;
  /// Handlers that ended with an exception.
  std::uint64_t failed() const;
  std::uint16_t port() const;

 private:
  friend server serve(tcp_listener, connection_handler, serve_options);
  explicit server(std::shared_ptr<detail::server_state> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::server_state> s_;
};

/// Starts serving on listener: handler(stream) runs as its own task per connection. Worker only.
///
/// Example:
///   auto srv = coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", 0),
///       [](coreio::net::tcp_stream s) -> coreio::task<void> { ... });
server serve(tcp_listener listener, connection_handler handler, serve_options options = {});

}  // namespace coreio::net
