// support/test_tasks.hpp — the small coroutines the combinator tests share: a value, a string or a
// side effect after a sleep, a failure after a sleep or at once, and a value at once.
//
// Free functions taking what they touch by value or pointer (test_support.hpp's rule), inline so
// that every test file of the binary may include them.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

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

}  // namespace coreio_test
