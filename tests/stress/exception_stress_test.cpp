// Exceptions crossing threads, 100,000 at a time: thrown by tasks on workers and caught by plain
// threads through join_handle::get(), by a parent through gather, and set on promises by plain
// threads and caught by tasks awaiting the futures. Every exception carries the id of its origin,
// so the tests check not only how many arrived but that each is the right one.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

#include "stress_support.hpp"

namespace {

using coreio_stress::test_error;

/// Odd ids return their id, even ids throw test_error(id); both after a suspension, so the throw
/// happens on whichever worker resumed the task.
coreio::task<std::uint64_t> maybe_throw(std::uint64_t id) {
  co_await coreio::yield_now();
  if (id % 2 == 0) throw test_error(id);
  co_return id;
}

TEST(ExceptionStress, ThrowsOnWorkersAreCaughtByPlainThreadsViaGet) {
  // 100,000 tasks, spawned and observed by 4 plain threads.
  const std::uint64_t n = 100'000;
  constexpr std::uint64_t threads = 4;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  std::atomic<std::uint64_t> caught{0}, caught_ids{0}, values{0}, value_sum{0}, wrong{0};
  std::vector<std::thread> ts;
  for (std::uint64_t t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::vector<std::pair<std::uint64_t, coreio::join_handle<std::uint64_t>>> hs;
      for (std::uint64_t id = t; id < n; id += threads)
        hs.emplace_back(id, rt.spawn(maybe_throw(id)));
      for (auto& [id, h] : hs) {
        try {
          const std::uint64_t v = h.get();
          if (v != id || id % 2 == 0) wrong.fetch_add(1);
          values.fetch_add(1);
          value_sum.fetch_add(v);
        } catch (const test_error& e) {
          if (e.value != id || id % 2 != 0) wrong.fetch_add(1);
          caught.fetch_add(1);
          caught_ids.fetch_add(e.value);
        }
      }
    });
  }
  for (auto& th : ts) th.join();

  // Even ids: n/2 of them, summing to 2 * triangle(n/2); odd ids the rest.
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(caught.load(), n / 2);
  EXPECT_EQ(values.load(), n / 2);
  EXPECT_EQ(caught_ids.load(), 2 * coreio_stress::triangle(n / 2));
  EXPECT_EQ(caught_ids.load() + value_sum.load(), coreio_stress::triangle(n));
  EXPECT_EQ(rt.metrics().tasks_alive, 0u);
}

/// Child k of gather g: throws test_error(g * 10 + k) if it is one of the gather's failing children.
coreio::task<std::uint64_t> gather_child(std::uint64_t g, std::uint64_t k,
                                         std::uint64_t failing_mask,
                                         std::atomic<std::uint64_t>& cancelled) {
  try {
    if (k % 2 == 0) co_await coreio::yield_now();
    if (failing_mask & (std::uint64_t{1} << k)) throw test_error(g * 10 + k);
    co_await coreio::yield_now();
  } catch (const coreio::cancelled_error&) {
    cancelled.fetch_add(1);
    throw;
  }
  co_return 1;
}

/// Gathers of group g fail in child g % 10 if g % 3 == 0, in children g % 10 and (g + 5) % 10 if
/// g % 3 == 1, and never if g % 3 == 2.
std::uint64_t failing_mask(std::uint64_t g) {
  switch (g % 3) {
    case 0:
      return std::uint64_t{1} << (g % 10);
    case 1:
      return (std::uint64_t{1} << (g % 10)) | (std::uint64_t{1} << ((g + 5) % 10));
    default:
      return 0;
  }
}

TEST(ExceptionStress, GatherRethrowsTheFirstFailureOfEachGroup) {
  // 10,000 gathers of 10 children (100,000 tasks).
  const std::uint64_t groups = 10'000;
  std::atomic<std::uint64_t> cancelled{0};
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  struct outcome {
    std::uint64_t ok = 0, failed = 0, wrong = 0;
  };
  auto one_group = [&](std::uint64_t g) -> coreio::task<int> {
    std::vector<coreio::task<std::uint64_t>> cs;
    for (std::uint64_t k = 0; k < 10; ++k)
      cs.push_back(gather_child(g, k, failing_mask(g), cancelled));
    try {
      auto rs = co_await coreio::gather(std::move(cs));
      co_return rs.size() == 10 && failing_mask(g) == 0 ? 0 : 2;
    } catch (const test_error& e) {
      // The rethrown failure is one of this group's failing children.
      const std::uint64_t k = e.value - g * 10;
      co_return e.value >= g * 10 && k < 10 && (failing_mask(g) >> k & 1) ? 1 : 2;
    }
  };
  auto all = [&]() -> coreio::task<outcome> {
    // The groups run in parallel under one outer gather of 100-group batches.
    outcome o;
    for (std::uint64_t base = 0; base < groups; base += 100) {
      std::vector<coreio::task<int>> batch;
      for (std::uint64_t g = base; g < base + 100 && g < groups; ++g) batch.push_back(one_group(g));
      for (int r : co_await coreio::gather(std::move(batch))) {
        if (r == 0) ++o.ok;
        else if (r == 1) ++o.failed;
        else ++o.wrong;
      }
    }
    co_return o;
  };
  const outcome o = rt.block_on(all());
  std::uint64_t expect_failed = 0;
  for (std::uint64_t g = 0; g < groups; ++g) expect_failed += failing_mask(g) != 0;
  EXPECT_EQ(o.wrong, 0u);
  EXPECT_EQ(o.failed, expect_failed);
  EXPECT_EQ(o.ok, groups - expect_failed);
  // Only siblings of a failure can be cancelled: at most 9 per failing group.
  EXPECT_LE(cancelled.load(), 9 * expect_failed);
}

