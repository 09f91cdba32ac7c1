// Uses an installed coreio through <coreio/coreio.hpp> and coreio::coreio.
// Prints "consumer result=74" and exits 0 when the runtime works.
#include <chrono>
#include <cstdio>

#include <coreio/coreio.hpp>

using namespace std::chrono_literals;

namespace {

coreio::task<int> square_later(int x) {
  co_await coreio::sleep_for(1ms);
  const int squared = x * x;
  co_return squared;
}

coreio::task<int> amain() {
  auto handle = coreio::spawn(square_later(7));
  auto [a, b] = co_await coreio::gather(square_later(3), square_later(4));
  int c = co_await handle;
  co_return a + b + c;  // 9 + 16 + 49
}

}  // namespace

int main() {
  int result = coreio::run(amain());
  std::printf("consumer result=%d\n", result);
  return result == 74 ? 0 : 1;
}
