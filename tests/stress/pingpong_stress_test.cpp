// Ping-pong: two parties hand a counter back and forth through one-shot promise/future pairs,
// 100,000 round trips, on a 2-worker runtime. The final count is exact; each party also checks the
// value it receives at every step, so a lost, duplicated or reordered message fails at once.
#include <gtest/gtest.h>

#include <coreio/coreio.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "stress_support.hpp"

namespace {

/// One direction of the exchange: message i goes through promises[i] / futures[i].
struct lane {
  explicit lane(std::uint64_t n) : promises(n) {
    futures.reserve(n);
    for (auto& p : promises) futures.push_back(p.get_future());
  }
  std::vector<coreio::promise<std::uint64_t>> promises;
  std::vector<coreio::future<std::uint64_t>> futures;
};

/// How often the two parties ran on different workers (reported, not asserted: where a woken task
/// runs is the scheduler's choice).
struct hop_counter {
  std::atomic<int> last{-1};
  std::atomic<std::uint64_t> hops{0};
  void note() {
    const int w = coreio::current_worker();
    if (last.exchange(w, std::memory_order_relaxed) != w)
      hops.fetch_add(1, std::memory_order_relaxed);
  }
};

coreio::task<std::uint64_t> ping(lane& out, lane& in, std::uint64_t rounds, hop_counter& hc) {
  std::uint64_t count = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    hc.note();
    out.promises[i].set_value(count);
    const std::uint64_t reply = co_await in.futures[i];
    if (reply != count + 1) throw coreio_stress::test_error(i);
    count = reply;
  }
  co_return count;
}

coreio::task<std::uint64_t> pong(lane& in, lane& out, std::uint64_t rounds, hop_counter& hc) {
  std::uint64_t last = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    const std::uint64_t v = co_await in.futures[i];
    hc.note();
    if (v != i) throw coreio_stress::test_error(i);
    out.promises[i].set_value(v + 1);
    last = v + 1;
  }
  co_return last;
}

TEST(PingPongStress, HundredThousandRoundTripsBetweenTwoTasks) {
  const std::uint64_t rounds = 100'000;
  lane to_pong(rounds), to_ping(rounds);
  hop_counter hc;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto both = [&]() -> coreio::task<std::uint64_t> {
    // Two independent tasks (spawned, so each may run on either worker), then joined.
    auto hp = coreio::spawn(pong(to_pong, to_ping, rounds, hc));
    auto hq = coreio::spawn(ping(to_pong, to_ping, rounds, hc));
    const std::uint64_t a = co_await hq;
    const std::uint64_t b = co_await hp;
    if (a != b) throw coreio_stress::test_error(a);
    co_return a;
  };
  EXPECT_EQ(rt.block_on(both()), rounds);
  RecordProperty("worker_hops", std::to_string(hc.hops.load()));
}

TEST(PingPongStress, HundredThousandRoundTripsAsGatheredPair) {
  // The same exchange with the two parties as the children of one gather.
  const std::uint64_t rounds = 100'000;
  lane to_pong(rounds), to_ping(rounds);
  hop_counter hc;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};
  auto [a, b] = rt.block_on([&]() -> coreio::task<std::tuple<std::uint64_t, std::uint64_t>> {
    co_return co_await coreio::gather(ping(to_pong, to_ping, rounds, hc),
                                      pong(to_pong, to_ping, rounds, hc));
  }());
  EXPECT_EQ(a, rounds);
  EXPECT_EQ(b, rounds);
}

/// A message that carries the promise for the answer: every round trip makes fresh pairs, and
/// promises travel between threads inside the values.
struct ball {
  std::uint64_t count = 0;
  coreio::promise<ball> reply;
};

TEST(PingPongStress, FreshPairPerMessageCarriedInTheMessage) {
  const std::uint64_t rounds = 100'000;
  coreio::promise<ball> first;
  coreio::future<ball> first_f = first.get_future();
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto server = [](coreio::future<ball> inbox, std::uint64_t n) -> coreio::task<std::uint64_t> {
    std::uint64_t seen = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      ball b = co_await inbox;
      if (b.count != 2 * i) throw coreio_stress::test_error(b.count);
      coreio::promise<ball> next;
      inbox = next.get_future();
      b.reply.set_value(ball{b.count + 1, std::move(next)});
      ++seen;
    }
    co_return seen;
  };
  auto client = [](coreio::promise<ball> outbox, std::uint64_t n) -> coreio::task<std::uint64_t> {
    std::uint64_t count = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      coreio::promise<ball> answer;
      coreio::future<ball> answer_f = answer.get_future();
      outbox.set_value(ball{count, std::move(answer)});
      ball b = co_await answer_f;
      if (b.count != count + 1) throw coreio_stress::test_error(b.count);
      count = b.count + 1;
      outbox = std::move(b.reply);
    }
    co_return count;
  };
  auto hs = rt.spawn(server(std::move(first_f), rounds));
  auto hc = rt.spawn(client(std::move(first), rounds));
  EXPECT_EQ(hc.get(), 2 * rounds);
  EXPECT_EQ(hs.get(), rounds);
}

TEST(PingPongStress, TaskAndPlainThreadAlternate) {
  // One party is a plain thread (blocking get / set_value), the other a task: every message crosses
  // between a worker and a non-worker thread. 20,000 round trips (each wakes a blocked thread).
  const std::uint64_t rounds = 20'000;
  lane to_thread(rounds), to_task(rounds);
  hop_counter hc;
  coreio::runtime rt{coreio::runtime_options{.workers = 2}};

  auto h = rt.spawn(ping(to_thread, to_task, rounds, hc));
  std::thread other([&] {
    for (std::uint64_t i = 0; i < rounds; ++i) {
      const std::uint64_t v = to_thread.futures[i].get();
      EXPECT_EQ(v, i);  // not ASSERT: returning early would leave the task waiting forever
      to_task.promises[i].set_value(v + 1);
    }
  });
  EXPECT_EQ(h.get(), rounds);
  other.join();
}

}  // namespace
