// coreio/log.hpp — where the runtime's warnings go: a replaceable log sink (stderr by default).
//
// The runtime reports what a user should hear about but that has no caller to throw to: a
// spawned task whose exception was never retrieved (asyncio's "Task exception was never
// retrieved"), and debug mode's warnings. Each report is one line of text with a level.
//
// A failure no one retrieved is reported by whichever of its two owners lets go last: the
// dropped join handle, or the task's worker just after the task ends (done() may already be
// true then). As asyncio's report at garbage collection, it comes once, but not at a set moment.
//
//   coreio::set_log_sink([](coreio::log_level lvl, std::string_view msg) { my_log(lvl, msg); });
//   coreio::set_log_sink(nullptr);   // back to stderr
//
// Thread safety: set_log_sink from any thread; the sink is called from any thread (workers,
// the watchdog), possibly from several at once, so it must be thread-safe itself; a report that
// races set_log_sink goes to the old sink or the new one. A sink must not throw (what it throws is
// dropped) and should not block for long: it runs on the reporting worker.
#pragma once

#include <functional>
#include <string_view>

namespace coreio {

enum class log_level { debug, info, warning, error };

/// The name of a level ("warning").
std::string_view to_string(log_level level) noexcept;

/// Receives each report: its level and its text (no trailing newline).
using log_sink = std::function<void(log_level, std::string_view)>;

/// Replaces the process-wide sink; nullptr restores the default, which writes
/// "coreio <level>: <text>\n" to stderr.
void set_log_sink(log_sink sink);

/// Sends one report to the current sink. Any thread.
void log(log_level level, std::string_view text) noexcept;

}  // namespace coreio
