// PendingCheckpoints (orchestrator/persistence/pending_checkpoints.h): the persistence core's
// bookkeeping of pending, in-flight, durable and fenced checkpoints and their tickets, driven
// directly with a fake clock, without the core or threads.
#include <catch2/catch.hpp>

#include "orchestrator/persistence/pending_checkpoints.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::Checkpoint;
using projd::CheckpointKey;
using projd::Durability;
using projd::PendingCheckpoints;
using projd::SubmitCode;

namespace {
CheckpointKey Key(int partition) { return {"rs", "p", partition}; }
Checkpoint Cp(int partition, std::int64_t position, std::int64_t generation = 1) {
  return {Key(partition), position, generation, "w1"};
}
struct Ledger {
  projd::testing::FakeClock clock;
  PendingCheckpoints pending;
  // Admits and issues the ticket, as Submit does.
  std::shared_ptr<projd::DurabilityTicket> Submit(const Checkpoint& cp, SubmitCode expected, int max_pending = 10) {
    const auto code = pending.Admit(cp, clock.Now(), max_pending);
    CHECK(code == expected);
    return projd::Accepted(code) ? pending.IssueTicket(cp, code) : nullptr;
  }
};
}  // namespace

TEST_CASE("pending checkpoints: admission codes", "[persistence][pending]") {
  Ledger l;
  l.Submit(Cp(1, 10), SubmitCode::kAccepted);
  l.Submit(Cp(1, 5), SubmitCode::kCoalesced);  // kept 10
  l.Submit(Cp(1, 3, 2), SubmitCode::kCoalesced);  // a newer generation wins
  l.Submit(Cp(1, 50, 1), SubmitCode::kRejectedStale);
  l.Submit(Cp(2, 1), SubmitCode::kAccepted);
  l.Submit(Cp(3, 1), SubmitCode::kRejectedFull, 2);  // two keys used of two
  l.Submit(Cp(2, 2), SubmitCode::kCoalesced, 2);     // an existing key still coalesces
  const auto batch = l.pending.Take(nullptr, 10);
  REQUIRE(batch.size() == 2);
  CHECK(batch[0].position == 3);
  CHECK(batch[0].generation == 2);
  l.pending.Written(batch, {});
  const auto unchanged = l.Submit(Cp(2, 2), SubmitCode::kUnchanged);
  CHECK(unchanged->state() == Durability::kDurable);  // resolved at once
  l.Submit(Cp(2, 3), SubmitCode::kAccepted);
  l.Submit(Cp(2, 2), SubmitCode::kCoalesced);  // pending again: not "unchanged"
}

TEST_CASE("pending checkpoints: a flush takes the longest-waiting keys of its set first", "[persistence][pending][flush]") {
  Ledger l;
  for (const int p : {3, 1, 2, 4}) {
    l.Submit(Cp(p, 10), SubmitCode::kAccepted);
    l.clock.Advance(1s);
  }
  CHECK(l.pending.HasWork(nullptr));
  const std::set<CheckpointKey> only{Key(2), Key(4), Key(9)};
  const std::set<CheckpointKey> none{Key(9)};
  CHECK_FALSE(l.pending.HasWork(&none));
  auto batch = l.pending.Take(&only, 1);
  REQUIRE(batch.size() == 1);
  CHECK(batch[0].key == Key(2));  // the older of the two asked for
  CHECK(l.pending.AnyInFlight(only));
  batch = l.pending.Take(nullptr, 2);
  REQUIRE(batch.size() == 2);
  CHECK(batch[0].key == Key(3));  // submitted first
  CHECK(batch[1].key == Key(1));
  CHECK(l.pending.pending_count() == 1);
  CHECK(l.pending.used() == 4);  // pending plus in flight
}

TEST_CASE("pending checkpoints: a failed batch merges back, newer entries win, the older age stays",
          "[persistence][pending]") {
  Ledger l;
  l.Submit(Cp(1, 10), SubmitCode::kAccepted);
  l.Submit(Cp(2, 10), SubmitCode::kAccepted);
  const auto start = l.clock.Now();
  const auto batch = l.pending.Take(nullptr, 10);
  l.clock.Advance(1s);
  l.Submit(Cp(1, 30), SubmitCode::kAccepted);  // in flight, not pending: a new entry
  l.pending.Failed(batch, start);
  CHECK(l.pending.used() == 2);
  CHECK(l.pending.PendingTargets() == PendingCheckpoints::Targets{{Key(1), 30}, {Key(2), 10}});
  CHECK(l.pending.OldestSince(l.clock.Now()) == start);
}

