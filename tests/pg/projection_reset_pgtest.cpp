// PgCoordinationStore's projection reset against a real server: checkpoints moved back
// (replay) and forward (skip) as a generation change, the replay marks, the refusals, the
// fencing of the old generation's writers, dead letters and pauses, and the position a
// --to-time timestamp chooses from events.created_at.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::Checkpoint;
using projd::ResetRefusal;
using projd::SkipPolicy;
using projd::pg::PgCheckpointStore;
using projd::pg::PgCoordinationStore;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {

Checkpoint Cp(const std::string& lane, int partition, std::int64_t position, std::int64_t generation) {
  return {{"rs", lane, partition}, position, generation, "w"};
}

// `n` events over 10 aggregates, positions 1..n; a replica set "rs" of 2 partitions at
// generation 3; lane "proj" at p0 and p1 and lane "other" at 90 on both, all stamped with 3.
struct Fixture {
  explicit Fixture(std::int64_t p0, std::int64_t p1, int n = 100) : checkpoints(db.options()), store(db.options()) {
    db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
            " SELECT 'bc', 't', 'a' || (i % 10), i / 10 + 1, 'x' FROM generate_series(0, " +
            std::to_string(n - 1) + ") AS i");
    store.EnsureReplicaSet("rs", 2);
    db.Exec("UPDATE projd_replica_sets SET generation = 3 WHERE name = 'rs'");
    const Checkpoint rows[] = {Cp("proj", 0, p0, 3), Cp("proj", 1, p1, 3), Cp("other", 0, 90, 3), Cp("other", 1, 90, 3)};
    REQUIRE(checkpoints.WriteBatch(rows, 5s).fenced.empty());
  }
  std::int64_t Position(const std::string& lane, int partition) {
    return db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE projection = '" + lane +
                                   "' AND partition = " + std::to_string(partition));
  }
  std::int64_t ReplayUntil(int partition) {
    return db.Scalar<std::int64_t>("SELECT replay_until FROM projd_checkpoints WHERE projection = 'proj'"
                                   " AND partition = " + std::to_string(partition));
  }
  // Events of partition `partition` (of 2) in (lo, hi], counted independently of the store.
  std::int64_t EventsBetween(int partition, std::int64_t lo, std::int64_t hi) {
    return db.Scalar<std::int64_t>("SELECT count(*) FROM events WHERE partition_hash % 2 = " +
                                   std::to_string(partition) + " AND global_position > " + std::to_string(lo) +
                                   " AND global_position <= " + std::to_string(hi));
  }

  PgTestSchema db;
  PgCheckpointStore checkpoints;
  PgCoordinationStore store;
};

}  // namespace

TEST_CASE("a reset back moves every checkpoint of the lane to P as a new generation and marks the replay",
          "[pg][reset]") {
  Fixture f(80, 60);
  f.db.Exec("INSERT INTO projd_projection_pauses (replica_set, projection, partition) VALUES ('rs', 'proj', -1)");
  const auto plan = f.store.PlanReset("rs", "proj", 50);
  CHECK(plan.refusal == ResetRefusal::kNone);
  CHECK(plan.latest == 100);
  REQUIRE(plan.moves.size() == 2);
  CHECK(plan.moves[0].events == f.EventsBetween(0, 50, 80));
  CHECK(plan.moves[1].events == f.EventsBetween(1, 50, 60));
  CHECK(plan.moves[0].events + f.EventsBetween(1, 50, 80) == 30);  // all of (50, 80] lies in one or the other
  CHECK(plan.moves[1].events > 0);

  const auto r = f.store.ResetProjection("rs", "proj", 50, SkipPolicy::kRefuse);
  REQUIRE(r.refusal == ResetRefusal::kNone);
  CHECK(r.generation == 4);
  REQUIRE(r.moves.size() == 2);
  CHECK(r.moves[0].from == 80);
  CHECK(r.moves[1].from == 60);
  CHECK(projd::DirectionOf(r.moves[0]) == projd::ResetDirection::kBack);
  CHECK(f.Position("proj", 0) == 50);
  CHECK(f.Position("proj", 1) == 50);
  CHECK(f.ReplayUntil(0) == 80);
  CHECK(f.ReplayUntil(1) == 60);
  CHECK(f.db.Scalar<std::int64_t>("SELECT min(generation) FROM projd_checkpoints WHERE projection = 'proj'") == 4);
  CHECK(f.db.Scalar<std::string>("SELECT generation || '/' || rebuild_generation FROM projd_replica_sets") == "4/4");
  // Another lane is not touched; the pause stays.
  CHECK(f.Position("other", 0) == 90);
  CHECK(f.db.Scalar<std::int64_t>("SELECT max(generation) FROM projd_checkpoints WHERE projection = 'other'") == 3);
  CHECK(f.db.Scalar<int>("SELECT count(*) FROM projd_projection_pauses") == 1);

  SECTION("a second reset back before the replay finished keeps the furthest mark") {
    const Checkpoint partway[] = {Cp("proj", 0, 55, 4)};
    REQUIRE(f.checkpoints.WriteBatch(partway, 5s).fenced.empty());
    REQUIRE(f.store.ResetProjection("rs", "proj", 20, SkipPolicy::kRefuse).generation == 5);
    CHECK(f.ReplayUntil(0) == 80);
    CHECK(f.ReplayUntil(1) == 60);
    CHECK(f.Position("proj", 0) == 20);
  }
}

