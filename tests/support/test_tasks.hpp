// support/test_tasks.hpp — the small coroutines the combinator tests share: a value, a string or a
// side effect after a sleep, a failure after a sleep or at once, a value at once, and a sleeper that
// reports to a child_probe what happened to it.
//
// Free functions taking what they touch by value or pointer (test_support.hpp's rule), inline so
// that every test file of the binary may include them.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include <coreio/errors.hpp>
#include <coreio/task.hpp>
#include <coreio/time.hpp>

#include "support/test_support.hpp"

namespace coreio_test {

/// v, after sleeping d.
inline coreio::task<int> int_after(std::chrono::microseconds d, int v) {
  co_await coreio::sleep_for(d);
  co_return v;
}

/// s, after sleeping d.
inline coreio::task<std::string> string_after(std::chrono::microseconds d, std::string s) {
  co_await coreio::sleep_for(d);
  co_return s;
}

/// Increments *ran after sleeping d.
inline coreio::task<void> void_after(std::chrono::microseconds d, std::atomic<int>* ran) {
  co_await coreio::sleep_for(d);
  ran->fetch_add(1);
}

/// Throws test_error(v) after sleeping d.
inline coreio::task<int> fail_after(std::chrono::microseconds d, int v) {
  co_await coreio::sleep_for(d);
  throw test_error(v);
}

/// Throws test_error(v) before its first suspension point.
inline coreio::task<int> fail_at_once(int v) {
  throw test_error(v);
  co_return 0;
}

/// v, without suspending.
inline coreio::task<int> immediate(int v) { co_return v; }

/// What the children of a test did; every counter is bumped by the child itself.
struct child_probe {
  std::atomic<int> started{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> finished{0};
  /// Children that have ended, however (bumped as the child's last act).
  std::atomic<int> ended{0};
};

/// Bumps probe->ended when the child's body ends, however it ends.
struct end_marker {
  child_probe* p;
  ~end_marker() { p->ended.fetch_add(1); }
};

/// v after sleeping d; counts in *p that it started, was cancelled at the sleep, or finished.
inline coreio::task<int> sleeper(child_probe* p, std::chrono::microseconds d, int v) {
  end_marker m{p};
  p->started.fetch_add(1);
  try {
    co_await coreio::sleep_for(d);
  } catch (const coreio::cancelled_error&) {
    p->cancelled.fetch_add(1);
    throw;
  }
  p->finished.fetch_add(1);
  co_return v;
}

}  // namespace coreio_test
