// sched/task_dump.cpp — dump_tasks: a snapshot of the registry, then a tree or JSON.
//
// Reading tasks that run on other threads (what may be touched, and why it is alive):
//   - a linked task's promise and spawned_state: the registry's shard lock is held while they are
//     copied, and a task unlinks itself (spawned_task_complete, under that lock) before its frame
//     and state can be freed;
//   - its identity (id, name, where): fixed before it was linked;
//   - awaited_by and the cancel scope's wait record (waits_on, wait_arg, waiting): atomics, read
//     without reaching any other memory through them except the wait_site, which is static;
//   - nothing else: the frames of coroutines a task awaits inline, of gather children, and the
//     awaitables in them, may be freed at any moment and are never dereferenced here.
// A socket's endpoint is looked up by its descriptor (getpeername / getsockname) after the locks
// are released: a descriptor closed and reused meanwhile names another socket, never memory.
#include "sched/task_dump.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <coreio/detail/promise_base.hpp>
#include <coreio/detail/timer_entry.hpp>
#include <coreio/detail/wait_site.hpp>
#include <coreio/runtime.hpp>

#include "runtime_impl.hpp"
#include "sched/context.hpp"
#include "sched/registry.hpp"
#include "sched/task_text.hpp"
#include "trace/name_table.hpp"
#include "util/json_string.hpp"

namespace coreio::detail {

namespace {

struct task_row {
  std::uint64_t id = 0;
  std::uint32_t name = 0;
  const char* file = nullptr;
  std::uint32_t line = 0;
  std::uint64_t awaited_by = 0;
  const wait_site* site = nullptr;
  std::int64_t arg = 0;
  bool waiting = false;
  bool cancelled = false;
  // Filled after the snapshot.
  std::string endpoint;
  std::string wait_text;
};

std::vector<task_row> snapshot(const registry& tasks) {
  std::vector<task_row> rows;
  rows.reserve(tasks.alive() + 16);
  tasks.for_each([&](const promise_base* p) {
    const spawned_state* st = p->spawned_;
    task_row r;
    r.id = st->id;
    r.name = st->name;
    r.file = st->where.file_name();
    r.line = st->where.line();
    // Relaxed: a report (promise_base.hpp).
    r.awaited_by = st->awaited_by.load(std::memory_order_relaxed);
    r.waiting = p->own_scope_.waiting();
    r.site = p->own_scope_.waits_on();
    r.arg = p->own_scope_.wait_arg();
    r.cancelled = p->own_scope_.cancelled();
    rows.push_back(std::move(r));  // may allocate if tasks were spawned since the reserve
  });
  std::sort(rows.begin(), rows.end(),
            [](const task_row& a, const task_row& b) { return a.id < b.id; });
  return rows;
}

std::string format_seconds(double s) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%+.3fs", s);
  return buf;
}

/// "tcp 127.0.0.1:8080", "unix /tmp/s", or "" for a socket address it cannot name.
std::string name_address(const sockaddr_storage& a, socklen_t len, int type) {
  char host[INET6_ADDRSTRLEN] = {};
  const char* proto = type == SOCK_DGRAM ? "udp" : "tcp";
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof host) == nullptr) return {};
    return std::string(proto) + " " + host + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host) == nullptr) return {};
    return std::string(proto) + " [" + host + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (a.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&a);
    const std::size_t off = offsetof(sockaddr_un, sun_path);
    if (len <= off) return "unix (unnamed)";
    std::string path(un->sun_path, std::strlen(un->sun_path));
    return "unix " + (path.empty() ? std::string("(abstract)") : path);
  }
  return {};
}

/// The socket's peer (or, for a listener, its own address); "" when unknown.
std::string endpoint_of(int fd, bool local) {
  if (fd < 0) return {};
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  const int rc = local ? ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len)
                       : ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (rc != 0) return {};
  int type = 0;
  socklen_t tl = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) type = SOCK_STREAM;
  return name_address(a, len, type);
}

double seconds_until(std::int64_t deadline_ns, std::int64_t now_ns) {
  return static_cast<double>(deadline_ns - now_ns) / 1e9;
}

