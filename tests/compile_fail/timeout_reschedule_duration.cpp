// compile_fail: timeout_scope::reschedule(2s). asyncio's reschedule takes an absolute time (`when`),
// and a duration would convert to a time point counted from the clock's epoch, which is long past:
// the deadline would fire at once. The conversion is explicit, so a duration does not compile; the
// twin passes now + 2s.
#include <chrono>

#include <coreio/timeout.hpp>

void move_deadline(coreio::timeout_scope& cm) {
#if defined(COREIO_COMPILE_FAIL)
  (void)cm.reschedule(std::chrono::seconds(2));
#else
  (void)cm.reschedule(std::chrono::steady_clock::now() + std::chrono::seconds(2));
#endif
}

int main() {}
