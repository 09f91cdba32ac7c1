// coreio/detail/saturating_time.hpp — the one place where coreio computes a deadline.
//
// steady_clock counts signed 64-bit ticks (nanoseconds). `now() + hours::max()`, a deadline of
// time_point::max() plus a period, or `now() - time_point::min()` overflow that integer: undefined
// behaviour, and in practice a wrap into the far past, so that "forever" completes at once (tokio
// #6634: an interval of Duration::MAX ticked twice at once). Every deadline and every lateness the
// library computes goes through these helpers instead, which clamp to the representable range:
//
//   to_clock_duration(d)   d in clock ticks, rounded up (a deadline derived from it is never
//                          early), clamped to [duration::min(), duration::max()]. Any Rep, floating
//                          point included, and any Period (hours::max() is ~3.6e12 times too large
//                          for nanoseconds). A NaN duration throws std::invalid_argument (asyncio
//                          3.13's sleep raises ValueError on NaN).
//   saturating_add(t, d)   t + d, clamped to [time_point::min(), time_point::max()]; any duration
//                          type (to_clock_duration's rounding; see below beyond the clock's range).
//   saturating_sub(a, b)   a - b (a duration), clamped to [duration::min(), duration::max()].
//   deadline_after(d)      now() + d saturated; now() itself if d <= 0 (already due).
//
// time_point::max() is the "never" deadline: a sleep until it waits until it is cancelled, and no
// computation moves past it. time_point::min() is "long ago": always due.
//
// How the floating-point path stays safe: the value is converted once to a long double count of
// ticks, rounded up, and compared with the tick range converted the same way. Rounding is
// monotonic, so a value that compares below the largest tick count converts to a count that fits
// (it is at most that bound, an integer); no intermediate overflows. The same holds for a time
// point plus a duration beyond the clock's range (hours::max()), summed in long double: exact to
// within the rounding of that sum, and clamped exactly.
//
// Thread safety: pure functions (deadline_after reads the clock).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ratio>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace coreio::detail {

using steady_clock = std::chrono::steady_clock;

/// d in steady_clock ticks, rounded up, as a long double (exact for every count of ticks that fits
/// the clock, approximate beyond). Throws std::invalid_argument for a NaN.
template <class Rep, class Period>
long double clock_ticks(std::chrono::duration<Rep, Period> d) noexcept(
    !std::chrono::treat_as_floating_point_v<Rep>) {
  const long double x =
      std::ceil(std::chrono::duration<long double, steady_clock::period>(d).count());
  if constexpr (std::chrono::treat_as_floating_point_v<Rep>) {
    if (std::isnan(x)) throw std::invalid_argument("coreio: a duration is NaN");
  }
  return x;
}

/// x clamped to the clock's tick count range and converted (x integral, or +-inf).
inline steady_clock::rep clamp_ticks(long double x) noexcept {
  using rep = steady_clock::rep;
  // Both bounds are exact in long double where it has 64 mantissa bits (x86-64) or more
  // (aarch64); where it is a double, max() rounds up to 2^63 and `>=` still catches everything
  // that would not fit.
  constexpr long double hi = static_cast<long double>(std::numeric_limits<rep>::max());
  constexpr long double lo = static_cast<long double>(std::numeric_limits<rep>::min());
  if (x >= hi) return std::numeric_limits<rep>::max();
  if (x <= lo) return std::numeric_limits<rep>::min();
  return static_cast<rep>(x);
}

/// d in steady_clock ticks, rounded up, clamped to [duration::min(), duration::max()]. Throws
/// std::invalid_argument for a NaN (floating-point Rep only).
template <class Rep, class Period>
constexpr steady_clock::duration to_clock_duration(std::chrono::duration<Rep, Period> d) noexcept(
    !std::chrono::treat_as_floating_point_v<Rep>) {
  using out = steady_clock::duration;
  using rep = out::rep;
  static_assert(std::is_integral_v<rep> && std::is_signed_v<rep>,
                "steady_clock counts in a signed integer (every standard library does)");
  // Clock ticks per unit of d, when that is a whole number (hours, seconds, ..., nanoseconds).
  using per_unit = std::ratio_divide<Period, out::period>;
  if constexpr (std::is_integral_v<Rep> && per_unit::den == 1) {
    // Exact: compare the count with the largest and smallest counts that still fit.
    constexpr rep k = static_cast<rep>(per_unit::num);
    constexpr rep hi = std::numeric_limits<rep>::max() / k;
    constexpr rep lo = std::numeric_limits<rep>::min() / k;  // rounds towards zero: lo * k fits
    const Rep c = d.count();
    if (std::cmp_greater(c, hi)) return out::max();
    if (std::cmp_less(c, lo)) return out::min();
    return out(static_cast<rep>(c) * k);
  } else {
    // Floating point, or a unit finer than a tick: one conversion, then clamp (file comment).
    return out(clamp_ticks(clock_ticks(d)));
  }
}

/// t + d, clamped to [time_point::min(), time_point::max()]. Exact.
constexpr steady_clock::time_point saturating_add(steady_clock::time_point t,
                                                  steady_clock::duration d) noexcept {
  using rep = steady_clock::rep;
  const rep a = t.time_since_epoch().count();
  const rep b = d.count();
  if (b > 0 && a > std::numeric_limits<rep>::max() - b) return steady_clock::time_point::max();
  if (b < 0 && a < std::numeric_limits<rep>::min() - b) return steady_clock::time_point::min();
  return t + d;
}

/// t + d for any duration type (rounded up to ticks), clamped to [time_point::min(),
/// time_point::max()]. Exact when d fits the clock's duration; for a d beyond it (hours::max())
/// the sum is formed in long double, then clamped: t + hours::max() is time_point::max() for any t,
/// and time_point::min() + hours::max() is not.
template <class Rep, class Period>
steady_clock::time_point saturating_add(
    steady_clock::time_point t,
    std::chrono::duration<Rep, Period> d) noexcept(!std::chrono::treat_as_floating_point_v<Rep>) {
  const steady_clock::duration c = to_clock_duration(d);
  if (c != steady_clock::duration::max() && c != steady_clock::duration::min()) {
    return saturating_add(t, c);
  }
  const long double sum = static_cast<long double>(t.time_since_epoch().count()) + clock_ticks(d);
  return steady_clock::time_point(steady_clock::duration(clamp_ticks(sum)));
}

/// a - b, clamped to [duration::min(), duration::max()].
constexpr steady_clock::duration saturating_sub(steady_clock::time_point a,
                                                steady_clock::time_point b) noexcept {
  using rep = steady_clock::rep;
  const rep x = a.time_since_epoch().count();
  const rep y = b.time_since_epoch().count();
  if (y < 0 && x > std::numeric_limits<rep>::max() + y) return steady_clock::duration::max();
  if (y > 0 && x < std::numeric_limits<rep>::min() + y) return steady_clock::duration::min();
  return steady_clock::duration(x - y);
}

/// now + d, saturated at time_point::max() ("never") instead of overflowing; now if d <= 0.
template <class Rep, class Period>
steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept(
    !std::chrono::treat_as_floating_point_v<Rep>) {
  const steady_clock::time_point now = steady_clock::now();
  if (d <= std::chrono::duration<Rep, Period>::zero()) return now;
  return saturating_add(now, d);
}

}  // namespace coreio::detail
