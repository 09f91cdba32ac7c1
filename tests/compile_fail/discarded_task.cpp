// compile_fail: calling a task-returning function and dropping the task is an error
// (task is [[nodiscard]]: an unawaited task never runs). STYLE.md rule 12.
// Built with -Werror=unused-result; with COREIO_COMPILE_FAIL the misuse is compiled in and the
// compilation must fail; without it (the twin) the same file must compile.
#include <coreio/task.hpp>

coreio::task<int> work() { co_return 1; }

coreio::task<int> caller() {
#if defined(COREIO_COMPILE_FAIL)
  work();  // error: ignoring a [[nodiscard]] coreio::task
#else
  auto kept = work();
  (void)kept;
#endif
  co_return co_await work();
}

int main() {
  auto t = caller();
  (void)t;
}
