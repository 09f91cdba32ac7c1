// sched/context.cpp — the hooks of detail/sched_hooks.hpp: thread-local current worker, scheduling
// entry points, root-task lifecycle and metrics counting.
#include "sched/context.hpp"

#include <coreio/detail/sched_hooks.hpp>
#include <coreio/spawn.hpp>

#include "runtime_impl.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

namespace {
thread_local worker* t_current = nullptr;
}  // namespace

void set_current_worker(worker* w) noexcept { t_current = w; }

worker* this_worker() noexcept { return t_current; }

runtime_impl* this_runtime() noexcept { return t_current ? &t_current->rt() : nullptr; }

void schedule(runtime_impl* rt, std::coroutine_handle<> h) noexcept {
  worker* w = t_current;
  if (w != nullptr && &w->rt() == rt) w->schedule_lifo(h);
  else rt->inject(h);
}

void push_local(std::coroutine_handle<> h) noexcept { t_current->push_local(h); }

void yield_to_back(std::coroutine_handle<> h) { t_current->yield_to_back(h); }

void root_spawn(runtime_impl* rt, promise_base* p, std::coroutine_handle<> h) {
  rt->spawn_root(p, h);
}

std::coroutine_handle<> root_complete(promise_base* p, std::coroutine_handle<> h) noexcept {
  p->rt_->root_ended(p);
  if (t_current) t_current->count_completed();
  async_waiter* w = p->cell_.complete();
  // Read before dropping our reference: w lives in the waiter's frame, which the waiter (suspended
  // until we resume it) cannot free, but copy it anyway so that nothing below touches shared state.
  std::coroutine_handle<> next = std::noop_coroutine();
  if (w != nullptr) {
    if (w->rt == p->rt_) next = w->handle;  // same runtime: run it here by symmetric transfer
    else schedule(w->rt, w->handle);        // a task of another runtime resumes on its own pool
  }
  if (p->cell_.release_ref()) h.destroy();
  return next;
}

void root_release(promise_base* p, std::coroutine_handle<> h) noexcept {
  if (p->cell_.release_ref()) h.destroy();
}

void count_child_spawned(std::uint32_t n) noexcept { t_current->count_spawned(n); }

void count_child_completed() noexcept { t_current->count_completed(); }

}  // namespace coreio::detail

namespace coreio {
int current_worker() noexcept {
  detail::worker* w = detail::t_current;
  return w ? static_cast<int>(w->index()) : -1;
}
}  // namespace coreio
