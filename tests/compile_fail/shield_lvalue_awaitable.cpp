// compile_fail: coreio::shield(aw) of an lvalue awaitable (other than a join_handle). The shielded
// work runs as a task of its own that outlives the await when the awaiter is cancelled; referring to
// an awaitable in the awaiter's frame would then use it after that frame is freed. It must be moved
// in (the twin: std::move(f) compiles).
#include <coreio/future.hpp>
#include <coreio/shield.hpp>

coreio::task<int> awaiter(coreio::future<int> f) {
#if defined(COREIO_COMPILE_FAIL)
  co_return co_await coreio::shield(f);
#else
  co_return co_await coreio::shield(std::move(f));
#endif
}

int main() {}
