// coreio/interval.hpp — interval: a tick every period (tokio::time::interval).
//
// `coreio::interval iv{10ms};` then `co_await iv.tick();` in a loop: the first tick completes at
// once, the next ones at start + period, start + 2 * period, ... Each tick is a sleep_until of the
// tick's deadline on the calling worker's timers, so it is cancellable like any sleep: cancelling
// the awaiting task makes tick() throw cancelled_error, and the interval is left as it was (the
// tick that was cancelled is the next one again: no tick is lost).
//
// Missed ticks: when the task comes back to tick() later than a deadline (it was busy, or its
// worker was), missed_tick_behavior says what follows:
//   burst (default, as in tokio)  the missed ticks complete at once, one per tick() call, until the
//                                 interval has caught up; the schedule stays start + k * period.
//   delay                         the next tick comes one period after the late tick completed;
//                                 the schedule shifts by the lateness.
//   skip                          the missed ticks are dropped: the next tick is the first deadline
//                                 of the original schedule (start + k * period) after now.
// As in tokio, a tick that completes within k_tick_tolerance of its deadline counts as on time
// (timer slack is not a missed tick); the next deadline is then deadline + period whatever the
// behaviour.
//
// Saturation: every deadline the interval computes (the next tick after a tick, reset(),
// reset_after(), each missed-tick rule) goes through detail/saturating_time.hpp, so it stops at
// time_point::max(), "never", instead of overflowing into the past. A period of duration::max()
// (or hours::max(), which is clamped to it) therefore ticks once at the start and then never again
// (tokio #6634 was the overflowing version: its second tick completed at once). A deadline near
// time_point::min() (reset_at far in the past) is handled too: skip's lateness is computed in
// unsigned arithmetic, exact over the whole range.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe; one task uses an interval at a
// time (it may move between workers between ticks, as the task does). tick() may only be awaited
// from a task running on a worker, and the interval must outlive the awaited tick.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include <coreio/detail/coop.hpp>
#include <coreio/detail/saturating_time.hpp>
#include <coreio/spawn.hpp>
#include <coreio/task.hpp>
#include <coreio/time.hpp>

namespace coreio {

/// What interval::tick() does after the task missed one or more deadlines (see interval.hpp).
enum class missed_tick_behavior : std::uint8_t { burst, delay, skip };

/// A periodic tick, after tokio::time::interval.
///
/// Example:
///   coreio::interval iv{100ms};
///   for (;;) { co_await iv.tick(); co_await poll_once(); }   // ticks at 0, 100, 200 ms ...
class interval {
 public:
  using clock = std::chrono::steady_clock;
  using duration = clock::duration;
  using time_point = clock::time_point;

  /// A tick that completes no later than this after its deadline is on time, not missed (tokio's
  /// 5 ms): the normal lateness of a timer does not shift a delay schedule.
  static constexpr std::chrono::milliseconds k_tick_tolerance{5};

  /// Ticks first now, then every period (any std::chrono duration; rounded up to the clock's
  /// tick and clamped to duration::max(), so hours::max() is "tick once, then never"). Throws
  /// std::invalid_argument if period <= 0 or is NaN.
  template <class Rep, class Period>
  explicit interval(std::chrono::duration<Rep, Period> period,
                    ::coreio::missed_tick_behavior b = ::coreio::missed_tick_behavior::burst)
      : interval(clock::now(), period, b) {}

  /// Ticks first at start (at once if it is past), then every period after it (tokio's
  /// interval_at). Throws std::invalid_argument if period <= 0 or is NaN.
  template <class Rep, class Period>
  interval(time_point start, std::chrono::duration<Rep, Period> period,
           ::coreio::missed_tick_behavior b = ::coreio::missed_tick_behavior::burst)
      : period_(checked_period(period)), next_(start), behavior_(b) {}

