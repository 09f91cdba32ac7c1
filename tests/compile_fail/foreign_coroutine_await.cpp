// compile_fail: a coreio awaitable (here sleep_for) awaited from a coroutine type that is not a
// coreio task is an error: scope_of's static_assert ("coreio awaitables can only be awaited from
// coreio::task coroutines"). STYLE.md rule 12.
// With COREIO_COMPILE_FAIL the misuse is compiled in and the compilation must fail; without it
// (the twin) the same file must compile: the foreign coroutine type itself is valid, and the same
// awaitable is fine inside a coreio::task.
#include <coreio/task.hpp>
#include <coreio/time.hpp>

#include <chrono>
#include <coroutine>
#include <exception>

using namespace std::chrono_literals;

struct foreign_coroutine {
  struct promise_type {
    foreign_coroutine get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

foreign_coroutine not_a_coreio_task() {
#if defined(COREIO_COMPILE_FAIL)
  co_await coreio::sleep_for(1ms);  // error: static_assert in coreio::detail::scope_of
#else
  co_await std::suspend_never{};
#endif
}

coreio::task<void> a_coreio_task() { co_await coreio::sleep_for(1ms); }

int main() {
  not_a_coreio_task();
  auto t = a_coreio_task();
  (void)t;
}
