// hello_world.cpp — asyncio's first program, written with coreio.
//
//     import asyncio
//
//     async def main():
//         print("Hello")
//         await asyncio.sleep(1)
//         print("World")
//
//     asyncio.run(main())
//
// The sleep is 100 ms instead of 1 s so that the example's smoke test stays fast.
#include <coreio/coreio.hpp>

#include <chrono>
#include <iostream>

using namespace std::chrono_literals;

// `async def main()` becomes a function returning coreio::task<>: a coroutine that does nothing
// until it is awaited or handed to the runtime.
coreio::task<> main_task() {
  std::cout << "Hello" << std::endl;
  // asyncio.sleep: suspends this task (not the thread) until the timer fires; the worker thread
  // is free to run other tasks meanwhile.
  co_await coreio::sleep_for(100ms);
  std::cout << "World" << std::endl;
}

int main() {
  // asyncio.run: builds a runtime (one event loop per core), runs main_task to completion on it,
  // then shuts the runtime down.
  coreio::run(main_task());
}
