// debug_mode.cpp — what asyncio's debug mode catches, caught by coreio's (runtime_options::debug
// or COREIO_DEBUG=1): a blocking call inside a task, a failed task whose exception nobody
// retrieved, and a task still pending when the runtime shuts down. Every report names the task and
// where it was spawned, and goes to the log sink (stderr here).
//
//     asyncio.run(main(), debug=True)
//
// Usage: debug_mode      (prints the reports on stderr, then "done" on stdout)
#include <coreio/coreio.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;

namespace {

// A blocking call where an await belongs: the worker runs nothing else for 150 ms.
coreio::task<int> resize_image() {
  std::this_thread::sleep_for(150ms);
  co_return 640;
}

coreio::task<void> refresh_cache() {
  co_await coreio::sleep_for(1ms);
  throw std::runtime_error("cache server refused the connection");
}

coreio::task<void> heartbeat(std::shared_ptr<coreio::event> started) {
  started->set();
  for (;;) co_await coreio::sleep_for(1s);
}

coreio::task<int> amain() {
  // Never awaited or cancelled: still pending when amain returns and the runtime shuts down.
  // (Waiting until it has started makes the report at shutdown show it sleeping, not queued.)
  auto started = std::make_shared<coreio::event>();
  coreio::spawn(heartbeat(started), "heartbeat").detach();
  co_await started->wait();
  const int width = co_await coreio::spawn(resize_image(), "resize_image");
  // Fire and forget: its failure is reported when its handle is dropped unread.
  {
    coreio::join_handle<void> h = coreio::spawn(refresh_cache(), "refresh_cache");
    co_await coreio::sleep_for(20ms);
  }
  std::printf("done (width %d)\n", width);
  std::fflush(stdout);  // in order with the reports on stderr, also through a pipe
  co_return 0;
}

}  // namespace

int main() { return coreio::run(amain(), coreio::runtime_options{.workers = 2, .debug = true}); }
