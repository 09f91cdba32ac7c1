// timeout_test.cpp — coreio/timeout.hpp (asyncio.timeout / timeout_at): a body of several awaits
// timed out after it has unwound; no timeout when it finishes first; reschedule earlier, later, to
// none and to the past, from the body, from another task and from a plain thread; expired(); an
// outer cancel stays a cancel; nested scopes each report their own deadline; a deadline already
// due at entry; saturated durations and deadlines; values and exceptions; the callable form; and a
// reschedule racing the firing. The suite runs at 1 and 2 workers.
#include <coreio/timeout.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <coreio/errors.hpp>
#include <coreio/future.hpp>
#include <coreio/gather.hpp>
#include <coreio/runtime.hpp>
#include <coreio/shield.hpp>
#include <coreio/spawn.hpp>
#include <coreio/sync/event.hpp>
#include <coreio/time.hpp>
#include <coreio/wait_for.hpp>

#include "support/test_support.hpp"
#include "support/test_tasks.hpp"

namespace {

using namespace std::chrono_literals;
using coreio_test::child_probe;
using coreio_test::end_marker;
using coreio_test::ends_within;
using coreio_test::immediate;
using coreio_test::int_after;
using coreio_test::prompt;
using coreio_test::sanitized;
using coreio_test::sleeper;
using coreio_test::stopwatch;
using coreio_test::test_error;
using coreio_test::wait_until;
using steady = std::chrono::steady_clock;

class TimeoutTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  coreio::runtime_options options() const { return coreio::runtime_options{.workers = GetParam()}; }
};

INSTANTIATE_TEST_SUITE_P(Workers, TimeoutTest, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return std::to_string(info.param) + "Workers";
                         });

/// How a scope's await ended.
enum class ended { value, timeout, cancelled, other };

struct outcome {
  ended how = ended::other;
  int value = 0;
};

/// Runs body under *ts and says how that ended.
coreio::task<outcome> outcome_of(coreio::timeout_scope* ts, coreio::task<int> body) {
  try {
    const int v = co_await ts->run(std::move(body));
    co_return outcome{ended::value, v};
  } catch (const coreio::timeout_error&) {
    co_return outcome{ended::timeout, 0};
  } catch (const coreio::cancelled_error&) {
    co_return outcome{ended::cancelled, 0};
  } catch (...) {
  }
  co_return outcome{};
}

/// Runs body under *ts (exceptions pass through).
coreio::task<int> run_in(coreio::timeout_scope* ts, coreio::task<int> body) {
  co_return co_await ts->run(std::move(body));
}

/// v after one suspension point.
coreio::task<int> yield_then_return(int v) {
  co_await coreio::yield_now();
  co_return v;
}

// ---- fires on time, or not at all --------------------------------------------------------------

/// Many awaits of several kinds (sleeps, yields, an inline task), 10 s in all; counts in *p.
coreio::task<int> many_awaits(child_probe* p) {
  end_marker m{p};
  p->started.fetch_add(1);
  int sum = 0;
  try {
    for (int i = 0; i < 10'000; ++i) {
      co_await coreio::sleep_for(1ms);
      co_await coreio::yield_now();
      sum += co_await immediate(1);
    }
  } catch (const coreio::cancelled_error&) {
    p->cancelled.fetch_add(1);
    throw;
  }
  p->finished.fetch_add(1);
  co_return sum;
}

/// True if the scope threw timeout_error after the body had unwound.
coreio::task<bool> times_out_after_unwinding(coreio::timeout_scope* ts, child_probe* p) {
  try {
    (void)co_await ts->run(many_awaits(p));
  } catch (const coreio::timeout_error&) {
    co_return p->ended.load() == 1;
  }
  co_return false;
}

TEST_P(TimeoutTest, FiresOnTimeForABodyOfSeveralAwaits) {
  coreio::runtime rt{options()};
  child_probe p;
  stopwatch sw;
  coreio::timeout_scope ts{20ms};
  EXPECT_FALSE(ts.expired());
  EXPECT_TRUE(rt.block_on(times_out_after_unwinding(&ts, &p)));
  EXPECT_GE(sw.elapsed(), 20ms);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(ts.expired());
  EXPECT_EQ(p.cancelled.load(), 1);
  EXPECT_EQ(p.finished.load(), 0);
}

coreio::task<int> three_sleeps() {
  int sum = co_await int_after(1ms, 1);
  sum += co_await int_after(1ms, 2);
  sum += co_await yield_then_return(4);
  co_return sum;
}

TEST_P(TimeoutTest, ReturnsTheValueWhenTheBodyFinishesFirst) {
  coreio::runtime rt{options()};
  coreio::timeout_scope ts{10s};
  const auto when = ts.when();
  stopwatch sw;
  EXPECT_EQ(rt.block_on(run_in(&ts, three_sleeps())), 7);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_FALSE(ts.expired());
  EXPECT_EQ(ts.when(), when);
}

