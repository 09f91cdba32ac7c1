// http/tasks_handler.cpp — the one-line /tasks route (coreio/http/tasks_handler.hpp).
#include <coreio/http/tasks_handler.hpp>

#include <optional>
#include <string>

#include <coreio/dump_tasks.hpp>

namespace coreio::http {

handler tasks_handler() {
  return [](request& req) -> task<response> {
    const std::optional<std::string> format = req.query("format");
    if (format && *format != "json" && *format != "text") {
      response bad{400, "format must be json or text\n"};
      bad.set_header("Content-Type", "text/plain; charset=utf-8");
      co_return bad;
    }
    const bool text = format && *format == "text";
    response r{200, coreio::dump_tasks(text ? task_dump_format::text : task_dump_format::json)};
    r.set_header("Content-Type", std::string(text ? coreio::task_dump_text_content_type
                                                  : coreio::task_dump_json_content_type));
    co_return r;
  };
}

}  // namespace coreio::http
