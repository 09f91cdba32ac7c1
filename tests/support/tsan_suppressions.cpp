// support/tsan_suppressions.cpp — the ThreadSanitizer suppressions of coreio's test binaries.
//
// The reasons are in src/util/tsan.hpp (the one place that explains every TSan concession); in
// short:
//   race:moodycamel::ConcurrentQueue   the global injection queue synchronises with standalone
//                                      fences, which TSan does not model; reports whose stack is
//                                      inside the queue's own code are false positives (coreio adds
//                                      the real edge for the frames it carries with
//                                      COREIO_TSAN_RELEASE / _ACQUIRE).
//   called_from_lib:libstdc++.so       libstdc++ is not instrumented: the atomic refcount of
//                                      std::exception_ptr is invisible, so a free of an exception
//                                      object on one worker after another thread caught it is
//                                      reported.
// Races in coreio's own code are never suppressed here.
//
// Linked into a test binary through the coreio_test_tsan_suppressions object library
// (tests/CMakeLists.txt); TSan reads __tsan_default_suppressions at startup. Inert in other builds.
#if defined(__SANITIZE_THREAD__)
#define COREIO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COREIO_TEST_TSAN 1
#endif
#endif

#if defined(COREIO_TEST_TSAN)
extern "C" const char* __tsan_default_suppressions() {
  return "race:moodycamel::ConcurrentQueue\n"
         "called_from_lib:libstdc++.so\n";
}
#endif