TEST(ExceptionStress, PlainThreadsSetExceptionsThatTasksCatch) {
  // 100,000 promise/future pairs; two plain threads fulfil them, every third with an exception.
  // Each task awaits its future and reports what it got.
  const std::uint64_t n = 100'000;
  std::vector<coreio::promise<std::uint64_t>> ps(n);
  std::vector<coreio::future<std::uint64_t>> fs;
  fs.reserve(n);
  for (auto& p : ps) fs.push_back(p.get_future());
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto awaiter = [](coreio::future<std::uint64_t> f,
                    std::uint64_t id) -> coreio::task<std::uint64_t> {
    try {
      const std::uint64_t v = co_await f;
      co_return v == id * 2 ? 1 : 100;  // 1: the right value
    } catch (const test_error& e) {
      co_return e.value == id ? 2 : 100;  // 2: the right exception
    } catch (const std::logic_error&) {
      co_return 100;
    }
  };
  std::vector<coreio::join_handle<std::uint64_t>> hs;
  hs.reserve(n);
  // Half the awaiters are spawned before the producers start (they suspend), half race with them.
  for (std::uint64_t id = 0; id < n / 2; ++id)
    hs.push_back(rt.spawn(awaiter(std::move(fs[id]), id)));
  std::vector<std::thread> producers;
  for (std::uint64_t t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (std::uint64_t id = t; id < n; id += 2) {
        if (id % 3 == 0) ps[id].set_exception(std::make_exception_ptr(test_error(id)));
        else ps[id].set_value(id * 2);
      }
    });
  }
  for (std::uint64_t id = n / 2; id < n; ++id)
    hs.push_back(rt.spawn(awaiter(std::move(fs[id]), id)));
  for (auto& p : producers) p.join();

  std::uint64_t got_value = 0, got_error = 0, wrong = 0;
  for (auto& h : hs) {
    switch (h.get()) {
      case 1:
        ++got_value;
        break;
      case 2:
        ++got_error;
        break;
      default:
        ++wrong;
        break;
    }
  }
  const std::uint64_t multiples_of_3 = (n + 2) / 3;
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(got_error, multiples_of_3);
  EXPECT_EQ(got_value, n - multiples_of_3);
}

TEST(ExceptionStress, TasksSetExceptionsThatPlainThreadsCatch) {
  // The other direction: tasks on workers call set_exception / set_value, plain threads get().
  const std::uint64_t n = 100'000;
  std::vector<coreio::promise<std::uint64_t>> ps(n);
  std::vector<coreio::future<std::uint64_t>> fs;
  fs.reserve(n);
  for (auto& p : ps) fs.push_back(p.get_future());
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto setter = [](coreio::promise<std::uint64_t>& p, std::uint64_t id) -> coreio::task<void> {
    co_await coreio::yield_now();
    try {
      if (id % 3 == 0) throw test_error(id);
      p.set_value(id * 2);
    } catch (...) {
      p.set_exception(std::current_exception());
    }
  };
  std::atomic<std::uint64_t> got_value{0}, got_error{0}, wrong{0};
  std::vector<std::thread> getters;
  for (std::uint64_t t = 0; t < 2; ++t) {
    getters.emplace_back([&, t] {
      for (std::uint64_t id = t; id < n; id += 2) {
        try {
          if (fs[id].get() == id * 2) got_value.fetch_add(1);
          else wrong.fetch_add(1);
        } catch (const test_error& e) {
          if (e.value == id) got_error.fetch_add(1);
          else wrong.fetch_add(1);
        }
      }
    });
  }
  for (std::uint64_t id = 0; id < n; ++id) rt.spawn(setter(ps[id], id)).detach();
  for (auto& g : getters) g.join();
  const std::uint64_t multiples_of_3 = (n + 2) / 3;
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(got_error.load(), multiples_of_3);
  EXPECT_EQ(got_value.load(), n - multiples_of_3);
}

}  // namespace
