// http/server_tasks.hpp — the tasks the server spawns, each under a fixed name (dump_tasks, the
// tracer's poll slices, the per-name metrics and coreio-top), interned once per process instead
// of once per spawn (spawn(t, name) interns under a lock: coreio/spawn.hpp).
//
//   http.server.accept       one per listener when there are several (reuse_port): accepts and
//                            spawns connections (server.cpp); with one listener, net::serve's
//                            net.serve.accept does, and its net.serve.connection task awaits
//                            the http.server.connection below
//   http.server.connection   one per connection: reads requests, runs handlers, writes responses
//   http.server.handler      with handler_cancellation: the handler, cancelled if the peer leaves
//   http.server.watch_peer   beside it: reads the socket to see the peer leave
//   http.server.send_sweeper one per server with a send_timeout: closes connections whose response
//                            write waited past it
//
// Worker only (a task on the runtime), as coreio::spawn.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <source_location>

#include <coreio/spawn.hpp>

namespace coreio::http::detail {

enum class server_task : std::uint8_t { accept, connection, handler, watch_peer, send_sweeper };

inline std::uint32_t server_task_name(server_task k) {
  static const std::array<std::uint32_t, 5> ids = {
      coreio::detail::intern_task_name("http.server.accept"),
      coreio::detail::intern_task_name("http.server.connection"),
      coreio::detail::intern_task_name("http.server.handler"),
      coreio::detail::intern_task_name("http.server.watch_peer"),
      coreio::detail::intern_task_name("http.server.send_sweeper"),
  };
  return ids[static_cast<std::size_t>(k)];
}

/// coreio::spawn(t, name) with k's name.
template <class T>
join_handle<T> spawn_server_task(task<T> t, server_task k,
                                 std::source_location where = std::source_location::current()) {
  coreio::detail::runtime_impl* rt = coreio::detail::this_runtime();
  if (rt == nullptr) coreio::detail::throw_usage("coreio::http::server outside a runtime");
  return coreio::detail::spawn_task(rt, std::move(t), {server_task_name(k), where});
}

}  // namespace coreio::http::detail
