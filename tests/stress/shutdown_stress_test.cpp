// Shutdown with work in flight: 200 times, build a runtime, spawn 1,000 tasks that mix sleeps,
// yields, nested gathers, futures (fed by tasks and by a plain thread) and spawns, then destroy the
// runtime, at once on odd iterations, once every root task has started on even ones (a task the
// shutdown cancels before it first runs never runs its body). Destruction must neither hang nor
// crash, and every task must be accounted for: each body that started unwound exactly once, each
// frame was freed, each outcome is one of the allowed ones.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "stress_support.hpp"

namespace {

using namespace std::chrono_literals;

struct counts {
  // Root tasks.
  std::atomic<std::uint64_t> started{0}, cleaned{0}, frames{0};
  std::atomic<std::uint64_t> finished{0}, cancelled{0}, broken{0}, closed{0}, other{0};
  // Everything below a root: gathered children and tasks spawned by tasks.
  std::atomic<std::uint64_t> sub_started{0}, sub_cleaned{0}, sub_made{0}, sub_frames{0};
};

/// Bumps a counter when the scope it lives in unwinds, whichever way it leaves.
struct cleanup {
  std::atomic<std::uint64_t>& c;
  ~cleanup() { c.fetch_add(1, std::memory_order_relaxed); }
};

/// Passed by value into a coroutine: the copy in the frame counts when the frame is freed.
class frame_token {
 public:
  explicit frame_token(std::atomic<std::uint64_t>& c) : c_(&c) {}
  /// Also counts the frame as made in `made`.
  frame_token(std::atomic<std::uint64_t>& made, std::atomic<std::uint64_t>& freed) : c_(&freed) {
    made.fetch_add(1, std::memory_order_relaxed);
  }
  frame_token(frame_token&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  frame_token(const frame_token&) = delete;
  frame_token& operator=(const frame_token&) = delete;
  ~frame_token() {
    if (c_) c_->fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t>* c_;
};

coreio::task<int> leaf(counts& c, std::uint32_t seed, frame_token) {
  c.sub_started.fetch_add(1, std::memory_order_relaxed);
  cleanup g{c.sub_cleaned};
  std::minstd_rand rng(seed);
  if (rng() % 2 == 0) {
    co_await coreio::sleep_for(std::chrono::microseconds(rng() % 20'000));
  } else {
    for (std::uint32_t i = 0, n = rng() % 50; i < n; ++i) co_await coreio::yield_now();
  }
  co_return 1;
}

coreio::task<int> pair_of_leaves(counts& c, std::uint32_t seed, frame_token) {
  c.sub_started.fetch_add(1, std::memory_order_relaxed);
  cleanup g{c.sub_cleaned};
  auto [a, b] =
      co_await coreio::gather(leaf(c, seed * 2 + 1, frame_token{c.sub_made, c.sub_frames}),
                              leaf(c, seed * 2 + 2, frame_token{c.sub_made, c.sub_frames}));
  co_return a + b;
}

/// Sets p after a short sleep (or drops it: broken_promise on the other side).
coreio::task<void> producer(counts& c, coreio::promise<int> p, std::uint32_t seed, frame_token) {
  c.sub_started.fetch_add(1, std::memory_order_relaxed);
  cleanup g{c.sub_cleaned};
  std::minstd_rand rng(seed);
  co_await coreio::sleep_for(std::chrono::microseconds(rng() % 5'000));
  if (rng() % 4 != 0) p.set_value(7);
}

/// The root tasks, one of six kinds chosen by id.
coreio::task<int> root(counts& c, std::uint64_t id, coreio::future<int> fed_by_thread,
                       frame_token) {
  c.started.fetch_add(1, std::memory_order_relaxed);
  cleanup g{c.cleaned};
  const auto seed = static_cast<std::uint32_t>(id * 7919 + 1);
  try {
    int r = 0;
    switch (id % 6) {
      case 0:  // sleep
        co_await coreio::sleep_for(std::chrono::microseconds(seed % 30'000));
        break;
      case 1:  // yield loop
        for (int i = 0; i < 100; ++i) co_await coreio::yield_now();
        break;
      case 2: {  // nested gathers: 3 children, each gathering 2 leaves
        std::vector<coreio::task<int>> cs;
        for (std::uint32_t k = 0; k < 3; ++k)
          cs.push_back(pair_of_leaves(c, seed + k, frame_token{c.sub_made, c.sub_frames}));
        for (int v : co_await coreio::gather(std::move(cs))) r += v;
        break;
      }
      case 3: {  // a future fed by another task
        coreio::promise<int> p;
        coreio::future<int> f = p.get_future();
        coreio::spawn(producer(c, std::move(p), seed, frame_token{c.sub_made, c.sub_frames}))
            .detach();
        r = co_await f;
        break;
      }
      case 4:  // a future fed by a plain thread
        r = co_await fed_by_thread;
        break;
      case 5:  // spawns detached work in a loop (runtime_closed once shutdown has begun)
        for (std::uint32_t k = 0; k < 5; ++k) {
          coreio::spawn(leaf(c, seed + k, frame_token{c.sub_made, c.sub_frames})).detach();
          co_await coreio::yield_now();
        }
        break;
    }
    c.finished.fetch_add(1, std::memory_order_relaxed);
    co_return r;
  } catch (const coreio::cancelled_error&) {
    c.cancelled.fetch_add(1, std::memory_order_relaxed);
    throw;
  } catch (const coreio::broken_promise&) {
    c.broken.fetch_add(1, std::memory_order_relaxed);
    throw;
  } catch (const coreio::runtime_closed&) {
    c.closed.fetch_add(1, std::memory_order_relaxed);
    throw;
  } catch (...) {
    c.other.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
}

TEST(ShutdownStress, DestroyingRuntimeWithThousandTasksInFlight200Times) {
  const int iterations = 200;
  constexpr std::uint64_t per_iteration = 1'000;
  constexpr std::uint64_t thread_fed = (per_iteration + 1) / 6;  // ids with id % 6 == 4
  static_assert(thread_fed == 166);

  // A hang in ~runtime is reported with its iteration instead of waiting for the CTest timeout.
  std::atomic<int> progress{0};
  std::atomic<bool> stop{false};
  std::thread watchdog([&] {
    int last = -1;
    auto since = std::chrono::steady_clock::now();
    while (!stop.load()) {
      std::this_thread::sleep_for(100ms);
      const int now = progress.load();
      if (now != last) {
        last = now;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since > 120s) {
        std::fprintf(stderr, "ShutdownStress: iteration %d made no progress for 120 s; aborting\n",
                     now);
        std::abort();
      }
    }
  });

  for (int it = 0; it < iterations; ++it) {
    counts c;
    std::vector<coreio::join_handle<int>> kept;  // every 10th handle is kept, the rest detach
    {
      // The plain thread's promises; it fulfils them while the runtime is being destroyed.
      std::vector<coreio::promise<int>> fed(thread_fed);
      std::vector<coreio::future<int>> fed_f;
      for (auto& p : fed) fed_f.push_back(p.get_future());
      std::thread feeder;
      {
        coreio::runtime rt{
            coreio::runtime_options{.workers = static_cast<std::size_t>(1 + it % 4)}};
        std::size_t next_fed = 0;
        for (std::uint64_t id = 0; id < per_iteration; ++id) {
          coreio::future<int> f =
              id % 6 == 4 ? std::move(fed_f[next_fed++]) : coreio::future<int>{};
          auto h = rt.spawn(root(c, id, std::move(f), frame_token{c.frames}));
          if (id % 10 == 0) kept.push_back(std::move(h));
        }
        feeder = std::thread([&fed] {
          for (std::size_t i = 0; i < fed.size(); ++i) {
            if (i % 3 == 0) std::this_thread::yield();
            fed[i].set_value(static_cast<int>(i));
          }
        });
        if (it % 2 == 0) {
          // Bounded: a root that never starts fails the assertion below instead of hanging here.
          const auto until = std::chrono::steady_clock::now() + 60s;
          while (c.started.load() < per_iteration && std::chrono::steady_clock::now() < until) {
            std::this_thread::yield();
          }
        }
        // ~runtime here: cancel everything, wait for it, join the workers.
      }
      feeder.join();
    }
    progress.store(it + 1);

    // Every root task that started unwound once and ended one allowed way (the others were
    // cancelled before they first ran); all were freed (or are held by `kept`).
    if (it % 2 == 0) {
      ASSERT_EQ(c.started.load(), per_iteration) << "iteration " << it;
    }
    ASSERT_LE(c.started.load(), per_iteration) << "iteration " << it;
    ASSERT_EQ(c.cleaned.load(), c.started.load()) << "iteration " << it;
    ASSERT_EQ(c.finished + c.cancelled + c.broken + c.closed, c.started.load())
        << "iteration " << it;
    ASSERT_EQ(c.other.load(), 0u) << "iteration " << it;
    ASSERT_EQ(c.frames.load(), per_iteration - kept.size()) << "iteration " << it;
    for (auto& h : kept) {
      ASSERT_TRUE(h.done()) << "iteration " << it;
      try {
        (void)h.get();
      } catch (const coreio::cancelled_error&) {
      } catch (const coreio::broken_promise&) {
      } catch (const coreio::runtime_closed&) {
      }
    }
    kept.clear();
    ASSERT_EQ(c.frames.load(), per_iteration) << "iteration " << it;
    // Every sub-task that started also cleaned up, and every one made was freed.
    ASSERT_EQ(c.sub_started.load(), c.sub_cleaned.load()) << "iteration " << it;
    ASSERT_EQ(c.sub_frames.load(), c.sub_made.load()) << "iteration " << it;
    ASSERT_GE(c.sub_made.load(), c.sub_started.load()) << "iteration " << it;
  }
  stop.store(true);
  watchdog.join();
}

TEST(ShutdownStress, DestroyingIdleAndBusyRuntimesBackToBack) {
  // Runtimes that never ran anything, and runtimes with only sleepers, go away cleanly too.
  const int iterations = 200;
  for (int it = 0; it < iterations; ++it) {
    std::atomic<std::uint64_t> started{0}, unwound{0};
    {
      coreio::runtime rt{coreio::runtime_options{.workers = static_cast<std::size_t>(1 + it % 3)}};
      if (it % 2 == 1) {
        for (int i = 0; i < 100; ++i) {
          rt.spawn([](std::atomic<std::uint64_t>& s,
                      std::atomic<std::uint64_t>& u) -> coreio::task<void> {
              s.fetch_add(1, std::memory_order_relaxed);
              cleanup g{u};
              co_await coreio::sleep_for(std::chrono::hours(1));
            }(started, unwound))
              .detach();
        }
        // Every other time, once all sleep: then each one's sleep meets the shutdown's cancel.
        if (it % 4 == 1) {
          const auto until = std::chrono::steady_clock::now() + 60s;
          while (started.load() < 100 && std::chrono::steady_clock::now() < until) {
            std::this_thread::yield();
          }
        }
      }
    }
    // Those cancelled before they first ran never started; every one that started unwound once.
    if (it % 4 == 1) {
      ASSERT_EQ(started.load(), 100u) << "iteration " << it;
    }
    ASSERT_EQ(unwound.load(), started.load()) << "iteration " << it;
  }
}

}  // namespace
