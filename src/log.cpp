// src/log.cpp — the process-wide log sink (coreio/log.hpp).
//
// The sink is a shared_ptr swapped under a mutex; log() copies it under the mutex and calls it
// outside, so a slow sink never holds the lock and a sink replaced mid-call stays alive until that
// call returns.
#include <coreio/log.hpp>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace coreio {

namespace {

std::mutex sink_mu;
std::shared_ptr<const log_sink> current_sink;  // guarded by sink_mu; null: stderr

}  // namespace

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "?";
}

void set_log_sink(log_sink sink) {
  auto next = sink ? std::make_shared<const log_sink>(std::move(sink)) : nullptr;
  std::lock_guard lock(sink_mu);
  current_sink = std::move(next);
}

void log(log_level level, std::string_view text) noexcept {
  std::shared_ptr<const log_sink> sink;
  {
    std::lock_guard lock(sink_mu);
    sink = current_sink;
  }
  if (sink) {
    try {
      (*sink)(level, text);
    } catch (...) {  // a sink must not throw (log.hpp); what it throws is dropped
    }
    return;
  }
  // One fprintf call: lines from several threads do not interleave within a line.
  std::fprintf(stderr, "coreio %.*s: %.*s\n", static_cast<int>(to_string(level).size()),
               to_string(level).data(), static_cast<int>(text.size()), text.data());
}

}  // namespace coreio
