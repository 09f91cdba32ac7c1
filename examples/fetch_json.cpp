// fetch_json.cpp — GET a JSON document and POST one back with coreio::http::client (aiohttp's
// `await session.get(url)` / `r.json()` / `session.post(url, json=...)`), against a tiny JSON API
// this program starts itself. coreio has no JSON library: the body is text, sent with
// request_options::json (Content-Type: application/json) and read with text().
//
//     async with aiohttp.ClientSession() as session:
//         async with session.get(f'{base}/todos/1', params={'fields': 'id,title'}) as r:
//             r.raise_for_status(); print(r.headers['Content-Type'], await r.text())
//         async with session.post(f'{base}/todos', json={'title': 'ship it'}) as r:
//             print(r.status, await r.text())
#include <coreio/coreio.hpp>
#include <coreio/http.hpp>

#include <iostream>
#include <string>
#include <string_view>

namespace http = coreio::http;

namespace {

/// The API: GET /todos/1 gives a todo (echoing the query), POST /todos echoes the body with an id.
coreio::task<> api(coreio::net::tcp_stream conn) {
  try {
    for (;;) {
      const std::string head = co_await conn.read_until("\r\n\r\n", 8192);
      std::string body;
      if (const auto p = head.find("Content-Length: "); p != std::string::npos) {
        body.resize(std::stoul(head.substr(p + 16)));
        co_await conn.read_exact(std::as_writable_bytes(std::span<char>(body)));
      }
      std::string status = "200 OK", out;
      if (head.starts_with("GET /todos/1?fields=id%2Ctitle ")) {
        out = R"({"id": 1, "title": "write the tests"})";
      } else if (head.starts_with("POST /todos ")) {
        status = "201 Created";
        out = R"({"id": 2, "request": )" + body + "}";
      } else {
        status = "404 Not Found";
        out = R"({"error": "no such resource"})";
      }
      const std::string response =
          "HTTP/1.1 " + status +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(out.size()) +
          "\r\n\r\n" + out;
      co_await conn.write_all(std::string_view(response));
    }
  } catch (const std::exception&) {
    // The client closed the connection.
  }
}

coreio::task<int> main_task() {
  auto server = coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", 0), api);
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  http::client session;

  const std::string todo_url = base + "/todos/1";
  http::request_options query{.params = {{"fields", "id,title"}}};
  http::response r = co_await session.get(todo_url, query);
  r.raise_for_status();
  std::cout << "GET /todos/1 -> " << r.status() << " " << r.header("content-type").value_or("?")
            << " " << co_await r.text() << std::endl;

  const std::string todos_url = base + "/todos";
  http::request_options create{.json = std::string(R"({"title": "ship it"})")};
  http::response p = co_await session.post(todos_url, create);
  std::cout << "POST /todos -> " << p.status() << " " << co_await p.text() << std::endl;

  const std::string missing_url = base + "/nothing";
  {
    // A response holds its connection until its body is read or the response is dropped: this
    // one is dropped at the end of the block, before close().
    http::response m = co_await session.get(missing_url);
    try {
      m.raise_for_status();
    } catch (const http::status_error& e) {
      std::cout << "GET /nothing -> " << e.what() << std::endl;
    }
  }
  co_await session.close();
  server.stop();
  co_await server.wait();
  co_return 0;
}

}  // namespace

int main() { return coreio::run(main_task()); }
