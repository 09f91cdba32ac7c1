// queue_workers.cpp — workers draining a queue (asyncio docs, "Queues"), with a task group, a
// timeout and clean shutdown:
//
//     async def worker(name, queue):
//         while True:
//             sleep_for = await queue.get()
//             await asyncio.sleep(sleep_for)
//             queue.task_done()
//
//     async def main():
//         queue = asyncio.Queue()
//         for _ in range(20): queue.put_nowait(random.uniform(0.05, 1.0))
//         tasks = [asyncio.create_task(worker(f'worker-{i}', queue)) for i in range(3)]
//         await queue.join()
//         for task in tasks: task.cancel()
//
// Here the queue is bounded (8 places: the producer waits for room), the workers run in a
// coreio::task_group, and instead of cancelling them the producer shuts the queue down (asyncio
// 3.13's queue.shutdown()): each worker drains what is left and ends when get() throws
// queue_closed. The sleeps are a few milliseconds
// (a deterministic spread, not random) to keep the smoke test fast. A last job is given a time
// limit it cannot meet, to show wait_for.
#include <coreio/coreio.hpp>

#include <atomic>
#include <chrono>
#include <iostream>

using namespace std::chrono_literals;

struct totals {
  std::atomic<int> jobs{0};
  std::atomic<int> slept_ms{0};
};

coreio::task<> worker(coreio::queue<int>* q, totals* t) {
  try {
    for (;;) {
      const int ms = co_await q->get();
      co_await coreio::sleep_for(std::chrono::milliseconds(ms));
      t->jobs.fetch_add(1);
      t->slept_ms.fetch_add(ms);
    }
  } catch (const coreio::queue_closed&) {
    // Shut down and drained: this worker is done.
  }
}

coreio::task<> producer(coreio::queue<int>* q, int jobs) {
  for (int i = 0; i < jobs; ++i) co_await q->put(1 + (i * 7) % 10);  // waits while 8 are queued
  q->shutdown();
}

coreio::task<> eternity() {
  co_await coreio::sleep_for(1h);
  std::cout << "yay!" << std::endl;  // never: the time limit cancels the sleep
}

coreio::task<int> main_task() {
  coreio::queue<int> q{8};
  totals t;
  {
    coreio::task_group group;
    for (int i = 0; i < 3; ++i) group.spawn(worker(&q, &t));
    group.spawn(producer(&q, 20));
    co_await group.join();
  }
  int expected = 0;
  for (int i = 0; i < 20; ++i) expected += 1 + (i * 7) % 10;
  std::cout << "3 workers handled " << t.jobs.load() << " jobs, " << t.slept_ms.load()
            << " ms of sleep (expected " << expected << ")" << std::endl;
  try {
    co_await coreio::wait_for(eternity(), 20ms);
  } catch (const coreio::timeout_error&) {
    std::cout << "timeout!" << std::endl;
  }
  co_return t.jobs.load() == 20 && t.slept_ms.load() == expected ? 0 : 1;
}

int main() { return coreio::run(main_task()); }