TEST_CASE("a reset forward is refused without SkipPolicy::kAllow and changes nothing, with it skips",
          "[pg][reset]") {
  Fixture f(10, 20);
  const auto plan = f.store.PlanReset("rs", "proj", 50);
  CHECK(plan.refusal == ResetRefusal::kSkipNotConfirmed);
  CHECK(projd::EventsMoving(plan.moves, projd::ResetDirection::kForward) ==
        f.EventsBetween(0, 10, 50) + f.EventsBetween(1, 20, 50));
  CHECK(plan.moves[0].events == f.EventsBetween(0, 10, 50));

  const auto refused = f.store.ResetProjection("rs", "proj", 50, SkipPolicy::kRefuse);
  CHECK(refused.refusal == ResetRefusal::kSkipNotConfirmed);
  CHECK(refused.moves.empty());
  CHECK(f.Position("proj", 0) == 10);
  CHECK(f.Position("proj", 1) == 20);
  CHECK(f.db.Scalar<std::string>("SELECT generation || '/' || rebuild_generation FROM projd_replica_sets") == "3/0");

  const auto r = f.store.ResetProjection("rs", "proj", 50, SkipPolicy::kAllow);
  REQUIRE(r.refusal == ResetRefusal::kNone);
  CHECK(r.generation == 4);
  CHECK(f.Position("proj", 0) == 50);
  CHECK(f.Position("proj", 1) == 50);
  CHECK(f.ReplayUntil(0) == 0);  // skipped events are not a replay of anything
  CHECK(f.ReplayUntil(1) == 0);
}

TEST_CASE("a reset moves partitions in different directions: each by its own position", "[pg][reset]") {
  Fixture f(30, 70);
  const auto plan = f.store.PlanReset("rs", "proj", 50);
  REQUIRE(plan.moves.size() == 2);
  CHECK(projd::DirectionOf(plan.moves[0]) == projd::ResetDirection::kForward);
  CHECK(projd::DirectionOf(plan.moves[1]) == projd::ResetDirection::kBack);
  CHECK(plan.moves[0].events == f.EventsBetween(0, 30, 50));
  CHECK(plan.moves[1].events == f.EventsBetween(1, 50, 70));
  CHECK(plan.refusal == ResetRefusal::kSkipNotConfirmed);  // one partition would skip
  CHECK(f.store.ResetProjection("rs", "proj", 50, SkipPolicy::kRefuse).refusal == ResetRefusal::kSkipNotConfirmed);

  const auto r = f.store.ResetProjection("rs", "proj", 50, SkipPolicy::kAllow);
  REQUIRE(r.refusal == ResetRefusal::kNone);
  CHECK(f.Position("proj", 0) == 50);
  CHECK(f.Position("proj", 1) == 50);
  CHECK(f.ReplayUntil(0) == 0);
  CHECK(f.ReplayUntil(1) == 70);
}

TEST_CASE("a reset refuses a negative position, one above the latest event, and a lane without checkpoints",
          "[pg][reset]") {
  Fixture f(30, 70);
  CHECK(f.store.ResetProjection("rs", "proj", -1, SkipPolicy::kAllow).refusal == ResetRefusal::kNegativeTarget);
  const auto beyond = f.store.ResetProjection("rs", "proj", 101, SkipPolicy::kAllow);
  CHECK(beyond.refusal == ResetRefusal::kBeyondLatest);
  CHECK(beyond.latest == 100);
  CHECK(f.store.ResetProjection("rs", "nothing", 10, SkipPolicy::kAllow).refusal == ResetRefusal::kNoCheckpoints);
  CHECK(f.store.ResetProjection("no-such-set", "proj", 10, SkipPolicy::kAllow).refusal ==
        ResetRefusal::kNoCheckpoints);
  CHECK(f.db.Scalar<std::int64_t>("SELECT generation FROM projd_replica_sets") == 3);
  CHECK(f.Position("proj", 1) == 70);
  // The latest event itself is a valid target (skip to the end).
  CHECK(f.store.ResetProjection("rs", "proj", 100, SkipPolicy::kAllow).refusal == ResetRefusal::kNone);
}

