// net/serve.cpp — serve(): the accept loop, per-connection tasks, limit and drain.
//
// Shared state (server_state) is owned by the server handle(s), the accept loop and every
// connection task (shared_ptr). Its counters and the accept loop's slot waiter are guarded by mu;
// the critical sections are a few instructions and never suspend. "Drained" (the accept loop has
// ended and no connection is active) is final, so it is an event set once: wait() waits on it, and a
// wait() that is cancelled or times out leaves nothing behind (a list of promises, one per wait()
// call, grew by one for every such wait for as long as the server lived). The accept loop's join handle is kept only while the
// loop runs (so stop() can cancel it) and is detached by the loop as it ends, which breaks the
// state -> handle -> frame -> state cycle.
#include <coreio/net/serve.hpp>

#include <coreio/future.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/time.hpp>

#include <mutex>
#include <optional>
#include <source_location>
#include <vector>

#include "net/sockets.hpp"
#include "runtime_impl.hpp"

namespace coreio::detail {

struct server_state {
  net::tcp_listener listener;
  net::connection_handler handler;
  net::serve_options options;
  runtime_impl* rt = nullptr;
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> failed{0};

  std::mutex mu;
  std::size_t active = 0;                    // guarded by mu
  bool loop_done = false;                    // guarded by mu
  join_handle<void> loop;                    // guarded by mu
  std::optional<promise<void>> slot_waiter;  // guarded by mu
  // Set once, when loop_done and active == 0 first hold together (decided under mu).
  event drained;
};

namespace {

// The name a task of serve's is spawned under (serve.hpp), interned once per process, and the
// place (the caller's line).
spawn_site serve_site(bool accept, std::source_location where = std::source_location::current()) {
  static const std::uint32_t accept_name = intern_task_name("net.serve.accept");
  static const std::uint32_t connection_name = intern_task_name("net.serve.connection");
  return {accept ? accept_name : connection_name, where};
}

void connection_ended(const std::shared_ptr<server_state>& st) {
  std::optional<promise<void>> slot;
  bool drained = false;
  {
    std::lock_guard<std::mutex> g(st->mu);
    --st->active;
    if (st->slot_waiter) {
      slot = std::move(st->slot_waiter);
      st->slot_waiter.reset();
    }
    drained = st->active == 0 && st->loop_done;
  }
  if (slot) slot->set_value();
  if (drained) st->drained.set();
}

// Spawned under must_start, so that connection_ended always runs; the handler, the user's code,
// starts only if the connection was not cancelled before this task first ran (runtime shutdown),
// as any task's body (detail/promise_base.hpp).
task<void> run_connection(std::shared_ptr<server_state> st, net::tcp_stream s) {
  const cancel_scope* scope = co_await current_scope_awaiter{};
  if (!scope->cancelled()) {
    try {
      co_await st->handler(std::move(s));
    } catch (...) {
      // Relaxed: a statistic.
      st->failed.fetch_add(1, std::memory_order_relaxed);
    }
  }
  connection_ended(st);
}

/// Spawns the connection's task on the worker that owns its socket.
void start_connection(const std::shared_ptr<server_state>& st, net::tcp_stream s, worker* owner) {
  task<void> t = must_start(run_connection(st, std::move(s)));
  on_owner(owner, [st, t = std::move(t)]() mutable {
    try {
      spawn_task(st->rt, std::move(t), serve_site(false)).detach();
    } catch (...) {
      // runtime_closed: the frame was destroyed unrun; account for the connection here.
      connection_ended(st);
    }
  });
}

bool transient_accept_error(const std::error_code& ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory ||
         ec == std::errc::connection_aborted;
}

// Spawned under must_start (serve()): a stop() before it first runs still closes the listener and
// marks the loop done here.
task<void> accept_loop(std::shared_ptr<server_state> st) {
  const std::uint32_t workers = st->rt->worker_count();
  std::uint32_t next = 0;
  try {
    // Relaxed: stop() also cancels this task, which interrupts any wait; the flag only ends the loop.
    while (!st->stopping.load(std::memory_order_relaxed)) {
      std::optional<future<void>> slot;
      {
        std::lock_guard<std::mutex> g(st->mu);
        if (st->options.max_connections != 0 && st->active >= st->options.max_connections) {
          st->slot_waiter.emplace();
          slot = st->slot_waiter->get_future();
        }
      }
      if (slot) {
        co_await *slot;
        continue;
      }
      const int target = st->options.spread ? static_cast<int>(next++ % workers) : -1;
      net::tcp_stream s;
      std::error_code failure;
      try {
        s = co_await st->listener.accept_on(target);
      } catch (const std::system_error& e) {
        failure = e.code();
      }
      if (failure) {
        if (st->stopping.load(std::memory_order_relaxed) || !st->listener.is_open()) break;
        // Out of descriptors or memory: back off instead of spinning on the same error.
        if (transient_accept_error(failure)) co_await sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      {
        std::lock_guard<std::mutex> g(st->mu);
        ++st->active;
      }
      st->accepted.fetch_add(1, std::memory_order_relaxed);
      worker* owner = stream_access::owner(s);
      start_connection(st, std::move(s), owner);
    }
  } catch (const cancelled_error&) {
  }
  st->listener.close();
  bool drained = false;
  {
    std::lock_guard<std::mutex> g(st->mu);
    st->loop_done = true;
    if (st->loop.valid()) st->loop.detach();
    if (st->slot_waiter) st->slot_waiter.reset();
    drained = st->active == 0;
  }
  if (drained) st->drained.set();
}

}  // namespace
}  // namespace coreio::detail

namespace coreio::net {

server serve(tcp_listener listener, connection_handler handler, serve_options options) {
  detail::worker* w = detail::require_worker("coreio::net::serve outside a runtime");
  if (!handler) detail::throw_usage("coreio::net::serve needs a handler");
  auto st = std::make_shared<detail::server_state>();
  st->port = listener.port();
  st->listener = std::move(listener);
  st->handler = std::move(handler);
  st->options = options;
  st->rt = &w->rt();
  join_handle<void> h = detail::spawn_task(st->rt, detail::must_start(detail::accept_loop(st)),
                                           detail::serve_site(true));
  {
    std::lock_guard<std::mutex> g(st->mu);
    if (!st->loop_done) st->loop = std::move(h);
  }
  return server(std::move(st));
}

void server::stop() {
  if (!s_) return;
  s_->stopping.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> g(s_->mu);
  if (s_->loop.valid()) s_->loop.cancel();
}

task<void> server::wait() {
  if (!s_) co_return;
  // Keeps the state alive while waiting, whatever happens to the handle meanwhile.
  std::shared_ptr<detail::server_state> st = s_;
  co_await st->drained.wait();
}

std::size_t server::active() const {
  if (!s_) return 0;
  std::lock_guard<std::mutex> g(s_->mu);
  return s_->active;
}

std::uint64_t server::accepted() const {
  return s_ ? s_->accepted.load(std::memory_order_relaxed) : 0;
}
std::uint64_t server::failed() const { return s_ ? s_->failed.load(std::memory_order_relaxed) : 0; }
std::uint16_t server::port() const { return s_ ? s_->port : 0; }

}  // namespace coreio::net