  /// Completes at the next tick's deadline (at once, without suspending, if that has passed, as
  /// tokio's does; never if it is time_point::max()) and returns the deadline (not the time it
  /// completed at). Throws cancelled_error if the task is cancelled during the wait (a due tick
  /// completes without looking, like every ready operation); the interval is then unchanged.
  /// Worker only.
  task<time_point> tick() {
    const time_point deadline = next_;
    if (deadline > clock::now()) {
      co_await sleep_until(deadline);
    } else if (!detail::coop_take()) {
      // Due: completes at once, as tokio's tick does, spending the poll's budget like any ready
      // operation (detail/coop.hpp); once it is spent, yield first so a burst cannot starve the
      // worker.
      co_await yield_now();
    }
    next_ = next_after(deadline, clock::now());
    co_return deadline;
  }

  /// The next tick comes one period from now (tokio's Interval::reset), saturated.
  void reset() noexcept { next_ = detail::saturating_add(clock::now(), period_); }
  /// The next tick completes at once.
  void reset_immediately() noexcept { next_ = clock::now(); }
  /// The next tick comes d from now (tokio's Interval::reset_after): at once if d <= 0,
  /// time_point::max() ("never") if now + d is beyond it. Throws std::invalid_argument for NaN.
  template <class Rep, class Period>
  void reset_after(std::chrono::duration<Rep, Period> d) noexcept(
      !std::chrono::treat_as_floating_point_v<Rep>) {
    next_ = detail::deadline_after(d);
  }
  /// The next tick comes at t (then every period after it, or as the behaviour says); a t in the
  /// past completes at once and counts as missed.
  void reset_at(time_point t) noexcept { next_ = t; }

  /// The deadline of the next tick.
  time_point next_tick() const noexcept { return next_; }
  /// The period given at construction, in clock ticks (rounded up, clamped to duration::max()).
  duration period() const noexcept { return period_; }
  ::coreio::missed_tick_behavior missed_tick_behavior() const noexcept { return behavior_; }
  void set_missed_tick_behavior(::coreio::missed_tick_behavior b) noexcept { behavior_ = b; }

 private:
  template <class Rep, class Period>
  static duration checked_period(std::chrono::duration<Rep, Period> period) {
    // Written so that a NaN fails too (every comparison with NaN is false).
    if (!(period > std::chrono::duration<Rep, Period>::zero())) {
      throw std::invalid_argument("coreio::interval: the period must be > 0");
    }
    return detail::to_clock_duration(period);
  }

  /// The deadline after a tick whose deadline was `deadline` and that completed at `now` (>=
  /// deadline: the tick's sleep ended no earlier). Saturates at time_point::max().
  time_point next_after(time_point deadline, time_point now) const noexcept {
    if (detail::saturating_sub(now, deadline) <= k_tick_tolerance) {
      return detail::saturating_add(deadline, period_);
    }
    switch (behavior_) {
      case ::coreio::missed_tick_behavior::burst:
        return detail::saturating_add(deadline, period_);
      case ::coreio::missed_tick_behavior::delay:
        return detail::saturating_add(now, period_);
      case ::coreio::missed_tick_behavior::skip: {
        // The first point of the schedule deadline + k * period that is after now. now - deadline
        // may exceed duration::max() (deadline near time_point::min()); as unsigned 64-bit it is
        // exact, since now > deadline here.
        using urep = std::make_unsigned_t<duration::rep>;
        const urep late = static_cast<urep>(now.time_since_epoch().count()) -
                          static_cast<urep>(deadline.time_since_epoch().count());
        const urep into_period = late % static_cast<urep>(period_.count());
        return detail::saturating_add(now,
                                      period_ - duration(static_cast<duration::rep>(into_period)));
      }
    }
    return detail::saturating_add(deadline, period_);
  }

  // The time between ticks; > 0.
  duration period_;
  // The deadline of the next tick.
  time_point next_;
  // What follows a missed tick.
  ::coreio::missed_tick_behavior behavior_;
};

}  // namespace coreio
