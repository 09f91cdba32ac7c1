// coreio/coreio.hpp — includes every public header of coreio, nothing else.
#pragma once

#include <coreio/as_completed.hpp>
#include <coreio/current_task.hpp>
#include <coreio/dump_tasks.hpp>
#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/gather.hpp>
#include <coreio/interval.hpp>
#include <coreio/join_handle.hpp>
#include <coreio/log.hpp>
#include <coreio/metrics.hpp>
#include <coreio/metrics_text.hpp>
#include <coreio/net.hpp>
#include <coreio/outcome.hpp>
#include <coreio/runtime.hpp>
#include <coreio/shield.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync.hpp>
#include <coreio/task.hpp>
#include <coreio/task_group.hpp>
#include <coreio/time.hpp>
#include <coreio/timeout.hpp>
#include <coreio/to_thread.hpp>
#include <coreio/wait_for.hpp>
