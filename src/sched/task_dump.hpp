// sched/task_dump.hpp — the async call graph of a runtime (coreio/dump_tasks.hpp), also used by
// shutdown's report of the tasks it waits for (runtime_impl.hpp, step 3).
#pragma once

#include <cstddef>
#include <string>

#include <coreio/dump_tasks.hpp>

namespace coreio::detail {

class registry;

/// The tasks linked in `tasks` as the text tree or JSON of dump_tasks.hpp. `max_lines` bounds the
/// text form (then a last line "... and N more task(s)"); the JSON form is never cut. Any thread.
std::string dump_task_graph(const registry& tasks, task_dump_format format,
                            std::size_t max_lines = static_cast<std::size_t>(-1));

}  // namespace coreio::detail
