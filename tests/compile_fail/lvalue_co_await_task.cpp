// compile_fail: `co_await t` on an lvalue task is an error: operator co_await is &&-qualified, so
// awaiting a task consumes it visibly (co_await std::move(t)). STYLE.md rule 12.
// With COREIO_COMPILE_FAIL the misuse is compiled in and the compilation must fail; without it
// (the twin) the same file must compile.
#include <coreio/task.hpp>

#include <utility>

coreio::task<int> work() { co_return 1; }

coreio::task<int> caller() {
  coreio::task<int> t = work();
#if defined(COREIO_COMPILE_FAIL)
  co_return co_await t;  // error: no operator co_await for an lvalue coreio::task
#else
  co_return co_await std::move(t);
#endif
}

int main() {
  auto t = caller();
  (void)t;
}