TEST_P(TimeoutTest, NoDeadlineNeverFires) {
  coreio::runtime rt{options()};
  coreio::timeout_scope none;
  EXPECT_EQ(none.when(), std::nullopt);
  EXPECT_EQ(rt.block_on(run_in(&none, three_sleeps())), 7);
  coreio::timeout_scope also_none{std::nullopt};
  EXPECT_EQ(rt.block_on(run_in(&also_none, three_sleeps())), 7);
  EXPECT_FALSE(none.expired());
  EXPECT_FALSE(also_none.expired());
}

// ---- reschedule from the body ------------------------------------------------------------------

/// Moves its own deadline to now + d (or to `when`), records reschedule's answer, then sleeps 10 s.
coreio::task<int> reschedules_then_sleeps(coreio::timeout_scope* ts,
                                          std::optional<steady::time_point> when, bool* ok,
                                          child_probe* p) {
  *ok = ts->reschedule(when);
  co_return co_await sleeper(p, 10s, 1);
}

TEST_P(TimeoutTest, RescheduleEarlierFromTheBodyFires) {
  coreio::runtime rt{options()};
  child_probe p;
  bool ok = false;
  coreio::timeout_scope ts{10s};
  stopwatch sw;
  const outcome r =
      rt.block_on(outcome_of(&ts, reschedules_then_sleeps(&ts, steady::now() + 5ms, &ok, &p)));
  EXPECT_TRUE(ok);
  EXPECT_EQ(r.how, ended::timeout);
  EXPECT_GE(sw.elapsed(), 5ms);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(ts.expired());
  EXPECT_EQ(p.cancelled.load(), 1);
}

TEST_P(TimeoutTest, RescheduleToThePastFromTheBodyFiresAtOnce) {
  coreio::runtime rt{options()};
  for (const steady::time_point past : {steady::now() - 1s, steady::time_point::min()}) {
    child_probe p;
    bool ok = false;
    coreio::timeout_scope ts{10s};
    stopwatch sw;
    const outcome r = rt.block_on(outcome_of(&ts, reschedules_then_sleeps(&ts, past, &ok, &p)));
    EXPECT_TRUE(ok);
    EXPECT_EQ(r.how, ended::timeout);
    EXPECT_LT(sw.elapsed(), prompt);
    EXPECT_TRUE(ts.expired());
    EXPECT_EQ(ts.when(), std::optional<steady::time_point>(past));
    EXPECT_EQ(p.cancelled.load(), 1);
  }
}

/// Records whether the scope reports expired right after a reschedule to the past, then returns
/// without suspending.
coreio::task<int> reschedules_to_the_past_and_returns(coreio::timeout_scope* ts,
                                                      bool* expired_at_once) {
  (void)ts->reschedule(steady::now() - 1s);
  *expired_at_once = ts->expired();
  co_return 6;
}

TEST_P(TimeoutTest, ABodyThatFinishesWithoutSuspendingAfterARescheduleToThePastReturnsItsValue) {
  coreio::runtime rt{options()};
  bool expired_at_once = false;
  coreio::timeout_scope ts{10s};
  EXPECT_EQ(rt.block_on(run_in(&ts, reschedules_to_the_past_and_returns(&ts, &expired_at_once))),
            6);
  EXPECT_TRUE(expired_at_once);  // the firing is synchronous
  EXPECT_TRUE(ts.expired());
}

/// Where a test moves a deadline that is armed 50 ms out: 10 s later, to none, or to the last time
/// point (never).
enum class move_to { later, none, never };

/// The deadline `first` + the move.
std::optional<steady::time_point> moved(steady::time_point first, move_to m) {
  switch (m) {
    case move_to::later:
      return first + 10s;
    case move_to::none:
      return std::nullopt;
    case move_to::never:
      return steady::time_point::max();
  }
  return std::nullopt;
}

/// Arms a deadline 50 ms out, at once moves it (no suspension in between), records both answers in
/// *ok and the first deadline in *first. Run on a worker of a runtime without a monitor
/// (moves_options): the deadline is armed in the calling worker's queue, which only that worker
/// fires, between polls, so it cannot fire between the two calls however long they take.
void arm_then_move(coreio::timeout_scope* ts, move_to m, std::vector<bool>* ok,
                   steady::time_point* first) {
  *first = steady::now() + 50ms;
  ok->push_back(ts->reschedule(*first));
  ok->push_back(ts->reschedule(moved(*first, m)));
}

/// The runtime for arm_then_move: the monitor, which fires a due deadline of a worker stuck in a
/// poll, is off (a 50 ms stall between the two calls would let it fire the first deadline).
coreio::runtime_options moves_options(std::size_t workers) {
  return coreio::runtime_options{.workers = workers,
                                 .monitor_interval = std::chrono::microseconds(0)};
}

