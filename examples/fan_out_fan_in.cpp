// fan_out_fan_in.cpp — spread work over every core, collect the results.
//
// Ten producer tasks each sum the squares of one slice of [0, 10'000). They are spawned on the
// runtime's pool, so they run in parallel on the worker threads, and each hands its partial sum
// back through a coreio::promise. The consumer awaits the ten futures in order and adds them up.
// The same computation is then written the short way, with gather. In Python terms:
//
//     async def slice_sum(s): return sum(i * i for i in range(s * 1000, (s + 1) * 1000))
//     parts = await asyncio.gather(*(slice_sum(s) for s in range(10)))
#include <coreio/coreio.hpp>

#include <cstdint>
#include <iostream>
#include <vector>

constexpr int slices = 10;
constexpr std::uint64_t slice_len = 1'000;
constexpr std::uint64_t n = slices * slice_len;
// 0^2 + 1^2 + ... + (n-1)^2, the answer both versions must find.
constexpr std::uint64_t expected = (n - 1) * n * (2 * n - 1) / 6;

std::uint64_t sum_of_squares(int s) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = s * slice_len; i < (s + 1) * slice_len; ++i) sum += i * i;
  return sum;
}

// A producer: computes its slice and fulfils the promise. set_value may be called from any thread;
// whoever awaits the matching future wakes up with the value.
coreio::task<> producer(int s, coreio::promise<std::uint64_t> out) {
  out.set_value(sum_of_squares(s));
  co_return;
}

// The consumer: fans out ten producers, then fans in their results.
coreio::task<std::uint64_t> consumer() {
  std::vector<coreio::future<std::uint64_t>> results;
  for (int s = 0; s < slices; ++s) {
    coreio::promise<std::uint64_t> p;
    results.push_back(p.get_future());
    // detach(): we do not need the task's handle; the future is how its result comes back.
    coreio::spawn(producer(s, std::move(p))).detach();
  }
  std::uint64_t total = 0;
  for (int s = 0; s < slices; ++s) {
    const std::uint64_t part = co_await results[s];  // suspends until producer s has set it
    std::cout << "slice " << s << ": " << part << std::endl;
    total += part;
  }
  co_return total;
}

// The same fan-out/fan-in with gather: the children run in parallel, the results come back in
// input order, and if one of them threw, gather would cancel the others and rethrow.
coreio::task<std::uint64_t> slice_task(int s) { co_return sum_of_squares(s); }

coreio::task<std::uint64_t> with_gather() {
  std::vector<coreio::task<std::uint64_t>> jobs;
  for (int s = 0; s < slices; ++s) jobs.push_back(slice_task(s));
  std::uint64_t total = 0;
  for (std::uint64_t part : co_await coreio::gather(std::move(jobs))) total += part;
  co_return total;
}

int main() {
  // One runtime for both versions; block_on runs a task to completion from a plain thread.
  coreio::runtime rt;
  const std::uint64_t a = rt.block_on(consumer());
  const std::uint64_t b = rt.block_on(with_gather());
  std::cout << "total (promises): " << a << std::endl;
  std::cout << "total (gather):   " << b << std::endl;
  std::cout << "expected:         " << expected << std::endl;
  std::cout << (a == expected && b == expected ? "check: ok" : "check: MISMATCH") << std::endl;
  return a == expected && b == expected ? 0 : 1;
}
