// sched/context.hpp — the thread-local "current worker" of the calling thread.
#pragma once

namespace coreio::detail {
class worker;
/// Set by a worker thread at start (to itself) and at exit (to null). That thread only.
void set_current_worker(worker* w) noexcept;
}  // namespace coreio::detail
