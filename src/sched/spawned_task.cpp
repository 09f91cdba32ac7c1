// sched/spawned_task.cpp — steps 2, 7 and 9 of a spawned task's life (detail/spawned_task.hpp).
#include <coreio/detail/spawned_task.hpp>

#include "runtime_impl.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

void spawned_task_start(runtime_impl* rt, promise_base* p, std::coroutine_handle<> h) {
  if (!rt->tasks().link(p, rt->closing_flag())) throw runtime_closed();
  worker* w = this_worker();
  if (w != nullptr && &w->rt() == rt) {
    w->count_spawned(1);
    w->push_spawned(h);
  } else {
    rt->count_external_spawn();
    rt->push_global(h);
  }
}

namespace {
/// Drops one owner's reference; the last frees the frame and its state.
void release(spawned_state* st, std::coroutine_handle<> h) noexcept {
  if (st->cell.release_ref()) {
    h.destroy();
    delete st;
  }
}
}  // namespace

std::coroutine_handle<> spawned_task_complete(promise_base* p, std::coroutine_handle<> h) noexcept {
  spawned_state* st = p->spawned_;
  st->rt->task_ended(p);
  if (worker* w = this_worker()) w->count_completed();
  async_waiter* waiter = st->cell.complete();
  // Read before dropping our reference: the waiter lives in the joiner's frame, which the joiner
  // (suspended until we resume it) cannot free; nothing below touches shared state after the drop.
  std::coroutine_handle<> next = std::noop_coroutine();
  if (waiter != nullptr) {
    if (waiter->rt == st->rt)
      next = waiter->handle;                    // same runtime: run it here by symmetric transfer
    else schedule(waiter->rt, waiter->handle);  // a task of another runtime resumes on its own pool
  }
  release(st, h);
  return next;
}

void spawned_task_release(promise_base* p, std::coroutine_handle<> h) noexcept {
  release(p->spawned_, h);
}

}  // namespace coreio::detail
