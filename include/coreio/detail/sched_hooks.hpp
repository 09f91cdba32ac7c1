// coreio/detail/sched_hooks.hpp — the scheduler entry points that public templates call.
//
// The scheduler itself (workers, queues, parking, timers) lives in src/ and is never included by
// users; templates reach it only through these functions. Each says which threads may call it.
#pragma once

#include <coroutine>
#include <cstdint>

namespace coreio::detail {

class worker;        // src/sched/worker.hpp: one per worker thread
class runtime_impl;  // src/runtime_impl.hpp: shared state of one runtime
struct promise_base;
struct blocking_job;  // detail/blocking_job.hpp: one type-erased to_thread call

/// The calling thread's worker (set by the worker thread itself at its start and end: its own
/// copy only). constinit: read without a thread_local wrapper call.
extern constinit thread_local worker* t_current;
/// Its index, -1 with no worker (set with t_current).
extern constinit thread_local int t_current_index;

/// The worker running the calling thread, or null on a thread that is not a worker. Any thread.
inline worker* this_worker() noexcept { return t_current; }
/// The runtime of the calling worker, or null. Any thread.
runtime_impl* this_runtime() noexcept;

/// Makes h ready (a wake-up). On a worker of rt: the back of that worker's run queue, so tasks run
/// in the order they became ready. Elsewhere: rt's global queue, waking a parked worker. Any thread.
void schedule(runtime_impl* rt, std::coroutine_handle<> h) noexcept;
/// Pushes a forked child (gather) on the calling worker's fork deque, where idle workers may steal
/// it. Worker only.
void push_fork(std::coroutine_handle<> h) noexcept;
/// Queues h behind every task ready on the calling worker (asyncio.sleep(0)). Worker only.
void yield_to_back(std::coroutine_handle<> h) noexcept;

/// Queues job on rt's blocking pool (src/sched/blocking_pool.hpp). The pool owns the job from the
/// call on, also when it throws: a refused job is destroyed without running. Throws runtime_closed
/// once rt has begun shutting down (runtime_impl.hpp, step 1). Any thread.
void submit_blocking(runtime_impl* rt, blocking_job* job);

/// Metrics: n forked children were created / have finished, counted on the calling worker (a
/// gather counts its children's ends once, when it resumes). Worker only.
void count_child_spawned(std::uint32_t n) noexcept;
void count_child_completed(std::uint32_t n = 1) noexcept;

/// Frame allocation (mimalloc when COREIO_MIMALLOC). Any thread.
void* frame_alloc(std::size_t size);
void frame_free(void* p, std::size_t size) noexcept;
/// "mimalloc" or "operator new": what frame_alloc uses in this build (tests, diagnostics).
const char* frame_allocator_name() noexcept;

}  // namespace coreio::detail
