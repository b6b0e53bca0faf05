// `projd projections reset` against real `projd run` workers under concurrent writers, with
// exactly-once checks: the test worker's apply_count projection counts every application of
// every event (transactional), apply_log records each handling with its replaying flag
// (async), tests/cluster/apply_count_projections.cc; poison_skip (poison_projections.cc) for
// dead letters across a replay. The per-partition positions the reset
// moved from are read from the command's output.
#include <catch2/catch.hpp>

#include <csignal>
#include <regex>

#include "tests/support/appender.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::Appender;
using projd::testing::ProcessResult;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

constexpr std::int64_t kGateKey = 727274;  // apply_count's advisory lock

// partition -> the position the reset moved it from, per the command's "partition K: A -> B" lines.
std::map<int, std::int64_t> MovedFrom(const std::string& out) {
  std::map<int, std::int64_t> from;
  static const std::regex kLine(R"(partition (\d+): (\d+) -> (\d+))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), kLine); it != std::sregex_iterator(); ++it) {
    from[std::stoi((*it)[1])] = std::stoll((*it)[2]);
  }
  return from;
}

// The moves as a VALUES list (partition, from) for SQL.
std::string MovesSql(const std::map<int, std::int64_t>& from) {
  std::string values;
  for (const auto& [p, f] : from) values += (values.empty() ? "" : ",") + ("(" + std::to_string(p) + "," + std::to_string(f) + ")");
  return "(VALUES " + values + ") AS m(partition, from_pos)";
}

// Events whose apply count is not what a reset of every partition from m.from_pos to `target`
// promises: once up to the lower of the two and above the higher, twice in between when the
// partition moved back (replayed), never when it moved forward (skipped).
std::int64_t CountMismatches(WorkerFleet& fleet, const std::map<int, std::int64_t>& from, std::int64_t target) {
  const auto p = std::to_string(target);
  return fleet.db().Scalar<std::int64_t>(
      "SELECT count(*) FROM events e JOIN " + MovesSql(from) + " ON m.partition = e.partition_hash % 16"
      " LEFT JOIN apply_counts a ON a.global_position = e.global_position"
      " WHERE coalesce(a.applied, 0) <> CASE"
      "  WHEN e.global_position <= least(m.from_pos, " + p + ") OR e.global_position > greatest(m.from_pos, " + p +
      ") THEN 1 WHEN m.from_pos > " + p + " THEN 2 ELSE 0 END");
}

// Events of the moved partitions between their old position and `target` (moved back: above target).
std::int64_t EventsBetween(WorkerFleet& fleet, const std::map<int, std::int64_t>& from, std::int64_t target,
                           bool back) {
  const auto p = std::to_string(target);
  return fleet.db().Scalar<std::int64_t>(
      "SELECT count(*) FROM events e JOIN " + MovesSql(from) + " ON m.partition = e.partition_hash % 16 WHERE " +
      (back ? "e.global_position > " + p + " AND e.global_position <= m.from_pos"
            : "e.global_position > m.from_pos AND e.global_position <= " + p));
}

std::int64_t Latest(WorkerFleet& fleet) {
  return fleet.db().Scalar<std::int64_t>("SELECT max(global_position) FROM events");
}

std::string Generations(WorkerFleet& fleet) {
  return fleet.db().Scalar<std::string>(
      "SELECT generation || '/' || rebuild_generation FROM projd_replica_sets WHERE name = 'fleet'");
}

// Seeds `events`, starts w1 and w2 (stream_stats among their projections: WorkerFleet::Settled
// reads its checkpoints) and waits until `lanes` caught up.
WorkerFleet& StartFleet(WorkerFleet& fleet, const std::vector<std::string>& lanes, int events) {
  fleet.UseBinary(PROJD_TEST_WORKER);
  fleet.Seed(events, 50, "r");
  for (const auto* n : {"w1", "w2"}) fleet.Start(n);
  const auto logs = [&] { return fleet.Worker("w1").Log() + fleet.Worker("w2").Log(); };
  if (!WaitFor([&] { return fleet.Settled(2); }, 30s)) FAIL("not settled: " << logs());
  for (const auto& lane : lanes) {
    if (!WaitFor([&] { return fleet.CaughtUp(lane); }, 60s)) FAIL(lane << " not caught up: " << logs());
  }
  return fleet;
}