TEST_CASE("pending checkpoints: tickets resolve when durable, fenced once idle, or abandoned",
          "[persistence][pending][fencing]") {
  Ledger l;
  const auto t10 = l.Submit(Cp(1, 10), SubmitCode::kAccepted);
  const auto t20 = l.Submit(Cp(1, 20), SubmitCode::kCoalesced);
  const auto f = l.Submit(Cp(2, 10), SubmitCode::kAccepted);
  const auto batch = l.pending.Take(nullptr, 10);
  l.Submit(Cp(2, 11), SubmitCode::kAccepted);  // pending behind the fenced write, same generation
  const auto fenced = l.pending.Written(batch, {Key(2)});
  REQUIRE(fenced.size() == 1);
  CHECK(t10->state() == Durability::kDurable);  // 20 durable covers 10
  CHECK(t20->state() == Durability::kDurable);
  CHECK(f->state() == Durability::kFenced);     // its pending successor was fenced too
  CHECK(l.pending.used() == 0);
  l.Submit(Cp(2, 12), SubmitCode::kRejectedStale);
  const auto newer = l.Submit(Cp(2, 12, 2), SubmitCode::kAccepted);  // a newer generation may
  l.pending.AbandonTickets();
  CHECK(newer->state() == Durability::kAbandoned);
  CHECK(l.pending.Unflushed().size() == 1);
}

TEST_CASE("pending checkpoints: a committed unit makes its checkpoints durable", "[persistence][pending][units]") {
  Ledger l;
  const auto t = l.Submit(Cp(1, 10), SubmitCode::kAccepted);
  l.pending.UnitCommitted({Cp(1, 12)});
  CHECK(t->state() == Durability::kDurable);
  l.Submit(Cp(1, 12), SubmitCode::kCoalesced);  // still pending: the async entry is written anyway
}

TEST_CASE("pending checkpoints: barrier targets and when they are satisfied", "[persistence][pending][barrier]") {
  Ledger l;
  l.Submit(Cp(1, 10), SubmitCode::kAccepted);
  const auto batch = l.pending.Take(nullptr, 10);  // 1@10 in flight
  l.Submit(Cp(1, 15), SubmitCode::kAccepted);
  l.Submit(Cp(2, 7), SubmitCode::kAccepted);
  CHECK(l.pending.AllTargets() == PendingCheckpoints::Targets{{Key(1), 15}, {Key(2), 7}});
  CHECK(l.pending.TargetsOf({Key(1), Key(3)}) == PendingCheckpoints::Targets{{Key(1), 15}});
  CHECK(l.pending.PendingTargets() == PendingCheckpoints::Targets{{Key(1), 15}, {Key(2), 7}});
  CHECK_FALSE(l.pending.Satisfied({{Key(1), 10}}));
  l.pending.Written(batch, {});
  CHECK(l.pending.Satisfied({{Key(1), 10}}));
  CHECK_FALSE(l.pending.Satisfied({{Key(1), 15}}));
  CHECK(l.pending.Satisfied({}));
}

TEST_CASE("pending checkpoints: pressure is the widest lag, measured from what is durable or being written",
          "[persistence][pending][backpressure]") {
  Ledger l;
  l.Submit(Cp(1, 100), SubmitCode::kAccepted);
  l.pending.Written(l.pending.Take(nullptr, 10), {});  // 1 durable at 100
  l.Submit(Cp(1, 400), SubmitCode::kAccepted);
  const auto batch = l.pending.Take(nullptr, 10);  // 1@400 in flight
  l.Submit(Cp(1, 450), SubmitCode::kAccepted);
  l.clock.Advance(2s);
  l.Submit(Cp(2, 300), SubmitCode::kAccepted);
  auto r = l.pending.Pressure(l.clock.Now());
  CHECK(r.lag_events == 350);        // 450 pending, 100 durable
  CHECK(r.unflushed_events == 300);  // key 2: nothing of it written yet
  CHECK(r.oldest_age == 2s);
  CHECK(r.used == 3);
  r = l.pending.PressureOf(Key(1));
  CHECK(r.lag_events == 350);
  CHECK(r.unflushed_events == 50);  // the flush in flight covers 400
  CHECK(r.oldest_age == 0ms);       // not measured per key
  CHECK(r.used == 3);
  CHECK(l.pending.PressureOf(Key(9)).lag_events == 0);
  l.pending.Written(batch, {});
}

TEST_CASE("pending checkpoints: an empty round's checkpoint that a committed unit is past is not left unflushed",
          "[persistence][pending][units]") {
  Ledger l;
  l.Submit(Cp(1, 10), SubmitCode::kAccepted);  // the runner's empty round, still pending
  l.pending.UnitCommitted({Cp(1, 12)});         // its next batch committed past it
  CHECK(l.pending.Satisfied(l.pending.PendingTargets()));
  CHECK(l.pending.Unflushed().empty());         // a stop now loses nothing: it has drained
  l.Submit(Cp(2, 7), SubmitCode::kAccepted);
  l.Submit(Cp(1, 13), SubmitCode::kCoalesced);  // past the unit: unflushed again
  CHECK(l.pending.Unflushed().size() == 2);
}
