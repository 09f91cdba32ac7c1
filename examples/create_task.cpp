// create_task.cpp — starting tasks first and awaiting them later (asyncio docs, "Coroutines and
// Tasks"):
//
//     async def main():
//         task1 = asyncio.create_task(say_after(1, "hello"))
//         task2 = asyncio.create_task(say_after(2, "world"))
//         print("started")
//         await task1
//         await task2
//         print("finished")
//
// Both tasks start running as soon as they are spawned, so the whole program takes about as long
// as the longer one. The delays are 100 ms and 200 ms instead of 1 s and 2 s to keep the example's
// smoke test fast.
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
  // asyncio.create_task: coreio::spawn schedules the task on the runtime right away (maybe on
  // another worker thread) and returns a join_handle to await it by.
  coreio::join_handle<void> task1 = coreio::spawn(say_after(100ms, "hello"));
  coreio::join_handle<void> task2 = coreio::spawn(say_after(200ms, "world"));
  std::cout << "started" << std::endl;

  // Awaiting a handle waits for the task's end and returns its result (or rethrows its exception).
  co_await task1;
  co_await task2;
  std::cout << "finished" << std::endl;
}

int main() { coreio::run(main_task()); }
