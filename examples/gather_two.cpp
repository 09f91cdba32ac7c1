// gather_two.cpp — two coroutines under gather run at the same time (asyncio docs, "Coroutines and
// Tasks"), with the shorter one scheduled second so that the output shows it finishing first.
//
//     async def say_after(delay, what):
//         await asyncio.sleep(delay)
//         print(what)
//
//     async def main():
//         print("started")
//         await asyncio.gather(say_after(0.2, "hello"), say_after(0.1, "world"))
//         print("finished")
//
// The two sleeps overlap, so the whole gather takes about 0.2 s (the longer one), not 0.3 s (their
// sum). With coreio the children may even run on different worker threads.
#include <coreio/coreio.hpp>

#include <chrono>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

coreio::task<> say_after(std::chrono::milliseconds delay, std::string what) {
  co_await coreio::sleep_for(delay);
  std::cout << what << std::endl;
}

coreio::task<> main_task() {
  std::cout << "started" << std::endl;
  const auto start = std::chrono::steady_clock::now();

  // gather starts both children at once and resumes us when both have finished. A task<void>
  // child contributes a std::monostate to the result tuple, which we ignore here.
  co_await coreio::gather(say_after(200ms, "hello"), say_after(100ms, "world"));

  // Truncated to tenths of a second: 0.2 s when the sleeps overlapped, 0.3 s had they run in turn.
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::cout << "finished, took " << took.count() / 1000 << "." << took.count() % 1000 / 100 << " s"
            << std::endl;
}

int main() { coreio::run(main_task()); }