ProcessResult Reset(WorkerFleet& fleet, const std::string& lane, std::vector<std::string> extra) {
  std::vector<std::string> args{"projections", "reset", lane, "--replica-set", "fleet"};
  args.insert(args.end(), extra.begin(), extra.end());
  return fleet.Projd(args);
}

}  // namespace

TEST_CASE("a reset back under writers: events above P applied exactly twice, all others once, replaying only there",
          "[cluster][reset]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "stream_stats,apply_count,apply_log"}});
  StartFleet(fleet, {"apply_count", "apply_log"}, 1500);
  Appender writer(fleet.db().options(), 40, 0);
  REQUIRE(WaitFor([&] { return writer.appended() > 50; }, 10s));
  const auto target = Latest(fleet) / 2;
  const auto generation = fleet.Generation();

  const auto counted = Reset(fleet, "apply_count", {"--to-position", std::to_string(target)});
  INFO(counted.out << counted.err);
  REQUIRE(counted.exit_code == 0);
  const auto logged = Reset(fleet, "apply_log", {"--to-position", std::to_string(target)});
  INFO(logged.out << logged.err);
  REQUIRE(logged.exit_code == 0);
  const auto count_from = MovedFrom(counted.out);
  const auto log_from = MovedFrom(logged.out);
  REQUIRE(count_from.size() == 16);
  REQUIRE(log_from.size() == 16);
  for (const auto& [p, f] : count_from) CHECK(f > target);  // every partition had passed half way
  CHECK(fleet.Generation() == generation + 2);
  CHECK(Generations(fleet) == std::to_string(generation + 2) + "/" + std::to_string(generation + 2));
  // The replay mark of each row is where the reset found it.
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM projd_checkpoints c JOIN " + MovesSql(count_from) +
                                        " USING (partition) WHERE c.projection = 'apply_count'"
                                        " AND c.replay_until = m.from_pos") == 16);

  const int after_reset = writer.appended();
  REQUIRE(WaitFor([&] { return writer.appended() > after_reset + 100; }, 20s));
  writer.Stop();
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("apply_count") && fleet.CaughtUp("apply_log"); }, 90s));

  // Transactional: exactly once, plus exactly once more for the replayed range.
  const auto replayed = EventsBetween(fleet, count_from, target, true);
  CHECK(replayed > 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM apply_counts WHERE applied = 2") == replayed);
  CHECK(CountMismatches(fleet, count_from, target) == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM apply_counts") ==
        fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events"));

  // Async: at least once, and replaying = true exactly for (P, where the partition was].
  const auto in_range = "l.global_position > " + std::to_string(target) + " AND l.global_position <= m.from_pos";
  const auto log_join = " FROM apply_log l JOIN events e USING (global_position) JOIN " + MovesSql(log_from) +
                        " ON m.partition = e.partition_hash % 16";
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*)" + log_join + " WHERE l.replaying AND NOT (" + in_range +
                                        ")") == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(DISTINCT l.global_position)" + log_join + " WHERE l.replaying") ==
        EventsBetween(fleet, log_from, target, true));
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events e WHERE NOT EXISTS"
                                        " (SELECT 1 FROM apply_log l WHERE l.global_position = e.global_position)") == 0);
}

