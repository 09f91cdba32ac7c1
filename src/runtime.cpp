// runtime.cpp — building, spawning on and shutting down a runtime (protocol: runtime_impl.hpp).
#include "runtime_impl.hpp"

#include <pthread.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <coreio/log.hpp>

#include "sched/context.hpp"
#include "sched/task_dump.hpp"
#include "sched/task_text.hpp"
#include "trace/span.hpp"

namespace coreio::detail {

namespace {
std::uint32_t resolve_workers(std::size_t requested) {
  if (requested != 0) return static_cast<std::uint32_t>(requested);
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

runtime_options checked(runtime_options o) {
  const std::uint32_t c = o.local_queue_capacity;
  if (c < 4 || (c & (c - 1)) != 0) {
    throw std::invalid_argument(
        "coreio: runtime_options.local_queue_capacity must be a power of two >= 4");
  }
  if (o.workers > 65534)
    throw std::invalid_argument("coreio: runtime_options.workers must be <= 65534");
  if (o.blocking_threads == 0) {
    throw std::invalid_argument("coreio: runtime_options.blocking_threads must be >= 1");
  }
  if (o.slow_callback_duration.count() <= 0) {
    throw std::invalid_argument("coreio: runtime_options.slow_callback_duration must be > 0");
  }
  if (o.blocking_keep_alive.count() < 0) {
    throw std::invalid_argument("coreio: runtime_options.blocking_keep_alive must be >= 0");
  }
  return o;
}
}  // namespace

runtime_impl::runtime_impl(const runtime_options& options)
    : idle_(resolve_workers(checked(options).workers)),
      registry_(resolve_workers(options.workers)),
      blocking_(options.blocking_threads, options.blocking_keep_alive),
      monitor_(*this, options.monitor_interval) {
  const std::uint32_t n = resolve_workers(options.workers);
  trace_path_ = options.trace_path;
  if (const char* env = std::getenv("COREIO_TRACE"); trace_path_.empty() && env != nullptr) {
    trace_path_ = env;
  }
  const char* debug_env = std::getenv("COREIO_DEBUG");
  debug_ = options.debug || (debug_env != nullptr && std::string_view(debug_env) == "1");
  const char* metrics_env = std::getenv("COREIO_METRICS");
  if (options.metrics_histograms ||
      (metrics_env != nullptr && std::string_view(metrics_env) == "1")) {
    name_stats_ = std::make_unique<name_stats>();
  }
  if (trace::trace_compiled && !trace_path_.empty()) {
    tracer_ = std::make_unique<trace::tracer>(n, std::max<std::size_t>(options.trace_events, 2));
    trace::tracing_runtimes.fetch_add(1, std::memory_order_relaxed);  // a hint (span.hpp)
  }
  workers_.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i, options));
    if (tracer_) workers_[i]->attach_trace(&tracer_->buffer(i));
    if (debug_) workers_[i]->enable_debug(options.slow_callback_duration);
    if (name_stats_) workers_[i]->enable_histograms(name_stats_.get());
  }
  threads_.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      std::string name = "coreio-w" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      workers_[i]->run();
    });
  }
  const char* pin_env = std::getenv("COREIO_PIN_WORKERS");
  if (options.pin_workers || (pin_env != nullptr && std::string_view(pin_env) == "1")) {
    pin_workers();
  }
  monitor_.start();
  if (debug_) {
    watchdog_ = std::make_unique<watchdog>(*this, options.slow_callback_duration);
    watchdog_->start();
  }
}

void runtime_impl::pin_workers() noexcept {
  // Bound from here, before the constructor returns, rather than by each worker as it starts: a
  // caller that inspects the threads' affinity after building the runtime sees it in place.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  if (cpus.empty()) return;
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[i % cpus.size()], &one);
    (void)pthread_setaffinity_np(threads_[i].native_handle(), sizeof one, &one);  // best effort
  }
}

void runtime_impl::report_pending(const char* what, std::size_t max) const {
  const std::string tree = dump_task_graph(registry_, task_dump_format::text, max);
  if (tree.empty()) return;
  log(log_level::warning, std::string(what) + ":\n" + tree.substr(0, tree.size() - 1));
}