void describe_wait(task_row& r, std::int64_t now_ns) {
  if (!r.waiting || r.site == nullptr) {
    r.wait_text = "running or ready";
    return;
  }
  switch (r.site->kind) {
    case wait_kind::sleep:
      r.wait_text = "sleeping until " + format_seconds(seconds_until(r.arg, now_ns));
      break;
    case wait_kind::wait_for:
      r.wait_text = "wait_for, deadline " + format_seconds(seconds_until(r.arg, now_ns));
      break;
    case wait_kind::timeout:
      r.wait_text = r.arg == 0
                        ? std::string("timeout_scope, no deadline")
                        : "timeout_scope, deadline " + format_seconds(seconds_until(r.arg, now_ns));
      break;
    case wait_kind::socket_read:
    case wait_kind::socket_write:
    case wait_kind::socket_accept:
    case wait_kind::socket_io: {
      const bool accept = r.site->kind == wait_kind::socket_accept;
      r.endpoint = endpoint_of(static_cast<int>(r.arg), accept);
      const char* verb = r.site->kind == wait_kind::socket_read    ? "reading"
                         : r.site->kind == wait_kind::socket_write ? "writing"
                         : accept                                  ? "accepting on"
                                                                   : "socket io on";
      r.wait_text = std::string(verb) + " " +
                    (r.endpoint.empty() ? "fd " + std::to_string(r.arg) : r.endpoint);
      break;
    }
    case wait_kind::socket_connect:
      r.wait_text = "connecting";
      break;
    case wait_kind::lock:
    case wait_kind::semaphore:
    case wait_kind::event:
    case wait_kind::condition:
    case wait_kind::latch:
    case wait_kind::barrier:
      r.wait_text = std::string("waiting on ") + r.site->name;
      break;
    case wait_kind::queue_get:
      r.wait_text = "queue get";
      break;
    case wait_kind::queue_put:
      r.wait_text = "queue put";
      break;
    case wait_kind::queue_join:
      r.wait_text = "queue join";
      break;
    case wait_kind::future:
      r.wait_text = "awaiting a future";
      break;
    case wait_kind::blocking:
      r.wait_text = "awaiting to_thread (blocking pool)";
      break;
    case wait_kind::join:
      r.wait_text = "awaiting task " + std::to_string(r.arg);
      break;
    case wait_kind::gather:
      r.wait_text = "gather of " + std::to_string(r.arg) + " children";
      break;
    case wait_kind::task_group:
      r.wait_text = "joining a task_group";
      break;
    case wait_kind::shield:
      r.wait_text = "awaiting a shielded task";
      break;
    case wait_kind::as_completed:
      r.wait_text = "as_completed, next result";
      break;
    case wait_kind::uncancellable:
      r.wait_text = "awaiting an uncancellable clean-up";
      break;
    case wait_kind::other:
      r.wait_text = std::string("waiting (") + r.site->name + ")";
      break;
  }
  if (r.cancelled) r.wait_text += " (cancelling)";
}

