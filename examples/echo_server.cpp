// echo_server.cpp — a TCP echo server (asyncio docs, "Streams": TCP echo server using streams).
//
//     async def handle_echo(reader, writer):
//         while line := await reader.readline():
//             writer.write(line)
//             await writer.drain()
//         writer.close()
//
//     async def main():
//         server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
//         print(f'serving on {server.sockets[0].getsockname()}')
//         async with server:
//             await server.serve_forever()
//
// coreio::net::serve is start_server: each connection gets its own task, and the worker threads
// share the tasks (the listener's worker does the sockets' IO; the others help with a backlog).
// Usage:
//
//     echo_server [--once N] [port]
//
// It listens on 127.0.0.1:port (0, the default, picks a free port and prints it). With --once N it
// stops after N connections have come and gone, which is how the smoke test runs it:
//
//     echo_server --once 1 | echo_client --port-from-stdin
#include <coreio/coreio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

namespace {

struct settings {
  std::uint16_t port = 0;
  std::uint64_t once = 0;  // 0: serve until killed
};

/// Connections whose handler has ended (for --once).
std::atomic<std::uint64_t> finished_connections{0};

/// Echoes every line back until the client closes its side (readline returning b"").
coreio::task<> handle_echo(coreio::net::tcp_stream conn) {
  const coreio::net::endpoint peer = conn.remote_endpoint();
  int lines = 0;
  try {
    for (;;) {
      std::string line = co_await conn.read_until("\n", 64 * 1024);
      co_await conn.write_all(std::string_view(line));
      ++lines;
    }
  } catch (const coreio::net::incomplete_read_error&) {
    // End of stream (a last line without "\n" is dropped, as readline would return it then b"").
  }
  conn.close();
  // One line per connection; the port of the peer varies from run to run.
  std::cout << "echoed " << lines << " line(s) to " << peer.to_string() << std::endl;
  finished_connections.fetch_add(1);
}

coreio::task<> main_task(settings s) {
  auto server =
      coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", s.port), handle_echo);
  std::cout << "serving on 127.0.0.1:" << server.port() << std::endl;

  if (s.once == 0) {
    co_await server.wait();  // until the process is killed
    co_return;
  }
  while (finished_connections.load() < s.once) co_await coreio::sleep_for(10ms);
  server.stop();
  co_await server.wait();
  std::cout << "served " << server.accepted() << " connection(s), bye" << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--once" && i + 1 < argc) {
      s.once = std::strtoull(argv[++i], nullptr, 10);
    } else {
      s.port = static_cast<std::uint16_t>(std::strtoul(argv[i], nullptr, 10));
    }
  }
  coreio::run(main_task(s));
}