runtime_impl::~runtime_impl() {
  if (worker* w = this_worker(); w != nullptr && &w->rt() == this) {
    std::fputs("coreio: a runtime was destroyed from one of its own worker threads; aborting\n",
               stderr);
    std::abort();
  }
  if (blocking_.on_pool_thread()) {
    std::fputs(
        "coreio: a runtime was destroyed from one of its own blocking-pool threads (to_thread); "
        "aborting\n",
        stderr);
    std::abort();
  }
  // Debug mode: what is still pending when shutdown begins (asyncio: "Task was destroyed but it
  // is pending!").
  if (debug_) {
    try {
      report_pending("pending at shutdown", 20);
    } catch (...) {  // out of memory: the report is dropped
    }
  }
  // Step 1.
  closing_.store(true, std::memory_order_seq_cst);
  // Step 2.
  registry_.cancel_all();
  // Step 3.
  {
    std::unique_lock<std::mutex> lk(drain_mu_);
    auto last_progress = std::chrono::steady_clock::now();
    std::size_t last_alive = registry_.alive();
    while (last_alive != 0) {
      drain_cv_.wait_for(lk, std::chrono::milliseconds(1));
      std::size_t alive = registry_.alive();
      auto now = std::chrono::steady_clock::now();
      if (alive != last_alive) {
        last_progress = now;
      } else if (now - last_progress > std::chrono::seconds(5)) {
        log(log_level::warning,
            "runtime shutdown is waiting for " + std::to_string(alive) + " task(s) to end");
        try {
          report_pending("shutdown waits for", 20);
        } catch (...) {  // out of memory: the list is dropped
        }
        last_progress = now;
      }
      last_alive = alive;
    }
  }
  // Step 3b.
  blocking_.close_and_join();
  // Step 4. Release pairs with the acquire in stopping().
  monitor_.stop();
  if (watchdog_) watchdog_->stop();
  stopping_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->remote().wake();
  for (auto& t : threads_) t.join();
  // Step 5. Acquire pairs with remote_exit's release.
  while (remote_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  // Step 6.
  for (auto& w : workers_) w->run_leftovers();
  // The trace, now that no worker records any more.
  if (tracer_) {
    trace::tracing_runtimes.fetch_sub(1, std::memory_order_relaxed);  // a hint (span.hpp)
    try {
      tracer_->write_file(trace_path_);
    } catch (const std::exception& e) {
      coreio::log(log_level::error, std::string("cannot write the trace: ") + e.what());
    }
  }
}

void runtime_impl::push_global(std::coroutine_handle<> h) { push_global_entry(h.address()); }

void runtime_impl::push_global_entry(void* entry) {
  remote_call guard(*this);
  global_.push(entry);
  // seq_cst fence: idle.hpp step 1 — the push is ordered before reading who sleeps.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  notify_one_parked();
}

void runtime_impl::notify_one_parked() {
  int w = idle_.pick_sleeper_to_wake();
  if (w >= 0) workers_[static_cast<std::size_t>(w)]->remote().wake();
}

void runtime_impl::submit_blocking(blocking_job* job) {
  // Relaxed: an early refusal only (step 1); close_and_join's lock is the barrier (step 3b).
  if (closing_.load(std::memory_order_relaxed)) {
    job->complete(job, blocking_job::action::drop);
    throw runtime_closed();
  }
  blocking_.submit(job);
}

void submit_blocking(runtime_impl* rt, blocking_job* job) { rt->submit_blocking(job); }

void runtime_impl::task_ended(promise_base* p) {
  registry_.unlink(p);
  // Relaxed: a missed notification costs the drain loop at most its 1 ms timed wait.
  if (closing_.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> g(drain_mu_);
    drain_cv_.notify_all();
  }
}

runtime_metrics runtime_impl::metrics() const {
  runtime_metrics m;
  m.workers.reserve(workers_.size());
  for (const auto& w : workers_) {
    m.workers.push_back(w->remote().snapshot());
    m.tasks_spawned += w->remote().spawned();
    m.tasks_completed += w->remote().completed();
  }
  m.tasks_spawned += external_spawned_.load(std::memory_order_relaxed);
  m.tasks_alive = registry_.alive();
  m.global_queue_depth = global_.size_approx();
  const blocking_pool::counters b = blocking_.snapshot();
  m.blocking_threads = b.threads;
  m.blocking_idle_threads = b.idle_threads;
  m.blocking_queue_depth = b.queued;
  m.blocking_jobs_completed = b.completed;
  if (name_stats_) m.task_names = name_stats_->snapshot();
  return m;
}

}  // namespace coreio::detail

namespace coreio {

runtime::runtime(runtime_options options)
    : impl_(std::make_unique<detail::runtime_impl>(options)) {}

runtime::~runtime() = default;

runtime_metrics runtime::metrics() const { return impl_->metrics(); }

std::size_t runtime::workers() const noexcept { return impl_->worker_count(); }

bool runtime::tracing() const noexcept { return impl_->tracer() != nullptr; }

void runtime::write_trace(const std::string& path) const {
  const detail::trace::tracer* t = impl_->tracer();
  if (t == nullptr) {
    detail::throw_usage(
        "runtime::write_trace: tracing is off (runtime_options::trace_path, "
        "COREIO_TRACE)");
  }
  t->write_file(path);
}

}  // namespace coreio
