// trace/name_table.cpp — the process's table of task names, and spawn's way into it.
#include "trace/name_table.hpp"

#include <coreio/current_task.hpp>
#include <coreio/detail/spawned_task.hpp>

namespace coreio::detail {

namespace trace {
name_table& task_names() noexcept {
  // Leaked on purpose: a runtime with static storage may name its tasks during static
  // destruction, after a function-local static table would be gone.
  static name_table* table = new name_table;
  return *table;
}
}  // namespace trace

std::uint32_t intern_task_name(std::string_view name) { return trace::task_names().intern(name); }

std::string_view task_name(std::uint32_t index) noexcept {
  try {
    return trace::task_names().name(index);
  } catch (...) {  // the table's lock failed to lock (std::system_error): no name
    return {};
  }
}

}  // namespace coreio::detail
