// sched/context.cpp — the hooks of detail/sched_hooks.hpp: the thread-local current worker and the
// scheduling entry points that public templates call.
#include "sched/context.hpp"

#include <coreio/detail/sched_hooks.hpp>
#include <coreio/spawn.hpp>

#include "runtime_impl.hpp"
#include "sched/worker.hpp"

namespace coreio::detail {

constinit thread_local worker* t_current = nullptr;
constinit thread_local int t_current_index = -1;

void set_current_worker(worker* w) noexcept {
  t_current = w;
  t_current_index = w ? static_cast<int>(w->index()) : -1;
}

runtime_impl* this_runtime() noexcept { return t_current ? &t_current->rt() : nullptr; }

void schedule(runtime_impl* rt, std::coroutine_handle<> h) noexcept {
  worker* w = t_current;
  if (w != nullptr && &w->rt() == rt) w->push_woken(h);
  else rt->push_global(h);
}

void push_fork(std::coroutine_handle<> h) noexcept { t_current->push_fork(h); }

void yield_to_back(std::coroutine_handle<> h) noexcept { t_current->push_yielded(h); }

void count_child_spawned(std::uint32_t n) noexcept { t_current->count_spawned(n); }

void count_child_completed(std::uint32_t n) noexcept { t_current->count_completed(n); }

}  // namespace coreio::detail
