// echo_client.cpp — a TCP echo client (asyncio docs, "Streams": TCP echo client using streams).
//
//     async def tcp_echo_client(messages):
//         reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
//         for message in messages:
//             writer.write(message.encode() + b'\n')
//             print(f'sent: {message}')
//             print(f'got:  {(await reader.readline()).decode().rstrip()}')
//         writer.close()
//
// Usage:
//
//     echo_client [port [line ...]]       talk to an echo server on 127.0.0.1:port
//     echo_client                         start an echo server in this process first (port 0)
//     echo_client --port-from-stdin       learn the port from echo_server's first line on stdin
//                                         ("serving on 127.0.0.1:PORT"), then copy the rest of
//                                         echo_server's output: echo_server --once 1 | echo_client
//                                         --port-from-stdin
//
// The lines sent default to "hello", "from", "coreio". Every reply must equal what was sent; the
// program says so at the end ("all N replies match") and exits with status 1 otherwise.
#include <coreio/coreio.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

/// The in-process server's handler (the same as echo_server's, without the logging).
coreio::task<> echo_lines(coreio::net::tcp_stream conn) {
  try {
    for (;;) {
      std::string line = co_await conn.read_until("\n", 64 * 1024);
      co_await conn.write_all(std::string_view(line));
    }
  } catch (const coreio::net::incomplete_read_error&) {
  }
  conn.close();
}

/// Sends each line and reads its echo; returns how many replies matched.
coreio::task<std::size_t> talk(std::uint16_t port, std::vector<std::string> lines) {
  auto conn = co_await coreio::net::tcp_stream::connect("127.0.0.1", port);
  std::size_t matched = 0;
  for (const std::string& line : lines) {
    co_await conn.write_all(std::string_view(line + "\n"));
    std::cout << "sent: " << line << std::endl;
    std::string reply = co_await conn.read_until("\n", 64 * 1024);
    reply.pop_back();  // the "\n"
    std::cout << "got:  " << reply << std::endl;
    if (reply == line) ++matched;
  }
  conn.shutdown_write();  // the server sees end of stream and closes its side
  conn.close();
  co_return matched;
}

coreio::task<std::size_t> main_task(std::optional<std::uint16_t> port,
                                    std::vector<std::string> lines) {
  if (port) co_return co_await talk(*port, std::move(lines));

  // No server given: start one here, talk to it, then stop it and wait for its connection to end.
  auto server = coreio::net::serve(coreio::net::tcp_listener::bind("127.0.0.1", 0), echo_lines);
  std::cout << "started an echo server on 127.0.0.1:" << server.port() << std::endl;
  const std::size_t matched = co_await talk(server.port(), std::move(lines));
  server.stop();
  co_await server.wait();
  co_return matched;
}

/// Reads "serving on 127.0.0.1:PORT" from stdin (echo_server's first line).
std::optional<std::uint16_t> port_from_stdin() {
  std::string first;
  if (!std::getline(std::cin, first)) return std::nullopt;
  std::cout << "server: " << first << std::endl;
  const auto colon = first.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  return static_cast<std::uint16_t>(std::strtoul(first.c_str() + colon + 1, nullptr, 10));
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<std::uint16_t> port;
  bool from_stdin = false;
  std::vector<std::string> lines;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port-from-stdin") {
      from_stdin = true;
    } else if (!port && !from_stdin) {
      port = static_cast<std::uint16_t>(std::strtoul(argv[i], nullptr, 10));
    } else {
      lines.emplace_back(arg);
    }
  }
  if (lines.empty()) lines = {"hello", "from", "coreio"};
  if (from_stdin) {
    port = port_from_stdin();
    if (!port) {
      std::cerr << "echo_client: no 'serving on HOST:PORT' line on stdin\n";
      return 2;
    }
  }

  const std::size_t matched = coreio::run(main_task(port, lines));

  if (from_stdin) {
    // The rest of echo_server's output, up to its exit.
    for (std::string rest; std::getline(std::cin, rest);)
      std::cout << "server: " << rest << std::endl;
  }
  if (matched != lines.size()) {
    std::cout << "only " << matched << " of " << lines.size() << " replies match" << std::endl;
    return 1;
  }
  std::cout << "all " << matched << " replies match" << std::endl;
  return 0;
}