/// arm_then_move from the body, then lives until 20 ms past the first deadline.
coreio::task<int> moves_its_deadline(coreio::timeout_scope* ts, move_to m, std::vector<bool>* ok,
                                     steady::time_point* first) {
  arm_then_move(ts, m, ok, first);
  co_await coreio::sleep_until(*first + 20ms);
  co_return 5;
}

TEST_P(TimeoutTest, RescheduleLaterOrToNoneFromTheBodyDisarmsTheEarlierDeadline) {
  coreio::runtime rt{moves_options(GetParam())};
  for (const move_to m : {move_to::later, move_to::none, move_to::never}) {
    std::vector<bool> ok;
    steady::time_point first{};
    coreio::timeout_scope ts{10s};
    EXPECT_EQ(rt.block_on(run_in(&ts, moves_its_deadline(&ts, m, &ok, &first))), 5);
    EXPECT_EQ(ok, (std::vector<bool>{true, true}));
    EXPECT_FALSE(ts.expired());
    EXPECT_EQ(ts.when(), moved(first, m));
  }
}

/// Reschedules many times in a row (earlier and later), ending at `last`, then sleeps 10 s.
coreio::task<int> reschedules_often(coreio::timeout_scope* ts, steady::time_point last,
                                    child_probe* p) {
  for (int i = 0; i < 1000; ++i) {
    (void)ts->reschedule(steady::now() + std::chrono::seconds(1 + i % 7));
    if (i % 3 == 0) co_await coreio::yield_now();
  }
  (void)ts->reschedule(last);
  co_return co_await sleeper(p, 10s, 1);
}

TEST_P(TimeoutTest, ManyReschedulesLeaveOnlyTheLastDeadline) {
  coreio::runtime rt{options()};
  child_probe p;
  coreio::timeout_scope ts;
  stopwatch sw;
  const outcome r = rt.block_on(outcome_of(&ts, reschedules_often(&ts, steady::now() + 5ms, &p)));
  EXPECT_EQ(r.how, ended::timeout);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_TRUE(ts.expired());
}

// ---- reschedule from elsewhere -----------------------------------------------------------------

/// Sets *started, waits for *go, then lives until 20 ms past *first (set before *go).
coreio::task<int> waits_for_go(coreio::event* started, coreio::event* go,
                               const steady::time_point* first) {
  started->set();
  co_await go->wait();
  co_await coreio::sleep_until(*first + 20ms);
  co_return 3;
}

/// Once *started is set: with a move, arm_then_move; without, a deadline 5 ms out. Then sets *go.
coreio::task<void> reschedules_when_started(coreio::timeout_scope* ts, coreio::event* started,
                                            coreio::event* go, std::optional<move_to> m,
                                            std::vector<bool>* ok, steady::time_point* first) {
  co_await started->wait();
  if (m) {
    arm_then_move(ts, *m, ok, first);
  } else {
    *first = steady::now() + 10s;  // the body's own end
    ok->push_back(ts->reschedule(steady::now() + 5ms));
  }
  go->set();
}

/// Runs the body under *ts while a spawned task reschedules it; joins that task either way.
coreio::task<outcome> rescheduled_by_a_sibling(coreio::timeout_scope* ts, std::optional<move_to> m,
                                               std::vector<bool>* ok) {
  coreio::event started, go;
  steady::time_point first{};
  auto h = coreio::spawn(reschedules_when_started(ts, &started, &go, m, ok, &first));
  const outcome r = co_await outcome_of(ts, waits_for_go(&started, &go, &first));
  co_await h;
  co_return r;
}

TEST_P(TimeoutTest, RescheduleEarlierFromAnotherTaskFires) {
  coreio::runtime rt{options()};
  std::vector<bool> ok;
  coreio::timeout_scope ts;  // no deadline until the other task sets one
  stopwatch sw;
  // The body lives 10 s past the reschedule: only the deadline ends it.
  const outcome r = rt.block_on(rescheduled_by_a_sibling(&ts, std::nullopt, &ok));
  EXPECT_EQ(r.how, ended::timeout);
  EXPECT_LT(sw.elapsed(), prompt);
  EXPECT_EQ(ok, std::vector<bool>{true});
  EXPECT_TRUE(ts.expired());
}

TEST_P(TimeoutTest, RescheduleLaterOrToNoneFromAnotherTaskDisarms) {
  coreio::runtime rt{moves_options(GetParam())};
  for (const move_to m : {move_to::later, move_to::none, move_to::never}) {
    std::vector<bool> ok;
    coreio::timeout_scope ts;
    const outcome r = rt.block_on(rescheduled_by_a_sibling(&ts, m, &ok));
    EXPECT_EQ(r.how, ended::value);
    EXPECT_EQ(r.value, 3);
    EXPECT_EQ(ok, (std::vector<bool>{true, true}));
    EXPECT_FALSE(ts.expired());
  }
}