TEST_CASE("a reset forward is refused without --skip, with it skips exactly the events between the checkpoints and P",
          "[cluster][reset]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "stream_stats,apply_count"}});
  StartFleet(fleet, {"apply_count"}, 1000);
  Appender writer(fleet.db().options(), 40, 0);
  // Hold every apply_count batch in flight (the projection waits on the gate) while writers
  // go on: the checkpoints stay behind the events.
  auto gate = fleet.db().Connect();
  pqxx::nontransaction(*gate).exec_params("SELECT pg_advisory_lock($1)", kGateKey);
  const int gated_at = writer.appended();
  REQUIRE(WaitFor([&] { return writer.appended() > gated_at + 200; }, 20s));
  const auto target = Latest(fleet);
  const auto generations = Generations(fleet);

  const auto refused = Reset(fleet, "apply_count", {"--to-position", std::to_string(target)});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("--skip"));
  CHECK_THAT(refused.out, Catch::Contains("forward (skip)"));
  CHECK_THAT(refused.out, Catch::Contains("skipped"));
  const auto dry = Reset(fleet, "apply_count", {"--to-position", std::to_string(target), "--skip", "--dry-run"});
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.out, Catch::Contains("forward (skip)"));
  CHECK(Generations(fleet) == generations);  // neither changed anything
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_checkpoints WHERE writer = 'reset'") == 0);

  // With the gate still held: a batch in flight holds its checkpoint rows until it is cut at
  // PERSISTENCE_TIMEOUT and retried; the reset takes the rows in between and moves each
  // from where it was.
  const auto skipped = Reset(fleet, "apply_count", {"--to-position", std::to_string(target), "--skip"});
  pqxx::nontransaction(*gate).exec_params("SELECT pg_advisory_unlock($1)", kGateKey);
  INFO(skipped.out << skipped.err);
  REQUIRE(skipped.exit_code == 0);
  const auto from = MovedFrom(skipped.out);
  REQUIRE(from.size() == 16);
  CHECK(EventsBetween(fleet, from, target, false) > 0);

  const int after_reset = writer.appended();
  REQUIRE(WaitFor([&] { return writer.appended() > after_reset + 100; }, 20s));
  writer.Stop();
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("apply_count"); }, 60s));
  CHECK(CountMismatches(fleet, from, target) == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM apply_counts WHERE applied > 1") ==
        EventsBetween(fleet, from, target, true));  // partitions that had passed P replayed the rest
}

TEST_CASE("a reset --to-time replays every event created at or after T, whatever order they committed in",
          "[cluster][reset][time]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "apply_count"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  fleet.Seed(300, 20, "t");
  // One event a minute from 10:00; position 250 carries 10:00 (its transaction began first).
  fleet.db().Exec("UPDATE events SET created_at = '2026-12-01T10:00:00Z'::timestamptz"
                  " + (global_position - 1) * interval '1 minute'");
  fleet.db().Exec("UPDATE events SET created_at = '2026-12-01T10:00:00Z' WHERE global_position = 250");
  fleet.Start("w1");
  if (!WaitFor([&] { return fleet.CaughtUp("apply_count"); }, 60s)) FAIL(fleet.Worker("w1").Log());

  SECTION("bad input: exit 2 naming the flag, nothing changed") {
    const auto generations = Generations(fleet);
    const auto local = Reset(fleet, "apply_count", {"--to-time", "2026-12-01 12:00"});
    CHECK(local.exit_code == 2);
    CHECK_THAT(local.err, Catch::Contains("--to-time"));
    const auto both = Reset(fleet, "apply_count", {"--to-time", "2026-12-01T12:00:00Z", "--to-position", "5"});
    CHECK(both.exit_code == 2);
    CHECK_THAT(both.err, Catch::Contains("--to-position") && Catch::Contains("--to-time"));
    const auto neither = Reset(fleet, "apply_count", {});
    CHECK(neither.exit_code == 2);
    const auto negative = Reset(fleet, "apply_count", {"--to-position=-1"});
    CHECK(negative.exit_code == 2);
    CHECK_THAT(negative.err, Catch::Contains("--to-position"));
    const auto beyond = Reset(fleet, "apply_count", {"--to-position", "301", "--skip"});
    CHECK(beyond.exit_code == 2);
    CHECK_THAT(beyond.err, Catch::Contains("nothing to skip to"));
    const auto unknown = Reset(fleet, "no_such_projection", {"--to-position", "5"});
    CHECK(unknown.exit_code == 2);
    CHECK(Generations(fleet) == generations);
  }
  SECTION("12:00 is position 121's time: P = 120, and 250 (10:00) lies above it anyway") {
    const auto r = Reset(fleet, "apply_count", {"--to-time", "2026-12-01T12:00:00Z"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("to position 120"));
    REQUIRE(WaitFor([&] { return fleet.CaughtUp("apply_count") && fleet.db().Scalar<int>(
        "SELECT count(*) FROM apply_counts WHERE applied = 2") == 180; }, 60s));
    CHECK(fleet.db().Scalar<std::int64_t>("SELECT min(global_position) FROM apply_counts WHERE applied = 2") == 121);
    CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM apply_counts WHERE applied = 1 AND global_position <= 120") ==
          120);
  }
  SECTION("a time after every event moves nothing back") {
    const auto r = Reset(fleet, "apply_count", {"--to-time", "2026-12-02T00:00:00+02:00", "--dry-run"});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("to position 300"));
    CHECK_THAT(r.out, Catch::Contains("0 events would be replayed, 0 skipped"));
  }
}

