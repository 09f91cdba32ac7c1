// util/json_string.hpp — appends a string as a JSON string literal (RFC 8259 section 7): quotes,
// backslash and control characters escaped; other bytes (UTF-8 included) copied as they are.
// Used by the trace writer (trace/chrome_trace.cpp) and dump_tasks (sched/task_dump.cpp).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace coreio::detail {

inline void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace coreio::detail
