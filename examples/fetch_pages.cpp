// fetch_pages.cpp — fetch several pages concurrently (the asyncio seed's gather of fetches) with
// coreio::http::client, against a tiny HTTP/1.1 responder this program starts itself.
//
//     async def fetch(session, path):
//         async with session.get(f'http://127.0.0.1:{port}{path}') as r:
//             return r.status, r.reason, len(await r.read())
//
//     async def main():
//         async with aiohttp.ClientSession() as session:
//             results = await asyncio.gather(*(fetch(session, p) for p in paths))
//         for path, (status, reason, size) in zip(paths, results):
//             print(f'GET {path} -> {status} {reason}, {size} bytes')
//
// The fetches run at the same time (on several worker threads, too) over the client's keep-alive
// pool, yet gather returns the results in the order of its input, so the output is the same on
// every run.
#include <coreio/coreio.hpp>
#include <coreio/http.hpp>

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace http = coreio::http;

namespace {

// ---- the responder ------------------------------------------------------------------------------

/// The site: a few fixed pages, one of them large enough to arrive in many reads.
std::pair<std::string, std::string> page(std::string_view path) {
  if (path == "/") return {"200 OK", "<html><body>coreio says hello</body></html>\n"};
  if (path == "/about") return {"200 OK", "asyncio's model on per-core event loops\n"};
  if (path == "/todos/1")
    return {"200 OK", R"({"id": 1, "title": "write the tests", "done": true})"
                      "\n"};
  if (path == "/big") return {"200 OK", std::string(100'000, 'x')};
  return {"404 Not Found", "no such page\n"};
}

/// HTTP/1.1 keep-alive: request line, headers up to the blank line, the response; until the client
/// closes.
coreio::task<> respond(coreio::net::tcp_stream conn) {
  try {
    for (;;) {
      const std::string request = co_await conn.read_until("\r\n\r\n", 8192);
      const auto first_space = request.find(' ');
      const auto second_space = request.find(' ', first_space + 1);
      const auto [status, body] =
          page(request.substr(first_space + 1, second_space - first_space - 1));
      const std::string response =
          "HTTP/1.1 " + status +
          "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
      co_await conn.write_all(std::string_view(response));
    }
  } catch (const std::exception&) {
    // The client closed the connection (end of stream inside read_until).
  }
}

// ---- the client ---------------------------------------------------------------------------------

struct fetched {
  int status = 0;
  std::string reason;
  std::size_t size = 0;
};

coreio::task<fetched> fetch(http::client* session, std::string url) {
  http::response r = co_await session->get(url);
  fetched f{r.status(), std::string(r.reason()), 0};
  const std::string body = co_await r.read();
  f.size = body.size();
  co_return f;
}

coreio::task<int> main_task() {
  auto server = coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", 0), respond);
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());

  http::client session;
  const std::vector<std::string> paths = {"/", "/todos/1", "/big", "/missing", "/about"};
  std::vector<coreio::task<fetched>> fetches;
  for (const std::string& p : paths) fetches.push_back(fetch(&session, base + p));
  const std::vector<fetched> results = co_await coreio::gather(std::move(fetches));

  std::size_t total = 0;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::cout << "GET " << paths[i] << " -> " << results[i].status << " " << results[i].reason
              << ", " << results[i].size << " bytes" << std::endl;
    total += results[i].size;
  }
  std::cout << "fetched " << results.size() << " pages, " << total << " bytes over "
            << session.stats().connections_opened << " connection(s) or fewer" << std::endl;
  co_await session.close();

  server.stop();
  co_await server.wait();
  co_return 0;
}

}  // namespace

int main() { return coreio::run(main_task()); }
