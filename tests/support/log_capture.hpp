// support/log_capture.hpp — collects what the runtime reports through its log sink (coreio/log.hpp)
// during a test, and restores the default sink (stderr) when it goes out of scope.
//
// Thread safety: the sink may be called from any worker or the watchdog; lines() from any thread.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <coreio/log.hpp>

namespace coreio_test {

class log_capture {
 public:
  log_capture() {
    coreio::set_log_sink([this](coreio::log_level level, std::string_view text) {
      std::lock_guard lock(mu_);
      lines_.push_back(std::string(coreio::to_string(level)) + ": " + std::string(text));
    });
  }
  ~log_capture() { coreio::set_log_sink(nullptr); }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  /// Every line so far, each "level: text".
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

  /// The lines that contain `part`.
  std::vector<std::string> containing(std::string_view part) const {
    std::vector<std::string> out;
    for (auto& line : lines()) {
      if (line.find(part) != std::string::npos) out.push_back(std::move(line));
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace coreio_test