TEST_P(TimeoutTest, RescheduleFromAPlainThreadWakesTheWorkerThatHoldsTheDeadline) {
  // The workers park with nothing due for 10 s; the reschedule from this thread inserts the new
  // deadline into the queue of the worker the body started on, which must wake to re-arm.
  coreio::runtime rt{options()};
  child_probe p;
  coreio::timeout_scope ts;
  auto h = rt.spawn(outcome_of(&ts, sleeper(&p, 10s, 1)));
  ASSERT_TRUE(wait_until([&] { return p.started.load() == 1; }));
  stopwatch sw;
  EXPECT_TRUE(ts.reschedule(steady::now() + 5ms));
  ASSERT_TRUE(ends_within(h, std::chrono::duration_cast<std::chrono::milliseconds>(prompt)));
  EXPECT_EQ(h.get().how, ended::timeout);
  EXPECT_GE(sw.elapsed(), 5ms);
  EXPECT_TRUE(ts.expired());
  EXPECT_EQ(p.cancelled.load(), 1);
}

TEST_P(TimeoutTest, RescheduleToThePastFromAPlainThreadFiresOnThatThread) {
  coreio::runtime rt{options()};
  child_probe p;
  coreio::timeout_scope ts{10s};
  auto h = rt.spawn(outcome_of(&ts, sleeper(&p, 10s, 1)));
  ASSERT_TRUE(wait_until([&] { return p.started.load() == 1; }));
  EXPECT_TRUE(ts.reschedule(steady::now() - 1ms));
  EXPECT_TRUE(ts.expired());  // at once: the firing ran on this thread
  ASSERT_TRUE(ends_within(h, std::chrono::duration_cast<std::chrono::milliseconds>(prompt)));
  EXPECT_EQ(h.get().how, ended::timeout);
  EXPECT_FALSE(ts.reschedule(steady::now() + 10s)) << "a fired deadline cannot be moved";
}

// ---- before, after, and twice ------------------------------------------------------------------

TEST_P(TimeoutTest, RescheduleBeforeRunSetsTheDeadlineAndAfterTheEndChangesNothing) {
  coreio::runtime rt{options()};
  coreio::timeout_scope ts{10s};
  EXPECT_TRUE(ts.reschedule(std::nullopt));
  EXPECT_EQ(ts.when(), std::nullopt);
  EXPECT_TRUE(ts.reschedule(steady::now() - 1s));  // due at entry
  EXPECT_FALSE(ts.expired());
  EXPECT_EQ(rt.block_on(outcome_of(&ts, yield_then_return(1))).how, ended::timeout);
  EXPECT_TRUE(ts.expired());

  coreio::timeout_scope done{10s};
  EXPECT_EQ(rt.block_on(run_in(&done, yield_then_return(2))), 2);
  const auto when = done.when();
  EXPECT_FALSE(done.reschedule(steady::now() - 1s));
  EXPECT_FALSE(done.reschedule(std::nullopt));
  EXPECT_EQ(done.when(), when);
  EXPECT_FALSE(done.expired());
}

coreio::task<bool> runs_a_scope_twice(coreio::timeout_scope* ts) {
  (void)co_await ts->run(immediate(1));
  try {
    (void)co_await ts->run(immediate(2));
  } catch (const coreio::usage_error&) {
    co_return true;
  }
  co_return false;
}

TEST_P(TimeoutTest, RunningAScopeTwiceIsAUsageError) {
  coreio::runtime rt{options()};
  coreio::timeout_scope ts{10s};
  EXPECT_TRUE(rt.block_on(runs_a_scope_twice(&ts)));
}

// ---- expired() ---------------------------------------------------------------------------------

/// Catches the cancel at its sleep and returns v anyway.
coreio::task<int> catches_cancel_and_returns(int v) {
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    co_return v;
  }
  co_return -1;
}

TEST_P(TimeoutTest, ABodyThatCatchesTheCancelReturnsItsValueAndTheScopeHasExpired) {
  coreio::runtime rt{options()};
  coreio::timeout_scope ts{2ms};
  EXPECT_EQ(rt.block_on(run_in(&ts, catches_cancel_and_returns(9))), 9);
  EXPECT_TRUE(ts.expired());
}

// ---- outer cancellation ------------------------------------------------------------------------

