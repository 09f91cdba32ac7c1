// Workload "ping-pong": two tasks hand a counter back and forth through
// one-shot promise/future pairs, ROUNDS round trips. Ping sends i and awaits
// the reply; pong awaits i and replies i + 1. Each message is a fresh pair, as
// a request/response between tasks would be; the 2 x ROUNDS pairs are made
// inside the measured workload. Whether the two tasks sit on different
// workers is up to the scheduler (on the Asio pool, up to which thread takes
// the wake-up); with two workers and both tasks busy, most round trips cross
// threads. Checksum sum of the replies, ROUNDS(ROUNDS+1)/2; items = round trips.
#pragma once

#include "../baseline/asio_pool.hpp"

#include <coreio/coreio.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace coreio_bench::pingpong {

inline constexpr std::uint64_t default_rounds = 100'000;

constexpr std::uint64_t expected(std::uint64_t rounds) { return rounds * (rounds + 1) / 2; }
constexpr std::uint64_t ops(std::uint64_t rounds) { return rounds; }

namespace detail {

// One direction of the exchange: message i travels through promises[i] and futures[i].
struct coreio_lane {
  explicit coreio_lane(std::uint64_t rounds) : promises(rounds) {
    futures.reserve(rounds);
    for (auto& p : promises) futures.push_back(p.get_future());
  }
  std::vector<coreio::promise<std::uint64_t>> promises;
  std::vector<coreio::future<std::uint64_t>> futures;
};

inline coreio::task<std::uint64_t> ping(coreio_lane& out, coreio_lane& in, std::uint64_t rounds) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    out.promises[i].set_value(i);
    sum += co_await in.futures[i];
  }
  co_return sum;
}

inline coreio::task<std::uint64_t> pong(coreio_lane& in, coreio_lane& out, std::uint64_t rounds) {
  for (std::uint64_t i = 0; i < rounds; ++i) {
    const std::uint64_t v = co_await in.futures[i];
    out.promises[i].set_value(v + 1);
  }
  co_return rounds;
}

inline asio::awaitable<std::uint64_t> asio_ping(
    std::vector<asio_baseline::oneshot<std::uint64_t>>& out,
    std::vector<asio_baseline::oneshot<std::uint64_t>>& in, std::uint64_t rounds) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    out[i].set_value(i);
    sum += co_await in[i].get();
  }
  co_return sum;
}

inline asio::awaitable<std::uint64_t> asio_pong(
    std::vector<asio_baseline::oneshot<std::uint64_t>>& in,
    std::vector<asio_baseline::oneshot<std::uint64_t>>& out, std::uint64_t rounds) {
  for (std::uint64_t i = 0; i < rounds; ++i) {
    const std::uint64_t v = co_await in[i].get();
    out[i].set_value(v + 1);
  }
  co_return rounds;
}

}  // namespace detail

/// coreio: two spawned tasks, coreio::promise / coreio::future per message.
inline coreio::task<std::uint64_t> on_coreio(std::uint64_t rounds) {
  detail::coreio_lane to_pong(rounds);
  detail::coreio_lane to_ping(rounds);
  auto pong = coreio::spawn(detail::pong(to_pong, to_ping, rounds));
  auto ping = coreio::spawn(detail::ping(to_pong, to_ping, rounds));
  const std::uint64_t sum = co_await ping;
  const std::uint64_t answered = co_await pong;
  co_return answered == rounds ? sum : 0;
}

/// Asio: two co_spawn'ed coroutines, an asio_baseline::oneshot per message.
inline asio::awaitable<std::uint64_t> on_asio(std::uint64_t rounds) {
  // oneshot is neither copyable nor movable: size the vectors once.
  std::vector<asio_baseline::oneshot<std::uint64_t>> to_pong(rounds);
  std::vector<asio_baseline::oneshot<std::uint64_t>> to_ping(rounds);
  auto [answered, sum] = co_await asio_baseline::gather(
      detail::asio_pong(to_pong, to_ping, rounds), detail::asio_ping(to_pong, to_ping, rounds));
  co_return answered == rounds ? sum : 0;
}

}  // namespace coreio_bench::pingpong
