// util/tsan.hpp — every ThreadSanitizer concession of coreio, with its reason. Nothing else in the
// tree may annotate or suppress.
//
// 1. The global injection queue (moodycamel::ConcurrentQueue) publishes elements with standalone
//    std::atomic_thread_fence calls, which TSan does not model (GCC warns "atomic_thread_fence is
//    not supported with -fsanitize=thread"). To TSan, a coroutine frame handed to another worker
//    through that queue then looks unsynchronised, and every later access to the frame is reported.
//    The queue does synchronise (a dequeue happens-after its enqueue), so inject.hpp states that
//    edge explicitly: COREIO_TSAN_RELEASE(item) before an enqueue, COREIO_TSAN_ACQUIRE(item) after
//    a dequeue, keyed on the frame address. This adds exactly the edge the queue guarantees.
// 2. TSan reports races inside moodycamel's own code for the same reason (block reuse after a
//    fence-synchronised dequeue; cameron314/concurrentqueue issues 49 and 62). Test binaries
//    suppress reports whose stack is inside moodycamel::ConcurrentQueue (tests/support/
//    tsan_suppressions.cpp); races in coreio's code are never suppressed.
// 3. libstdc++.so is not built with TSan: the atomic refcount of std::exception_ptr, which lives in
//    it, is invisible, so freeing an exception object on one worker after another thread caught it
//    is reported. Test binaries suppress reports of frees called from libstdc++ (called_from_lib).
//
// coreio's own lock-free structures (local_queue, cancel_scope, completion_cell, idle) need no
// concession: their data is published through atomics with acquire/release, which TSan sees.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define COREIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COREIO_TSAN 1
#endif
#endif

#if defined(COREIO_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#define COREIO_TSAN_ACQUIRE(p) __tsan_acquire(static_cast<void*>(p))
#define COREIO_TSAN_RELEASE(p) __tsan_release(static_cast<void*>(p))
#else
#define COREIO_TSAN_ACQUIRE(p) ((void)0)
#define COREIO_TSAN_RELEASE(p) ((void)0)
#endif