TEST_P(TimeoutTest, AnOuterCancelStaysACancel) {
  coreio::runtime rt{options()};
  child_probe p;
  coreio::timeout_scope ts{10s};
  auto h = rt.spawn(run_in(&ts, sleeper(&p, 10s, 1)));
  ASSERT_TRUE(wait_until([&] { return p.started.load() == 1; }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.cancelled.load(), 1);
  EXPECT_EQ(p.ended.load(), 1);
  EXPECT_FALSE(ts.expired());
}

TEST_P(TimeoutTest, AnAlreadyCancelledCallerNeverStartsTheBody) {
  coreio::runtime rt{options()};
  child_probe gate_probe, p;
  coreio::timeout_scope ts{10s};
  // The task first sleeps (cancelled there, caught), then awaits the scope: sticky, so the scope
  // throws cancelled_error without starting the body.
  auto first_then_scope = [](child_probe* g, coreio::timeout_scope* s,
                             child_probe* q) -> coreio::task<int> {
    try {
      (void)co_await sleeper(g, 10s, 0);
    } catch (const coreio::cancelled_error&) {
    }
    co_return co_await s->run(sleeper(q, 10s, 1));
  };
  auto h = rt.spawn(first_then_scope(&gate_probe, &ts, &p));
  ASSERT_TRUE(wait_until([&] { return gate_probe.started.load() == 1; }));
  h.cancel();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_EQ(p.started.load(), 0);
  EXPECT_FALSE(ts.expired());
}

coreio::task<void> wait_event(coreio::event* e) { co_await e->wait(); }

/// Catches the deadline's cancel, sets *caught, waits (uncancellable) for *release, rethrows.
coreio::task<int> holds_the_cancel(coreio::event* caught, coreio::event* release) {
  std::exception_ptr cancelled;
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    cancelled = std::current_exception();
  }
  caught->set();
  co_await coreio::uncancellable(wait_event(release));
  std::rethrow_exception(cancelled);
}

TEST_P(TimeoutTest, AnOuterCancelAfterTheDeadlineFiredStaysACancel) {
  // asyncio 3.12: the deadline's CancelledError becomes TimeoutError only if no other cancel is
  // pending; here the awaiting task is cancelled while the body unwinds from the deadline.
  coreio::runtime rt{options()};
  coreio::event caught, release;
  coreio::timeout_scope ts;
  auto h = rt.spawn(run_in(&ts, holds_the_cancel(&caught, &release)));
  EXPECT_TRUE(ts.reschedule(steady::now() - 1s));  // fires now (or at entry if not started yet)
  ASSERT_TRUE(wait_until([&] { return caught.is_set(); }));
  h.cancel();
  release.set();
  EXPECT_THROW(h.get(), coreio::cancelled_error);
  EXPECT_TRUE(ts.expired());
}

// ---- nesting -----------------------------------------------------------------------------------

struct nest_report {
  bool inner_saw_timeout = false;
  bool inner_saw_cancel = false;
};

/// Runs body under *inner inside *outer's body, noting what the inner scope threw, and returns 2
/// if the inner timeout is caught.
coreio::task<int> outer_body(coreio::timeout_scope* inner, coreio::task<int> body, nest_report* r) {
  try {
    co_return co_await inner->run(std::move(body));
  } catch (const coreio::timeout_error&) {
    r->inner_saw_timeout = true;
  } catch (const coreio::cancelled_error&) {
    r->inner_saw_cancel = true;
    throw;
  }
  co_return 2;
}

TEST_P(TimeoutTest, AnInnerDeadlineThrowsAtTheInnerScope) {
  coreio::runtime rt{options()};
  child_probe p;
  nest_report r;
  coreio::timeout_scope outer{10s}, inner{5ms};
  EXPECT_EQ(rt.block_on(run_in(&outer, outer_body(&inner, sleeper(&p, 10s, 1), &r))), 2);
  EXPECT_TRUE(r.inner_saw_timeout);
  EXPECT_TRUE(inner.expired());
  EXPECT_FALSE(outer.expired());
}

TEST_P(TimeoutTest, AnOuterDeadlineCancelsTheInnerScopeAndThrowsAtTheOuterScope) {
  coreio::runtime rt{options()};
  child_probe p;
  nest_report r;
  coreio::timeout_scope outer{5ms}, inner{10s};
  EXPECT_EQ(rt.block_on(outcome_of(&outer, outer_body(&inner, sleeper(&p, 10s, 1), &r))).how,
            ended::timeout);
  EXPECT_TRUE(r.inner_saw_cancel);
  EXPECT_FALSE(r.inner_saw_timeout);
  EXPECT_FALSE(inner.expired());
  EXPECT_TRUE(outer.expired());
}

/// The inner body: catches the inner deadline's cancel, then fires the outer deadline, rethrows.
coreio::task<int> fires_outer_after_inner(coreio::timeout_scope* outer) {
  std::exception_ptr cancelled;
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    cancelled = std::current_exception();
  }
  (void)outer->reschedule(steady::now() - 1s);
  std::rethrow_exception(cancelled);
}

