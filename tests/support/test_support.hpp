// support/test_support.hpp — what the unit tests share: sanitizer scaling, waiting with a deadline,
// an error type of the tests' own, and a stopwatch.
//
// Rules the tests follow (see tests/CMakeLists.txt):
//   * never assert a tight wall-clock speed; only generous sanity bounds (a cancel takes effect in
//     well under `prompt`, 2 s, 5 s under a sanitizer), because a TSan build runs 20-50x slower and CI machines are shared;
//   * a wait that could hang uses a deadline (wait_until) and fails the test instead;
//   * coroutines under test are free functions taking what they touch by pointer or value, never
//     capturing lambdas (a lambda coroutine's captures die with the lambda object).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <string>
#include <thread>

namespace coreio_test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

#if defined(COREIO_SANITIZE_THREAD)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
#if defined(COREIO_SANITIZE_ADDRESS)
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif
inline constexpr bool under_sanitizer = under_tsan || under_asan;

/// `full` in a normal build, `reduced` under a sanitizer (a test must stay within a few seconds).
template <class T>
constexpr T sanitized(T full, T reduced) {
  return under_sanitizer ? reduced : full;
}

/// The bound within which a cancel, a wake-up or a shutdown must take effect. Generous on purpose:
/// it catches "never" and "only when the 10 s sleep ends", not slowness. 5 s under a sanitizer: a
/// TSan build on a loaded 2-core machine has stalled past 2 s.
inline constexpr std::chrono::seconds prompt = sanitized<std::chrono::seconds>(2s, 5s);

/// Polls pred until it is true or `timeout` passes; returns its last value.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = clock::now() + timeout;
  while (!pred()) {
    if (clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

/// Waits up to `timeout` for a join_handle (anything with done()) to end. A race loop uses it
/// instead of get() so that a lost wake-up fails the test instead of hanging it; on failure the
/// caller should leak its runtime (unique_ptr::release) too, since destroying a runtime waits for
/// every task, the lost one included.
template <class Handle>
bool ends_within(const Handle& h,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  return wait_until([&] { return h.done(); }, timeout);
}

/// Seconds since construction.
class stopwatch {
 public:
  clock::duration elapsed() const { return clock::now() - start_; }
  double seconds() const { return std::chrono::duration<double>(elapsed()).count(); }

 private:
  clock::time_point start_ = clock::now();
};

/// An error type of the tests' own, so that a caught exception is provably the one thrown.
struct test_error : std::exception {
  explicit test_error(int v = 0) : value(v), text("test_error " + std::to_string(v)) {}
  const char* what() const noexcept override { return text.c_str(); }
  int value;
  std::string text;
};

/// A one-shot gate a plain-thread test body opens for tasks that block a worker on purpose
/// (only where a test must hold a worker busy, e.g. to cancel a task before it starts).
class gate {
 public:
  void open() { p_.set_value(); }
  void wait() { f_.wait(); }
  bool wait_for(std::chrono::milliseconds d) { return f_.wait_for(d) == std::future_status::ready; }

 private:
  std::promise<void> p_;
  std::shared_future<void> f_ = p_.get_future().share();
};

/// A small deterministic PRNG (xorshift64*) for race loops; seeded per test for reproducibility.
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  /// Uniform-ish in [0, n).
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t s_;
};

/// Busy-waits for about d on the calling thread without sleeping (a timing jitter for race loops).
inline void spin_for(std::chrono::nanoseconds d) {
  const auto end = clock::now() + d;
  while (clock::now() < end) {
  }
}

}  // namespace coreio_test
