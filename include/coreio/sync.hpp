// coreio/sync.hpp — the asyncio-like synchronisation primitives, safe across workers, fair (FIFO)
// and cancellable at every suspension point: mutex, semaphore / bounded_semaphore, event,
// condition_variable, queue / priority_queue / lifo_queue, barrier, latch.
#pragma once

#include <coreio/sync/barrier.hpp>
#include <coreio/sync/condition_variable.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/sync/latch.hpp>
#include <coreio/sync/mutex.hpp>
#include <coreio/sync/queue.hpp>
#include <coreio/sync/semaphore.hpp>
