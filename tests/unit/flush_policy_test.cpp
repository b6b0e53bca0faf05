// The persistence core's flush decisions (orchestrator/persistence/flush_policy.h), without
// threads: the flusher's signals and triggers, ticks, rounds, batch admission past the
// breaker, transaction timeouts, and what a write's outcome does.
#include <catch2/catch.hpp>

#include "orchestrator/persistence/flush_policy.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::AdmitFlush;
using projd::BatchWrite;
using projd::BreakerState;
using projd::Checkpoint;
using projd::CheckpointKey;
using projd::CircuitBreaker;
using projd::Durability;
using projd::FlushAdmission;
using projd::FlushOutcome;
using projd::FlushSignals;
using projd::PendingCheckpoints;
using projd::PersistenceFigures;
using projd::SubmitCode;
using projd::Trigger;
using Verdict = FlushAdmission::Verdict;

namespace {
CheckpointKey Key(int partition) { return {"rs", "p", partition}; }
Checkpoint Cp(int partition, std::int64_t position, std::int64_t generation = 1) {
  return {Key(partition), position, generation, "w1"};
}
}  // namespace

TEST_CASE("flush signals: the size trigger rises once per batch's worth until taken", "[persistence][flush]") {
  FlushSignals s;
  CHECK_FALSE(s.NoteSize(9, 10));
  CHECK_FALSE(s.raised());
  CHECK(s.NoteSize(10, 10));        // raised: wake the flusher
  CHECK_FALSE(s.NoteSize(11, 10));  // already raised: no second wake-up
  CHECK(s.raised());
  CHECK_FALSE(s.requested());
  s.BatchTaken();  // a flush took a batch: it covered the size trigger
  CHECK_FALSE(s.raised());
  CHECK(s.NoteSize(10, 10));
  CHECK(s.Take(false) == Trigger::kSize);
  CHECK_FALSE(s.raised());
}

TEST_CASE("flush signals: one requested flush at a time, never for nothing or past an open breaker",
          "[persistence][flush]") {
  FlushSignals s;
  CHECK_FALSE(s.Request(Trigger::kLag, false, false));  // nothing pending
  CHECK_FALSE(s.Request(Trigger::kLag, true, true));    // the breaker is open
  CHECK_FALSE(s.raised());
  CHECK(s.Request(Trigger::kCaughtUp, true, false));
  CHECK(s.requested());
  CHECK_FALSE(s.Request(Trigger::kLag, true, false));  // one asked already: the first one stands
  CHECK(s.Take(false) == Trigger::kCaughtUp);
  CHECK_FALSE(s.requested());
  CHECK(s.Request(Trigger::kLag, true, false));
}

TEST_CASE("flush signals: a due tick flushes as interval and takes every signal", "[persistence][flush]") {
  FlushSignals s;
  CHECK(s.Take(true) == Trigger::kInterval);   // the tick alone
  CHECK(s.Take(false) == Trigger::kSize);      // woken without a request: the size trigger
  s.NoteSize(10, 10);
  s.Request(Trigger::kLag, true, false);
  CHECK(s.Take(true) == Trigger::kInterval);  // the tick wins...
  CHECK_FALSE(s.raised());                     // ...and no signal is left to spin the flusher
  s.NoteSize(10, 10);
  s.Request(Trigger::kLag, true, false);
  CHECK(s.Take(false) == Trigger::kLag);  // a request wins over the size trigger
  CHECK_FALSE(s.raised());
}

TEST_CASE("the flusher ticks at a fixed rate and re-reads a fake clock every 20 ms", "[persistence][flush]") {
  projd::testing::FakeClock clock;
  const auto t0 = clock.Now();
  CHECK(projd::FlusherWait(t0 + 1s, t0) == 20ms);
  CHECK(projd::FlusherWait(t0 + 5ms, t0) == 5ms);
  CHECK(projd::NextTick(t0 + 1s, t0, 1s) == t0 + 1s);             // not due: unchanged
  CHECK(projd::NextTick(t0 + 1s, t0 + 1s, 1s) == t0 + 2s);        // due now: the next one
  CHECK(projd::NextTick(t0 + 1s, t0 + 1300ms, 1s) == t0 + 2s);    // a slow flush does not drift the rate
  CHECK(projd::NextTick(t0 + 1s, t0 + 3500ms, 1s) == t0 + 4s);    // missed ticks are skipped
}

TEST_CASE("a flusher turn writes the batches pending when it begins, and stops early", "[persistence][flush]") {
  CHECK(projd::RoundsFor(0, 10) == 1);
  CHECK(projd::RoundsFor(10, 10) == 1);
  CHECK(projd::RoundsFor(11, 10) == 2);
  CHECK(projd::RoundsFor(95, 10) == 10);
  CHECK(projd::RoundsFor(3, 0) == 3);  // a batch size below 1 counts as 1
  CHECK(projd::AnotherRound(Trigger::kInterval, 5, false, 10));
  CHECK_FALSE(projd::AnotherRound(Trigger::kInterval, 0, false, 10));  // nothing left
  CHECK_FALSE(projd::AnotherRound(Trigger::kInterval, 5, true, 10));   // the core stops
  CHECK_FALSE(projd::AnotherRound(Trigger::kSize, 9, false, 10));      // less than a batch: wait for it
  CHECK(projd::AnotherRound(Trigger::kSize, 10, false, 10));
  CHECK(projd::AnotherRound(Trigger::kLag, 1, false, 10));
}