TEST_P(TimeoutTest, WhenBothDeadlinesFireTheOuterScopeReportsTheTimeout) {
  // The inner scope's caller (the outer body) is cancelled too: the inner one passes the cancel on,
  // the outer one turns it into its timeout_error (asyncio: the outermost expired scope raises).
  coreio::runtime rt{options()};
  nest_report r;
  coreio::timeout_scope outer{10s}, inner{5ms};
  EXPECT_EQ(
      rt.block_on(outcome_of(&outer, outer_body(&inner, fires_outer_after_inner(&outer), &r))).how,
      ended::timeout);
  EXPECT_TRUE(r.inner_saw_cancel);
  EXPECT_TRUE(inner.expired());
  EXPECT_TRUE(outer.expired());
}

// ---- a deadline already due at entry -----------------------------------------------------------

TEST_P(TimeoutTest, ADueDeadlineAtEntryTimesOutABodyThatSuspends) {
  coreio::runtime rt{options()};
  coreio::timeout_scope zero{0ms}, negative{-3s}, most_negative{std::chrono::hours::min()},
      past{steady::now() - 1s}, earliest{steady::time_point::min()};
  for (coreio::timeout_scope* ts : {&zero, &negative, &most_negative, &past, &earliest}) {
    EXPECT_EQ(rt.block_on(outcome_of(ts, yield_then_return(1))).how, ended::timeout);
    EXPECT_TRUE(ts->expired());
  }
}

TEST_P(TimeoutTest, ADueDeadlineAtEntryLetsABodyThatDoesNotSuspendReturnItsValue) {
  coreio::runtime rt{options()};
  coreio::timeout_scope zero{0ms}, earliest{steady::time_point::min()};
  EXPECT_EQ(rt.block_on(run_in(&zero, immediate(7))), 7);
  EXPECT_EQ(rt.block_on(run_in(&earliest, immediate(8))), 8);
}

// ---- saturation --------------------------------------------------------------------------------

TEST_P(TimeoutTest, TheLargestDurationsAndDeadlinesSaturateAndNeverFire) {
  coreio::runtime rt{options()};
  coreio::timeout_scope hours{std::chrono::hours::max()}, nanos{std::chrono::nanoseconds::max()},
      ticks{steady::duration::max()}, doubles{std::chrono::duration<double>(1e300)},
      last{steady::time_point::max()};
  for (coreio::timeout_scope* ts : {&hours, &nanos, &ticks, &doubles, &last}) {
    EXPECT_EQ(ts->when(), std::optional<steady::time_point>(steady::time_point::max()));
    EXPECT_EQ(rt.block_on(run_in(ts, yield_then_return(4))), 4);
    EXPECT_FALSE(ts->expired());
  }
}

// ---- values and exceptions ---------------------------------------------------------------------

coreio::task<std::string> text_after_sleep() {
  co_await coreio::sleep_for(1ms);
  co_return std::string("abc");
}

coreio::task<void> nothing_after_sleep(int* ran) {
  co_await coreio::sleep_for(1ms);
  ++*ran;
}

coreio::task<std::string> other_value_types(int* ran) {
  coreio::timeout_scope a{10s}, b{10s};
  std::string s = co_await a.run(text_after_sleep());
  co_await b.run(nothing_after_sleep(ran));
  co_return s;
}

TEST_P(TimeoutTest, ValuesOfEveryTypePassThrough) {
  coreio::runtime rt{options()};
  int ran = 0;
  EXPECT_EQ(rt.block_on(other_value_types(&ran)), "abc");
  EXPECT_EQ(ran, 1);
}

TEST_P(TimeoutTest, TheBodysOwnExceptionPassesThrough) {
  coreio::runtime rt{options()};
  coreio::timeout_scope ts{10s};
  try {
    rt.block_on(run_in(&ts, coreio_test::fail_after(1ms, 4)));
    FAIL() << "no exception";
  } catch (const test_error& e) {
    EXPECT_EQ(e.value, 4);
  }
  EXPECT_FALSE(ts.expired());
}

/// Throws test_error(v) when cancelled at its sleep: a clean-up that fails.
coreio::task<int> throws_on_cancel(int v) {
  try {
    co_await coreio::sleep_for(10s);
  } catch (const coreio::cancelled_error&) {
    throw test_error(v);
  }
  co_return -1;
}

TEST_P(TimeoutTest, AnErrorRaisedWhileUnwindingFromTheDeadlineIsReported) {
  coreio::runtime rt{options()};
  coreio::timeout_scope ts{2ms};
  EXPECT_THROW(rt.block_on(run_in(&ts, throws_on_cancel(5))), test_error);
  EXPECT_TRUE(ts.expired());
}

/// A timeout_error of the body's own (a wait_for inside it), not this scope's.
coreio::task<int> inner_wait_for_times_out() {
  co_return co_await coreio::wait_for(int_after(10s, 1), 2ms);
}

