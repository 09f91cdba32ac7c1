// coreio/detail/coop.hpp — the per-poll budget that makes every resource cooperative (Tokio's coop).
//
// A task that always finds its resource ready (an item in the queue, a free mutex, a set event, a
// ready future, a socket with data) would never suspend and so would starve every other task,
// timer and socket of its worker. So each poll of a task gets a budget of `coop_budget_per_poll`
// operations (Tokio uses 128 as well). An operation that completes without suspending spends one
// unit (coop_take); once the budget is spent, the operation still completes, and the task then
// goes behind the ready work (yield_to_back) before it continues, exactly as yield_now() does.
// While budget remains, asyncio's "take without suspending" holds.
//
// Pattern, for an awaiter whose await_ready can complete the operation at once:
//   bool await_ready() { if (!try_complete()) return false; coop_.completed = true;
//                        return coop_.take(); }
//   bool await_suspend(h) { if (coop_.completed) return coop_.yield(h); ...the waiting path... }
//
// Thread safety: the budget is thread-local to a worker; the worker resets it before each poll.
#pragma once

#include <coroutine>
#include <cstdint>

#include <coreio/detail/sched_hooks.hpp>

namespace coreio::detail {

/// Operations a poll may complete without suspending.
inline constexpr std::uint32_t coop_budget_per_poll = 128;

/// What is left of the running poll's budget. Written by the worker before each poll and by
/// coop_take; the calling thread only. Zero on a thread that is not a worker.
inline thread_local std::uint32_t t_coop_budget = 0;

/// Spends one unit; false when the budget is spent (the caller must yield).
inline bool coop_take() noexcept {
  if (t_coop_budget == 0) return false;
  --t_coop_budget;
  return true;
}

/// The state an awaiter keeps for the pattern in the file comment.
struct coop_point {
  /// The operation completed without suspending (its result is in the awaiter).
  bool completed = false;
  /// Spends one unit of budget; false: spent, go through await_suspend and yield.
  bool take() noexcept { return coop_take(); }
  /// The budget is spent: queue h behind the ready tasks. Returns true (suspend).
  bool yield(std::coroutine_handle<> h) {
    yield_to_back(h);
    return true;
  }
};

}  // namespace coreio::detail
