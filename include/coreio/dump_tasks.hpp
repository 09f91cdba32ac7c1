// coreio/dump_tasks.hpp — the async call graph of a running runtime (`python -m asyncio pstree`):
// every spawned task still pending, which task awaits it, and what the innermost one waits on.
//
//   std::puts(coreio::dump_tasks(rt).c_str());
//
//   └── task 1 'main' spawned at app.cpp:40: awaiting task 2
//       └── task 2 'fetch' spawned at app.cpp:21: gather of 2 children
//           ├── task 3 'leaf' spawned at app.cpp:12: sleeping until +1.234s
//           └── task 4 'reader' spawned at app.cpp:14: reading tcp 127.0.0.1:8080
//
// Roots are the tasks nobody awaits; a task's children are the tasks it awaits, through a join
// handle (`co_await h`, also inside gather / wait_for / timeout_scope children, shield) or a
// task_group's join(). Each line: the task's id, name and spawn place, then what it waits on:
// a timer ("sleeping until +1.234s", "wait_for, deadline +0.5s"), a socket ("reading tcp
// 127.0.0.1:8080", "writing ...", "accepting on ...", "connecting"), a lock, semaphore, event,
// condition, latch or barrier ("waiting on lock"), a queue ("queue get", "queue put"), a future,
// the blocking pool ("to_thread"), another task ("awaiting task 7"), a gather ("gather of 3
// children": gather children that are not spawned tasks are not listed one by one), or "running or
// ready" when it is not parked at a suspension point. " (cancelling)" follows a cancelled task.
//
// The JSON form (task_dump_format::json) is one object:
//   {"tasks": [{"id": 3, "name": "leaf", "file": "app.cpp", "line": 12,
//               "state": "waiting" | "ready" , "cancelled": false,
//               "waits_on": {"kind": "sleep", "text": "sleeping until +1.234s",
//                            "deadline_in_s": 1.234} | null,
//               "awaited_by": [2]}, ...]}
// in id order; waits_on's extra fields by kind: deadline_in_s (sleep, wait_for, timeout), fd and
// endpoint (sockets, when known), task (join: the awaited id), children (gather). awaited_by is
// empty for a root, else one id (a task that is no longer pending may be named: then it is a root
// of the tree).
//
// What a dump costs when nobody asks: each suspension point stores a pointer to a static
// description and one word (a deadline, a descriptor, an id) on its task's cancel scope; a join
// stores the awaiter's id in the awaited task. A dump walks the runtime's registry of spawned tasks
// shard by shard under each shard's lock (a spawn or an end waiting for that lock waits for at most
// one shard's copy); the text is formatted after the locks are released.
//
// Thread safety: any thread, while tasks run; one consistent view per task, not across tasks (a
// task may move on while the dump is taken).
#pragma once

#include <string>
#include <string_view>

namespace coreio {

class runtime;

/// The form of dump_tasks' result.
enum class task_dump_format : unsigned char {
  text,  ///< the tree above, one task per line, each line ending in '\n'; "" when none is pending
  json,  ///< the JSON object above
};

/// The Content-Type of each form (for an HTTP route, http/tasks_handler.hpp).
inline constexpr std::string_view task_dump_text_content_type = "text/plain; charset=utf-8";
inline constexpr std::string_view task_dump_json_content_type = "application/json";

/// The pending spawned tasks of rt as a tree (text) or a JSON object (see the file comment).
std::string dump_tasks(const runtime& rt, task_dump_format format = task_dump_format::text);
/// The same for the runtime running the caller (a task: no runtime& needed). Worker only: throws
/// usage_error elsewhere.
std::string dump_tasks(task_dump_format format = task_dump_format::text);

}  // namespace coreio