TEST_P(TimeoutTest, ATimeoutErrorOfTheBodysOwnPassesThroughAndTheScopeHasNotExpired) {
  coreio::runtime rt{options()};
  coreio::timeout_scope ts{10s};
  EXPECT_THROW(rt.block_on(run_in(&ts, inner_wait_for_times_out())), coreio::timeout_error);
  EXPECT_FALSE(ts.expired());
}

coreio::task<int> future_under_scope(coreio::timeout_scope* ts, coreio::future<int>* f) {
  co_return co_await ts->run(*f);
}

TEST_P(TimeoutTest, RunsAnyAwaitable) {
  coreio::runtime rt{options()};
  coreio::promise<int> never;
  coreio::future<int> f = never.get_future();
  coreio::timeout_scope ts{2ms};
  EXPECT_THROW(rt.block_on(future_under_scope(&ts, &f)), coreio::timeout_error);
  coreio::promise<int> ready;
  coreio::future<int> g = ready.get_future();
  ready.set_value(12);
  coreio::timeout_scope ts2{10s};
  EXPECT_EQ(rt.block_on(future_under_scope(&ts2, &g)), 12);
}

// ---- the callable form: coreio::timeout / coreio::timeout_at -----------------------------------

coreio::task<int> callable_forms() {
  const std::string word = "four";
  int extended = 0;
  // A capturing lambda coroutine: the awaitable keeps the lambda (and so its captures) alive while
  // the body runs. Named first: it captures a string by value (GCC 12, see coreio/timeout.hpp).
  auto body = [&, copy = word](coreio::timeout_scope& cm) -> coreio::task<int> {
    co_await coreio::sleep_for(1ms);
    extended += cm.reschedule(*cm.when() + 1s) ? 1 : 0;
    co_await coreio::yield_now();
    co_return static_cast<int>(copy.size() + word.size());
  };
  int a = co_await coreio::timeout(10s, std::move(body));
  // A temporary lambda capturing by reference and a plain int by value.
  const int three = static_cast<int>(word.size()) - 1;  // not a constant: it must be captured
  a += co_await coreio::timeout(10s, [&, three](coreio::timeout_scope&) -> coreio::task<int> {
    co_await coreio::sleep_for(1ms);
    co_return three + static_cast<int>(word.size());
  });
  int b = co_await coreio::timeout_at(std::nullopt, [&]() { return int_after(1ms, 10); });
  int c = 0;
  try {
    c = co_await coreio::timeout(2ms, [](coreio::timeout_scope&) { return int_after(10s, 1); });
  } catch (const coreio::timeout_error&) {
    c = 100;
  }
  bool expired_inside = false;
  int d = co_await coreio::timeout_at(
      steady::now() - 1s, [&](coreio::timeout_scope& cm) -> coreio::task<int> {
        expired_inside = cm.expired();  // fired at entry, before the body ran
        co_return 1000;                 // no suspension: the value comes back
      });
  co_return a + b + c + d + extended * 10'000 + (expired_inside ? 100'000 : 0);
}

TEST_P(TimeoutTest, TheCallableFormsRunTheBodyTheCallableMakes) {
  coreio::runtime rt{options()};
  EXPECT_EQ(rt.block_on(callable_forms()), 8 + 7 + 10 + 100 + 1000 + 10'000 + 100'000);
}

// ---- composing with the other combinators ------------------------------------------------------

/// A scope's run() and coreio::timeout(...) passed by value to gather and wait_for.
coreio::task<int> composed() {
  coreio::timeout_scope a{10s}, b{10s};
  auto [x, y] = co_await coreio::gather(a.run(int_after(1ms, 1)), b.run(int_after(1ms, 2)));
  const int z = co_await coreio::wait_for(
      coreio::timeout(10s, [](coreio::timeout_scope&) { return int_after(1ms, 4); }), 10s);
  int w = 0;
  try {
    // wait_for's limit fires first: the scope passes the cancel on, wait_for reports its timeout.
    w = co_await coreio::wait_for(coreio::timeout(10s, [] { return int_after(10s, 1); }), 2ms);
  } catch (const coreio::timeout_error&) {
    w = 8;
  }
  co_return x + y + z + w;
}

TEST_P(TimeoutTest, ComposesWithTheOtherCombinatorsAndTheEntryPoints) {
  coreio::runtime rt{options()};
  EXPECT_EQ(rt.block_on(composed()), 15);
  EXPECT_EQ(rt.block_on(coreio::timeout(10s, [] { return int_after(1ms, 16); })), 16);
  coreio::timeout_scope ts{2ms};
  EXPECT_THROW(rt.block_on(ts.run(int_after(10s, 1))), coreio::timeout_error);
  EXPECT_TRUE(ts.expired());
  auto h = rt.spawn(coreio::timeout(2ms, [] { return int_after(10s, 1); }));
  EXPECT_THROW(h.get(), coreio::timeout_error);
}