std::string to_json(const std::vector<task_row>& rows, std::int64_t now_ns) {
  std::string out = "{\"tasks\": [";
  bool first = true;
  for (const task_row& r : rows) {
    if (!first) out += ",";
    first = false;
    out += "\n  {\"id\": " + std::to_string(r.id) + ", \"name\": ";
    json_string(out, trace::task_names().name(r.name));
    out += ", \"file\": ";
    json_string(out, r.file != nullptr ? r.file : "");
    out += ", \"line\": " + std::to_string(r.line);
    out += ", \"state\": ";
    out += r.waiting ? "\"waiting\"" : "\"ready\"";
    out += ", \"cancelled\": ";
    out += r.cancelled ? "true" : "false";
    out += ", \"waits_on\": ";
    if (!r.waiting || r.site == nullptr) {
      out += "null";
    } else {
      out += "{\"kind\": ";
      json_string(out, r.site->name);
      out += ", \"text\": ";
      json_string(out, r.wait_text);
      switch (r.site->kind) {
        case wait_kind::sleep:
        case wait_kind::wait_for:
          out += ", \"deadline_in_s\": " + std::to_string(seconds_until(r.arg, now_ns));
          break;
        case wait_kind::timeout:
          if (r.arg != 0) {
            out += ", \"deadline_in_s\": " + std::to_string(seconds_until(r.arg, now_ns));
          }
          break;
        case wait_kind::socket_read:
        case wait_kind::socket_write:
        case wait_kind::socket_accept:
        case wait_kind::socket_io:
          out += ", \"fd\": " + std::to_string(r.arg);
          if (!r.endpoint.empty()) {
            out += ", \"endpoint\": ";
            json_string(out, r.endpoint);
          }
          break;
        case wait_kind::join:
          out += ", \"task\": " + std::to_string(r.arg);
          break;
        case wait_kind::gather:
          out += ", \"children\": " + std::to_string(r.arg);
          break;
        default:
          break;
      }
      out += "}";
    }
    out += ", \"awaited_by\": [";
    if (r.awaited_by != 0) out += std::to_string(r.awaited_by);
    out += "]}";
  }
  out += rows.empty() ? "]}\n" : "\n]}\n";
  return out;
}

std::string to_text(const std::vector<task_row>& rows, std::size_t max_lines) {
  // Index by id; children by awaiter (rows are in id order, so children lists are too).
  std::unordered_map<std::uint64_t, std::size_t> index;
  index.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) index.emplace(rows[i].id, i);
  std::vector<std::vector<std::size_t>> children(rows.size());
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto it = rows[i].awaited_by != 0 ? index.find(rows[i].awaited_by) : index.end();
    if (it == index.end() || it->second == i) roots.push_back(i);
    else children[it->second].push_back(i);
  }
  std::string out;
  std::size_t lines = 0;
  std::vector<bool> shown(rows.size(), false);
  // Iterative depth-first walk (an await chain may be a million tasks deep).
  struct frame {
    std::size_t row;
    std::string prefix;  // drawn before this row's branch
    bool last;
  };
  auto walk = [&](std::size_t root) {
    std::vector<frame> stack{{root, "", true}};
    while (!stack.empty()) {
      frame f = std::move(stack.back());
      stack.pop_back();
      if (shown[f.row]) continue;  // a cycle of stale records: each task once
      shown[f.row] = true;
      if (lines < max_lines) {
        const task_row& r = rows[f.row];
        out += f.prefix;
        out += f.last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ";
        out += describe_task(r.id, r.name, r.file, r.line);
        out += ": ";
        out += r.wait_text;
        out += '\n';
      }
      ++lines;
      const std::string child_prefix = f.prefix + (f.last ? "    " : "\u2502   ");
      const auto& cs = children[f.row];
      for (std::size_t k = cs.size(); k-- > 0;) {
        stack.push_back({cs[k], child_prefix, k + 1 == cs.size()});
      }
    }
  };
  for (std::size_t r : roots) walk(r);
  // Tasks on a cycle of stale awaited_by records have no root: each starts a tree of its own.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!shown[i]) walk(i);
  }
  if (lines > max_lines) {
    out += "... and " + std::to_string(lines - max_lines) + " more task(s)\n";
  }
  return out;
}

}  // namespace

std::string dump_task_graph(const registry& tasks, task_dump_format format, std::size_t max_lines) {
  std::vector<task_row> rows = snapshot(tasks);
  const std::int64_t now_ns = deadline_ns(std::chrono::steady_clock::now());
  for (task_row& r : rows) describe_wait(r, now_ns);
  return format == task_dump_format::json ? to_json(rows, now_ns) : to_text(rows, max_lines);
}

}  // namespace coreio::detail

namespace coreio {

std::string dump_tasks(const runtime& rt, task_dump_format format) {
  return detail::dump_task_graph(rt.impl_->tasks(), format);
}

std::string dump_tasks(task_dump_format format) {
  detail::runtime_impl* rt = detail::this_runtime();
  if (rt == nullptr) detail::throw_usage("coreio::dump_tasks() outside a runtime's worker");
  return detail::dump_task_graph(rt->tasks(), format);
}

}  // namespace coreio