TEST_CASE("after a reset the old generation's checkpoint writes and transactional units are fenced",
          "[pg][reset][fencing]") {
  Fixture f(80, 60);
  f.db.Exec("CREATE TABLE model (n int)");
  REQUIRE(f.store.ResetProjection("rs", "proj", 50, SkipPolicy::kRefuse).generation == 4);
  const Checkpoint late[] = {Cp("proj", 0, 90, 3)};
  CHECK(f.checkpoints.WriteBatch(late, 5s).fenced.size() == 1);
  projd::TransactionalUnit unit{{Cp("proj", 1, 95, 3)}, {60}, [](projd::TransactionHandle& h) {
                                  projd::pg::Work(h).exec0("INSERT INTO model VALUES (1)");
                                }};
  CHECK(f.checkpoints.CommitUnit(unit, 5s) == projd::UnitOutcome::kFenced);
  CHECK(f.db.Scalar<int>("SELECT count(*) FROM model") == 0);
  CHECK(f.Position("proj", 0) == 50);
  CHECK(f.Position("proj", 1) == 50);
  // The new generation writes from the reset position on.
  const Checkpoint next[] = {Cp("proj", 0, 60, 4)};
  CHECK(f.checkpoints.WriteBatch(next, 5s).fenced.empty());
  CHECK(f.Position("proj", 0) == 60);
}

TEST_CASE("a reset waits for a unit in flight and moves from where that unit committed", "[pg][reset][fencing]") {
  Fixture f(80, 60);
  auto conn = f.db.Connect();
  pqxx::work unit(*conn);  // an old-generation unit holding partition 0's row
  unit.exec("UPDATE projd_checkpoints SET position = 85 WHERE projection = 'proj' AND partition = 0");
  auto reset = std::async(std::launch::async, [&] {
    PgCoordinationStore other(f.db.options());
    return other.ResetProjection("rs", "proj", 50, SkipPolicy::kRefuse);
  });
  // The reset waits on the row lock (rather than reading the position the unit had started from).
  REQUIRE(WaitFor([&] {
    return f.db.Scalar<int>("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND query LIKE 'SELECT partition, position FROM projd_checkpoints%FOR UPDATE'") > 0;
  }, 10s));
  unit.commit();
  const auto r = reset.get();
  REQUIRE(r.moves.size() == 2);
  CHECK(r.moves[0].from == 85);
  CHECK(f.ReplayUntil(0) == 85);
}

TEST_CASE("a reset back deletes the lane's dead letters above P, a skip keeps them", "[pg][reset][dead-letters]") {
  Fixture f(80, 60);
  f.db.Exec("INSERT INTO projd_dead_letters (replica_set, projection, global_position, aggregate_id, parked, replayed_at)"
            " VALUES ('rs', 'proj', 40, 'a0', false, NULL), ('rs', 'proj', 58, 'a8', false, NULL),"
            " ('rs', 'proj', 70, 'a0', true, NULL), ('rs', 'proj', 72, 'a2', false, now()),"
            " ('rs', 'other', 70, 'a0', false, NULL)");
  SECTION("back to 50") {
    const auto r = f.store.ResetProjection("rs", "proj", 50, SkipPolicy::kRefuse);
    CHECK(r.dead_letters_removed == 3);
    CHECK(f.db.Scalar<std::string>("SELECT string_agg(projection || ':' || global_position, ',' ORDER BY projection,"
                                   " global_position) FROM projd_dead_letters") == "other:70,proj:40");
  }
  SECTION("forward to 90") {
    const auto r = f.store.ResetProjection("rs", "proj", 90, SkipPolicy::kAllow);
    CHECK(r.dead_letters_removed == 0);
    CHECK(f.db.Scalar<int>("SELECT count(*) FROM projd_dead_letters") == 5);
  }
}

TEST_CASE("the position before a time: below every event created at or after it, in whatever order they committed",
          "[pg][reset][time]") {
  PgTestSchema db;
  // Position 3 committed after 2 with an earlier created_at (its transaction started first).
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type, created_at)"
          " VALUES ('bc', 't', 'a', 1, 'x', '2026-12-01T10:00:00Z'), ('bc', 't', 'a', 2, 'x', '2026-12-01T10:05:00Z'),"
          " ('bc', 't', 'b', 1, 'x', '2026-12-01T09:59:00Z'), ('bc', 't', 'a', 3, 'x', '2026-12-01T10:10:00Z'),"
          " ('bc', 't', 'c', 1, 'x', '2026-12-01T10:02:00Z')");
  PgCoordinationStore store(db.options());
  CHECK(store.PositionBefore("2026-12-01T10:01:00Z") == 1);
  CHECK(store.PositionBefore("2026-12-01T10:00:00Z") == 0);    // created at T counts as at or after
  CHECK(store.PositionBefore("2026-12-01T11:02:00+01:00") == 1);  // zones are honoured
  CHECK(store.PositionBefore("2026-12-01T10:06:00Z") == 3);
  CHECK(store.PositionBefore("2026-12-01T10:11:00Z") == 5);  // nothing that late: the latest position
  CHECK(store.PositionBefore("2026-11-01T00:00:00Z") == 0);
}