// ---- races -------------------------------------------------------------------------------------

coreio::task<int> value_of(coreio::future<int>* f) { co_return co_await *f; }

TEST_P(TimeoutTest, ARescheduleRacingTheFiringEitherWinsOrLoses) {
  // Each round: a deadline within 300 us on a body that waits for a future; from this thread, at a
  // random moment, reschedule to none, to 10 s later, or to the past, then set the future. Won
  // (true): a later deadline or none never fires; a past one has fired. Lost (false): the deadline
  // had fired, expired() says so, and the body was cancelled unless it had ended first.
  coreio::runtime rt{options()};
  coreio_test::rng r(21 + GetParam());
  const int rounds = sanitized(3'000, 600);
  int won = 0, lost = 0;
  for (int i = 0; i < rounds; ++i) {
    coreio::timeout_scope ts{std::chrono::microseconds(r.below(300))};
    coreio::promise<int> go;
    coreio::future<int> f = go.get_future();
    auto h = rt.spawn(outcome_of(&ts, value_of(&f)));
    coreio_test::spin_for(std::chrono::microseconds(r.below(300)));
    const std::uint64_t kind = r.below(3);
    const std::optional<steady::time_point> when =
        kind == 0 ? std::nullopt
                  : std::optional<steady::time_point>(kind == 1 ? steady::now() + 10s
                                                                : steady::now() - 1s);
    const bool ok = ts.reschedule(when);
    const bool expired_after = ts.expired();
    go.set_value(i);
    ASSERT_TRUE(ends_within(h)) << "round " << i << " never ended";
    const outcome o = h.get();
    ASSERT_NE(o.how, ended::cancelled) << "round " << i;
    ASSERT_NE(o.how, ended::other) << "round " << i;
    if (o.how == ended::value) {
      ASSERT_EQ(o.value, i);
    }
    if (!ok) {
      ++lost;
      ASSERT_TRUE(expired_after) << "round " << i << ": reschedule lost but expired() was false";
      ASSERT_TRUE(ts.expired());
    } else if (kind == 2) {
      ASSERT_TRUE(ts.expired()) << "round " << i << ": a past deadline did not fire";
    } else {
      ++won;
      ASSERT_EQ(o.how, ended::value) << "round " << i << ": a disarmed deadline fired";
      ASSERT_FALSE(ts.expired()) << "round " << i;
    }
  }
  RecordProperty("disarmed_in_time", won);
  RecordProperty("lost_to_the_firing", lost);
}

struct storm_counts {
  std::atomic<int> values{0}, timeouts{0}, others{0};
};

/// A sibling that moves *ts to `when` after `after`, unless the scope has ended by then.
coreio::task<void> moves_later(coreio::timeout_scope* ts, std::chrono::microseconds after,
                               std::optional<steady::time_point> when) {
  co_await coreio::sleep_for(after);
  (void)ts->reschedule(when);
}

coreio::task<void> one_scope(std::chrono::microseconds work, std::chrono::microseconds limit,
                             std::chrono::microseconds move_after,
                             std::optional<steady::time_point> move_to, child_probe* p,
                             storm_counts* c) {
  coreio::timeout_scope ts{limit};
  auto mover = coreio::spawn(moves_later(&ts, move_after, move_to));
  const outcome o = co_await outcome_of(&ts, sleeper(p, work, 1));
  co_await mover;  // the scope outlives every reschedule
  (o.how == ended::value     ? c->values
   : o.how == ended::timeout ? c->timeouts
                             : c->others)
      .fetch_add(1);
}

coreio::task<void> many_scopes(int n, child_probe* p, storm_counts* c) {
  coreio_test::rng r(5);
  std::vector<coreio::task<void>> ts;
  for (int i = 0; i < n; ++i) {
    const auto us = [&](std::uint64_t m) { return std::chrono::microseconds(r.below(m)); };
    const std::uint64_t kind = r.below(3);
    const std::optional<steady::time_point> to =
        kind == 0 ? std::nullopt
                  : std::optional<steady::time_point>(steady::now() +
                                                      (kind == 1 ? 10s : std::chrono::seconds(0)));
    ts.push_back(one_scope(us(400), us(400), us(400), to, p, c));
  }
  co_await coreio::gather(std::move(ts));
}

TEST_P(TimeoutTest, ManyScopesWithReschedulesFromSiblingsEachEndOnce) {
  coreio::runtime rt{options()};
  child_probe p;
  storm_counts c;
  const int n = sanitized(5'000, 1'000);
  ASSERT_NO_THROW(rt.block_on(many_scopes(n, &p, &c)));
  EXPECT_EQ(c.values.load() + c.timeouts.load(), n);
  EXPECT_EQ(c.others.load(), 0);
  EXPECT_EQ(p.ended.load(), p.started.load());
}

}  // namespace
