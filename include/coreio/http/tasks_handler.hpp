// coreio/http/tasks_handler.hpp — a /tasks route in one line: the async call graph of the runtime
// serving it (coreio/dump_tasks.hpp), for tools/coreio-top and for people with curl.
//
//   srv.route("GET", "/tasks", http::tasks_handler());
//
// Each request takes a fresh dump. The answer is the JSON form (Content-Type application/json);
// `?format=text` gives the tree (text/plain). Any other format value: 400. Thread safety: as any
// handler.
#pragma once

#include <coreio/http/server.hpp>

namespace coreio::http {

/// A handler answering 200 with coreio::dump_tasks() of the runtime running it (JSON, or the text
/// tree with ?format=text).
handler tasks_handler();

}  // namespace coreio::http
