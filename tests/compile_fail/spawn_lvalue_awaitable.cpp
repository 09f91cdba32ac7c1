// compile_fail: coreio::spawn(aw) / runtime::spawn(aw) of an lvalue awaitable. The spawned task
// outlives the spawning expression and, usually, the frame that holds the awaitable; a reference
// to it would dangle. It must be moved in (the twin: std::move(f) compiles). block_on and run may
// take an lvalue: they return only when the await has ended.
#include <coreio/future.hpp>
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>

coreio::task<int> spawner(coreio::future<int> f) {
#if defined(COREIO_COMPILE_FAIL)
  auto h = coreio::spawn(f);
#else
  auto h = coreio::spawn(std::move(f));
#endif
  co_return co_await h;
}

int outside(coreio::runtime& rt, coreio::future<int> f) {
#if defined(COREIO_COMPILE_FAIL)
  return rt.spawn(f).get();
#else
  return rt.spawn(std::move(f)).get();
#endif
}

int main() {}
