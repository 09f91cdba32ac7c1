// Dumps racing with spawns and ends: a plain thread takes dump_tasks (text and JSON) over and over
// while the workers spawn, await, gather, lock and end three-level chains of tasks. Every chain's
// sum must be exact and every dump well formed; under ThreadSanitizer and AddressSanitizer this is
// the test that a dump never reads a freed frame or races with a task's records
// (src/sched/task_dump.cpp: what it reads and why it is alive).
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "stress_support.hpp"

namespace {

using namespace std::chrono_literals;

coreio::task<std::uint64_t> leaf(coreio::mutex& m, std::uint64_t v) {
  if (v % 3 == 0) {
    auto g = co_await m.lock();
    co_await coreio::sleep_for(std::chrono::microseconds(v % 50));
  } else if (v % 3 == 1) {
    co_await coreio::sleep_for(0ms);  // a yield
  }
  co_return v;
}

coreio::task<std::uint64_t> middle(coreio::mutex& m, std::uint64_t base) {
  auto a = coreio::spawn(leaf(m, base), "leaf");
  auto b = coreio::spawn(leaf(m, base + 1), "leaf");
  auto [x, y, z] = co_await coreio::gather(std::move(a), std::move(b), leaf(m, base + 2));
  co_return x + y + z;
}

coreio::task<std::uint64_t> top(coreio::mutex& m, std::uint64_t base) {
  coreio::task_group g;
  auto h1 = g.spawn(middle(m, base));
  auto h2 = coreio::spawn(middle(m, base + 3), "middle");
  const std::uint64_t second = co_await coreio::wait_for(std::move(h2), 1h);
  co_await g.join();
  co_return co_await h1 + second;
}

TEST(TaskDumpStress, DumpsWhileChainsSpawnAndEnd) {
  constexpr std::uint64_t min_dumps = 300;  // the workload runs until the dumper took this many
  constexpr std::uint64_t max_rounds = 20'000;
  coreio::runtime rt{{.workers = 2}};
  coreio::mutex m;
  std::atomic<bool> stop{false};
  // Relaxed: a count the test only compares; the join below orders the final read.
  std::atomic<std::uint64_t> dumps{0};
  std::atomic<std::uint64_t> bad{0};
  std::thread dumper([&] {
    while (!stop.load()) {
      const std::string t = coreio::dump_tasks(rt);
      const std::string j = coreio::dump_tasks(rt, coreio::task_dump_format::json);
      if (j.rfind("{\"tasks\": [", 0) != 0 || j.find("]}") == std::string::npos) ++bad;
      if (!t.empty() && t.back() != '\n') ++bad;
      dumps.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::uint64_t rounds = 0;
  std::uint64_t got = 0, want = 0;
  rt.block_on([&]() -> coreio::task<void> {
    while (rounds < max_rounds &&
           (rounds < 50 || dumps.load(std::memory_order_relaxed) < min_dumps)) {
      std::vector<coreio::join_handle<std::uint64_t>> hs;
      for (std::uint64_t k = 0; k < 4; ++k) {
        const std::uint64_t base = (rounds * 4 + k) * 6;
        hs.push_back(coreio::spawn(top(m, base), "top"));
        want += 6 * base + 15;
      }
      for (auto& h : hs) got += co_await h;
      ++rounds;
    }
  }());
  stop = true;
  dumper.join();
  EXPECT_EQ(got, want);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GE(dumps.load(), min_dumps) << "rounds: " << rounds;
  EXPECT_EQ(coreio::dump_tasks(rt), "");
}

}  // namespace
