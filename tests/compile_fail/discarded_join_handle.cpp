// compile_ok: a join_handle is deliberately NOT [[nodiscard]]: dropping it detaches the task and it
// runs on (DESIGN.md; STYLE.md rule 12). This file has no must-fail variant: it must compile
// cleanly with -Werror=unused-result (CTest: compile_ok.discarded_join_handle).
#include <coreio/runtime.hpp>
#include <coreio/spawn.hpp>

coreio::task<int> work() { co_return 1; }

coreio::task<void> spawner() {
  coreio::spawn(work());  // fine: the task runs on, detached
  co_return;
}

void from_outside(coreio::runtime& rt) {
  rt.spawn(work());  // fine: detached
}

int main() {}