TEST_CASE("flush admission: nothing spends no probe, open skips, half-open probes with one key",
          "[persistence][flush][breaker]") {
  projd::testing::FakeClock clock;
  CircuitBreaker breaker(clock, 1, 5s);
  auto a = AdmitFlush(true, breaker, 10);
  CHECK(a.verdict == Verdict::kWrite);
  CHECK(a.limit == 10);
  CHECK_FALSE(a.breaker.probe);
  CHECK(a.breaker.before == BreakerState::kClosed);

  breaker.RecordFailure();  // open
  CHECK(AdmitFlush(true, breaker, 10).verdict == Verdict::kSkipped);
  clock.Advance(5s);
  CHECK(AdmitFlush(false, breaker, 10).verdict == Verdict::kNothing);
  CHECK(breaker.state() == BreakerState::kOpen);  // not asked: the probe is still due
  a = AdmitFlush(true, breaker, 10);
  CHECK(a.verdict == Verdict::kWrite);
  CHECK(a.limit == 1);
  CHECK(a.breaker.probe);
  CHECK(a.breaker.before == BreakerState::kOpen);
  CHECK(AdmitFlush(true, breaker, 10).verdict == Verdict::kSkipped);  // the probe is out
}

TEST_CASE("a transaction's timeout is cut to the final drain's deadline only", "[persistence][flush][shutdown]") {
  projd::testing::FakeClock clock;
  const auto now = clock.Now();
  CHECK(projd::BatchDeadline(Trigger::kShutdown, now + 3s) == now + 3s);
  for (const auto t : {Trigger::kForce, Trigger::kRevoke, Trigger::kInterval}) {
    CHECK_FALSE(projd::BatchDeadline(t, now + 3s).has_value());  // a handover keeps whole batches
  }
  CHECK(projd::AttemptTimeout(5s, now, std::nullopt) == 5s);
  CHECK(projd::AttemptTimeout(5s, now, now + 300ms) == 300ms);
  CHECK(projd::AttemptTimeout(5s, now, now + 10s) == 5s);
  CHECK(projd::AttemptTimeout(5s, now, now - 1s) == 1ms);  // past the deadline: still a positive timeout
}

TEST_CASE("a committed write: durable, fenced keys dropped and returned, breaker closed, counted",
          "[persistence][flush][fencing]") {
  projd::testing::FakeClock clock;
  CircuitBreaker breaker(clock, 3, 5s);
  PersistenceFigures figures;
  PendingCheckpoints pending;
  breaker.RecordFailure();
  REQUIRE(pending.Admit(Cp(1, 10), clock.Now(), 10) == SubmitCode::kAccepted);
  REQUIRE(pending.Admit(Cp(2, 10), clock.Now(), 10) == SubmitCode::kAccepted);
  const auto t1 = pending.IssueTicket(Cp(1, 10), SubmitCode::kAccepted);
  const auto t2 = pending.IssueTicket(Cp(2, 10), SubmitCode::kAccepted);
  const auto batch = pending.Take(nullptr, 10);
  BatchWrite write;
  write.outcome = projd::WriteOutcome{{Key(2)}};
  write.took = 3ms;
  const auto fenced = ApplyFlushWrite(Trigger::kForce, batch, write, 1000, pending, breaker, figures);
  REQUIRE(fenced.size() == 1);
  CHECK(fenced[0].key == Key(2));
  CHECK(t1->state() == Durability::kDurable);
  CHECK(t2->state() == Durability::kFenced);
  CHECK(pending.used() == 0);
  CHECK(breaker.consecutive_failures() == 0);  // fencing is no breaker failure
  const auto s = figures.Snapshot();
  CHECK(s.successful_requests == 1);
  CHECK(s.fenced == 1);
  CHECK(s.last_success_time == 1000);
  CHECK(s.flushes.Count(Trigger::kForce, FlushOutcome::kSuccess) == 1);
}

TEST_CASE("a failed write merges back, counts a breaker failure and keeps its error", "[persistence][flush]") {
  projd::testing::FakeClock clock;
  CircuitBreaker breaker(clock, 1, 5s);
  PersistenceFigures figures;
  PendingCheckpoints pending;
  pending.Admit(Cp(1, 10), clock.Now(), 10);
  const auto t = pending.IssueTicket(Cp(1, 10), SubmitCode::kAccepted);
  const auto batch = pending.Take(nullptr, 10);
  BatchWrite write;
  write.error = "connection refused";
  write.start = clock.Now();
  const auto fenced = ApplyFlushWrite(Trigger::kInterval, batch, write, 2000, pending, breaker, figures);
  CHECK(fenced.empty());
  CHECK(pending.pending_count() == 1);  // kept for the retry
  CHECK(t->state() == Durability::kPending);
  CHECK(breaker.state() == BreakerState::kOpen);
  CHECK(figures.last_error() == "connection refused");
  const auto s = figures.Snapshot();
  CHECK(s.failed_requests == 1);
  CHECK(s.last_failure_time == 2000);
  CHECK(s.flushes.Count(Trigger::kInterval, FlushOutcome::kFailure) == 1);
  CHECK(s.flushes.Count(Trigger::kInterval, FlushOutcome::kSuccess) == 0);
}
