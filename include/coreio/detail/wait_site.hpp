// coreio/detail/wait_site.hpp — what a suspended thread of execution waits on, for dump_tasks.
//
// Protocol: every suspension point that arms a cancel node first records, on the cancel scope of
// its thread of execution (cancel_scope::note_wait), a pointer to one of the static wait_sites
// below and an argument whose meaning the kind fixes:
//   sleep, wait_for, timeout   the deadline, steady_clock nanoseconds since its epoch
//   socket_*                   the socket's descriptor (-1: unknown)
//   join                       the awaited task's id
//   gather                     the number of children
//   anything else              0
// The record is left in place when the task resumes: it is meaningful while the scope has a node
// armed (cancel_scope::waiting()), which every recording suspension point arms after recording
// (uncancellable parks one that ignores the cancel, so a cancelled task's clean-up shows too).
// The sites are static, so a reader on another thread may dereference the pointer whatever the
// task does meanwhile (src/sched/task_dump.cpp reads them under the registry's shard lock).
//
// Cost: two stores (relaxed and release) per suspension, no allocation.
#pragma once

#include <cstdint>

namespace coreio::detail {

enum class wait_kind : std::uint8_t {
  other,
  sleep,
  wait_for,
  timeout,
  socket_read,
  socket_write,
  socket_accept,
  socket_connect,
  socket_io,
  lock,
  semaphore,
  event,
  condition,
  latch,
  barrier,
  queue_get,
  queue_put,
  queue_join,
  future,
  blocking,
  join,
  gather,
  task_group,
  shield,
  as_completed,
  uncancellable,
};

/// A static description of a suspension point: its kind and a stable name for JSON
/// ("sleep", "socket_read", "lock", ...).
struct wait_site {
  wait_kind kind;
  const char* name;
};

namespace wait_sites {
inline constexpr wait_site sleep{wait_kind::sleep, "sleep"};
inline constexpr wait_site wait_for{wait_kind::wait_for, "wait_for"};
inline constexpr wait_site timeout{wait_kind::timeout, "timeout"};
inline constexpr wait_site socket_read{wait_kind::socket_read, "socket_read"};
inline constexpr wait_site socket_write{wait_kind::socket_write, "socket_write"};
inline constexpr wait_site socket_accept{wait_kind::socket_accept, "socket_accept"};
inline constexpr wait_site socket_connect{wait_kind::socket_connect, "socket_connect"};
inline constexpr wait_site socket_io{wait_kind::socket_io, "socket_io"};
inline constexpr wait_site lock{wait_kind::lock, "lock"};
inline constexpr wait_site semaphore{wait_kind::semaphore, "semaphore"};
inline constexpr wait_site event{wait_kind::event, "event"};
inline constexpr wait_site condition{wait_kind::condition, "condition"};
inline constexpr wait_site latch{wait_kind::latch, "latch"};
inline constexpr wait_site barrier{wait_kind::barrier, "barrier"};
inline constexpr wait_site queue_get{wait_kind::queue_get, "queue_get"};
inline constexpr wait_site queue_put{wait_kind::queue_put, "queue_put"};
inline constexpr wait_site queue_join{wait_kind::queue_join, "queue_join"};
inline constexpr wait_site future{wait_kind::future, "future"};
inline constexpr wait_site blocking{wait_kind::blocking, "to_thread"};
inline constexpr wait_site join{wait_kind::join, "join"};
inline constexpr wait_site gather{wait_kind::gather, "gather"};
inline constexpr wait_site task_group{wait_kind::task_group, "task_group"};
inline constexpr wait_site shield{wait_kind::shield, "shield"};
inline constexpr wait_site as_completed{wait_kind::as_completed, "as_completed"};
inline constexpr wait_site uncancellable{wait_kind::uncancellable, "uncancellable"};
}  // namespace wait_sites

}  // namespace coreio::detail
