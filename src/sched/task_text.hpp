// sched/task_text.hpp — how the runtime names a task in its reports (log.hpp): "task 17 'fetch'
// spawned at main.cpp:12", or "a gather child" for a thread of execution without an identity.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "trace/name_table.hpp"

namespace coreio::detail {

/// id 0: a gather child. file may be null or empty (no place known).
inline std::string describe_task(std::uint64_t id, std::uint32_t name, const char* file,
                                 std::uint32_t line) {
  if (id == 0) return "a gather child";
  std::string text = "task " + std::to_string(id);
  const std::string_view n = trace::task_names().name(name);
  if (!n.empty()) text.append(" '").append(n).append("'");
  if (file != nullptr && file[0] != '\0') {
    text.append(" spawned at ").append(file).append(":").append(std::to_string(line));
  }
  return text;
}

}  // namespace coreio::detail
