// coreio_test.cpp — coreio/coreio.hpp: the umbrella header alone is enough for the whole tour of
// the core API in DESIGN.md ("Public API contract").
#include <coreio/coreio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

coreio::task<int> some_task(int v) {
  co_await coreio::sleep_for(1ms);
  co_return v;
}

coreio::task<void> nothing() { co_return; }

coreio::task<int> main_task() {
  auto h2 = coreio::spawn(some_task(1));
  int r = co_await h2;
  co_await coreio::yield_now();
  co_await coreio::sleep_for(1ms);
  co_await coreio::sleep_until(std::chrono::steady_clock::now() + 1ms);
  const int w = coreio::current_worker();
  auto [a, b] = co_await coreio::gather(some_task(2), nothing());
  (void)b;
  std::vector<coreio::task<int>> tasks;
  tasks.push_back(some_task(3));
  tasks.push_back(some_task(4));
  std::vector<int> all = co_await coreio::gather(std::move(tasks));
  coreio::promise<int> p;
  coreio::future<int> fut = p.get_future();
  std::thread t([&] { p.set_value(5); });
  int x = co_await fut;
  t.join();
  co_return (w >= 0 ? 0 : 1000) + r + a + all[0] + all[1] + x;
}

TEST(CoreioTest, TheUmbrellaHeaderCoversTheApiTour) {
  coreio::runtime rt{coreio::runtime_options{.workers = 4}};
  EXPECT_EQ(rt.block_on(main_task()), 15);
  auto h = rt.spawn(some_task(6));
  EXPECT_EQ(h.get(), 6);
  EXPECT_EQ(coreio::run(main_task()), 15);
  const coreio::runtime_metrics m = rt.metrics();
  EXPECT_EQ(m.workers.size(), 4u);
  EXPECT_EQ(COREIO_VERSION_MAJOR, 0);
}

}  // namespace
