// fetch_pages.cpp — fetch several pages concurrently (the asyncio seed's gather of fetches), over
// raw TCP with HTTP/1.0, against a tiny responder this program starts itself.
//
//     async def fetch(path):
//         reader, writer = await asyncio.open_connection('127.0.0.1', port)
//         writer.write(f'GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n'.encode())
//         status = (await reader.readline()).decode().rstrip()
//         while (await reader.readline()) != b'\r\n':     # headers
//             pass
//         body = await reader.read()                      # HTTP/1.0: until the server closes
//         return status, len(body)
//
//     async def main():
//         results = await asyncio.gather(*(fetch(p) for p in paths))
//         for path, (status, size) in zip(paths, results):
//             print(f'GET {path} -> {status}, {size} bytes')
//
// The fetches run at the same time (on several worker threads, too), yet gather returns the results
// in the order of its input, so the output is the same on every run.
#include <coreio/coreio.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

/// One HTTP/1.0 exchange: request line, headers up to the blank line, then the response and close.
coreio::task<> respond(coreio::net::tcp_stream conn) {
  const std::string request = co_await conn.read_until("\r\n", 8192);  // "GET /path HTTP/1.0\r\n"
  while (co_await conn.read_until("\r\n", 8192) != "\r\n") {
  }
  const auto first_space = request.find(' ');
  const auto second_space = request.find(' ', first_space + 1);
  const auto [status, body] = page(request.substr(first_space + 1, second_space - first_space - 1));
  std::string response = "HTTP/1.0 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
  co_await conn.write_all(std::string_view(response));
  conn.close();
}

// ---- the client ---------------------------------------------------------------------------------

struct fetched {
  std::string status;  // "HTTP/1.0 200 OK"
  std::size_t size = 0;
};

coreio::task<fetched> fetch(std::uint16_t port, std::string path) {
  auto conn = co_await coreio::net::tcp_stream::connect("127.0.0.1", port);
  co_await conn.write_all(std::string_view("GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"));

  fetched f;
  f.status = co_await conn.read_until("\r\n", 8192);
  f.status.resize(f.status.size() - 2);
  std::size_t content_length = 0;
  for (;;) {
    const std::string header = co_await conn.read_until("\r\n", 8192);
    if (header == "\r\n") break;
    if (header.rfind("Content-Length: ", 0) == 0) content_length = std::stoul(header.substr(16));
  }
  std::array<std::byte, 16 * 1024> buf;
  while (const std::size_t n = co_await conn.read_some(std::span(buf))) f.size += n;  // to EOF
  if (f.size != content_length)
    throw std::runtime_error(path + ": body shorter than Content-Length");
  co_return f;
}

coreio::task<int> main_task() {
  auto server = coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", 0), respond);

  const std::vector<std::string> paths = {"/", "/todos/1", "/big", "/missing", "/about"};
  std::vector<coreio::task<fetched>> fetches;
  for (const std::string& p : paths) fetches.push_back(fetch(server.port(), p));
  const std::vector<fetched> results = co_await coreio::gather(std::move(fetches));

  std::size_t total = 0;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    std::cout << "GET " << paths[i] << " -> " << results[i].status << ", " << results[i].size
              << " bytes" << std::endl;
    total += results[i].size;
  }
  std::cout << "fetched " << results.size() << " pages, " << total << " bytes" << std::endl;

  server.stop();
  co_await server.wait();
  co_return 0;
}

}  // namespace

int main() { return coreio::run(main_task()); }