TEST_CASE("a reset back judges dead-lettered events again: applied once fixed, dead-lettered again if not",
          "[cluster][reset][dead-letters]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "poison_skip"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  fleet.Seed(300, 20, "a");
  const auto append = [&](const std::string& type) {
    const auto r = fleet.Projd({"append", "--aggregate-type", "Account", "--aggregate-id", "bad-2", "--event-type",
                                type, "--payload", "{}"});
    REQUIRE(r.exit_code == 0);
    return Latest(fleet);
  };
  const auto target = append("Opened") - 1;
  const auto poison = append("Poison");
  const auto parked = append("Deposited");
  fleet.Seed(100, 20, "b");
  const auto latest = Latest(fleet);
  fleet.Start("w1");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("poison_skip"); }, 60s));
  const auto letters = [&] {
    return fleet.db().Scalar<std::string>("SELECT coalesce(string_agg(global_position || ':' || parked, ','"
                                          " ORDER BY global_position), '') FROM projd_dead_letters");
  };
  const auto expected_letters = std::to_string(poison) + ":false," + std::to_string(parked) + ":true";
  REQUIRE(letters() == expected_letters);
  // The model is not idempotent (a primary key per position): the operator removes what the
  // replay will write again, as the runbook says for such handlers.
  fleet.db().Exec("DELETE FROM poison_skip_model WHERE position > " + std::to_string(target));

  SECTION("fixed: the replay applies the poison and the parked event, no dead letters remain") {
    fleet.db().Exec("INSERT INTO poison_fixed VALUES (true)");
    const auto r = Reset(fleet, "poison_skip", {"--to-position", std::to_string(target)});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("dead letters removed: 2"));
    REQUIRE(WaitFor([&] { return fleet.CaughtUp("poison_skip"); }, 60s));
    CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM poison_skip_model") == latest);
    CHECK(letters().empty());
  }
  SECTION("still poison: dead-lettered and parked again, everything else applied once") {
    const auto r = Reset(fleet, "poison_skip", {"--to-position", std::to_string(target)});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(WaitFor([&] { return fleet.CaughtUp("poison_skip") && letters() == expected_letters; }, 60s));
    CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM poison_skip_model") == latest - 2);
    CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM poison_skip_model WHERE position IN (" +
                                 std::to_string(poison) + "," + std::to_string(parked) + ")") == 0);
  }
}

TEST_CASE("NAME resets the active version's lane, NAME@N version N's", "[cluster][reset][versions]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "ledger"}, {"VERSION_SWITCH", "manual"}});
  fleet.UseBinary(PROJD_LEDGER_V1V2_WORKER);
  const auto stable = fleet.db().schema();
  fleet.Seed(300, 20, "v");
  fleet.Start("w1");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("ledger") && fleet.CaughtUp("ledger@2"); }, 60s));
  const auto lane_of = [&](const std::string& name) {
    const auto r = Reset(fleet, name, {"--to-position", "100", "--dry-run"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    return r.out.substr(0, r.out.find(" of replica set"));
  };
  CHECK(lane_of("ledger") == "projection ledger");  // version 1 is active, 2 is ready
  CHECK(lane_of("ledger@2") == "projection ledger@2");
  const auto promote = fleet.Projd({"versions", "promote", "ledger", "2"});
  INFO(promote.out << promote.err);
  REQUIRE(promote.exit_code == 0);
  CHECK(lane_of("ledger") == "projection ledger@2");
  CHECK(lane_of("ledger@1") == "projection ledger");
  // A version this binary does not have is refused, even as a dry run.
  CHECK(Reset(fleet, "ledger@3", {"--to-position", "100", "--dry-run"}).exit_code == 2);
  fleet.Worker("w1").Signal(SIGTERM);
  REQUIRE(fleet.Worker("w1").Wait(10s).has_value());
  // The version schemas live beside the fleet's; PgTestSchema drops only its own.
  fleet.db().Exec("DROP SCHEMA IF EXISTS " + stable + "_ledger_v1 CASCADE; DROP SCHEMA IF EXISTS " + stable +
                  "_ledger_v2 CASCADE");
}
