// Multi-process coordination: real `projd run` workers (stream_stats, transactional, and
// noop, async) on a private schema, killed, paused and restarted the way pods are.
// Every scenario ends by checking the read model: each aggregate's event count and
// version sum in stream_stats equal the events table (nothing lost, nothing doubled).
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <thread>

#include "devtools/embedded_postgres.h"
#include "orchestrator/reading/pg/pg_event_store.h"
#include "tests/support/appender.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::Appender;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

// Waits until the fleet is settled with `members` and both projections caught up with
// every event, then checks exactly-once in the read model.
void RequireConsistent(WorkerFleet& fleet, int members) {
  INFO("owners: " << fleet.Owners().size() << ", generation " << fleet.Generation());
  REQUIRE(WaitFor([&] { return fleet.Settled(members); }, 20s));
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("stream_stats") && fleet.CaughtUp("noop"); }, 30s));
  CHECK(fleet.StreamStatsMismatches() == 0);
}

// Seeds `events` over `aggregates` aggregates, starts w1..w3 and waits until consistent.
void StartThree(WorkerFleet& fleet, int events, int aggregates) {
  fleet.Seed(events, aggregates, "a");
  for (const auto* n : {"w1", "w2", "w3"}) fleet.Start(n);
  RequireConsistent(fleet, 3);
}

std::vector<std::string> OwnerNames(WorkerFleet& fleet) {
  std::vector<std::string> out;
  for (const auto& r : fleet.db().Exec("SELECT coalesce(worker_name, '') FROM projd_assignments"
                                       " WHERE replica_set = 'fleet' ORDER BY partition")) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("three workers converge to a balanced assignment and a fourth moves only its share",
          "[cluster][coordination]") {
  WorkerFleet fleet;
  StartThree(fleet, 3000, 100);
  const auto before = OwnerNames(fleet);
  const auto generation = fleet.Generation();

  fleet.Start("w4");
  REQUIRE(WaitFor([&] { return fleet.Settled(4); }, 20s));
  const auto after = OwnerNames(fleet);
  int moved = 0;
  for (std::size_t p = 0; p < before.size(); ++p) moved += before[p] != after[p];
  CHECK(moved == 4);  // 16 partitions: the newcomer takes 4, nothing else moves
  for (const auto& [name, count] : fleet.Owners()) CHECK(count == 4);
  CHECK(fleet.Generation() <= generation + 2);  // a join is one generation (two at worst)

  fleet.Seed(1000, 50, "b");
  RequireConsistent(fleet, 4);
}

TEST_CASE("SIGTERM: the worker drains, leaves and exits 0, its partitions move at once",
          "[cluster][coordination]") {
  WorkerFleet fleet;
  StartThree(fleet, 2000, 80);
  Appender load(fleet.db().options());
  fleet.Worker("w2").Signal(SIGTERM);
  const auto code = fleet.Worker("w2").Wait(10s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  // Well before the stale timeout could have evicted it: the leave formed the generation.
  CHECK(WaitFor([&] { return fleet.Settled(2); }, 1500ms));
  CHECK_THAT(fleet.Worker("w2").Log(), Catch::Contains("left the replica set"));
  CHECK_THAT(fleet.Worker("w2").Log(), Catch::Contains("worker stopped step=stopped unfinished=none abandoned=none "
                                                       "drained=true unflushed=0 deregistered=true"));
  load.Stop();
  RequireConsistent(fleet, 2);
}

TEST_CASE("kill -9: the dead worker's partitions move after the stale timeout", "[cluster][coordination]") {
  WorkerFleet fleet;
  StartThree(fleet, 2000, 80);
  Appender load(fleet.db().options());
  fleet.Worker("w3").Signal(SIGKILL);
  REQUIRE(fleet.Worker("w3").Wait(5s).has_value());
  REQUIRE(WaitFor([&] { return fleet.Settled(2); }, 10s));
  const auto logs = fleet.Worker("w1").Log() + fleet.Worker("w2").Log();
  CHECK_THAT(logs, Catch::Contains("evicted a stale worker"));
  load.Stop();
  RequireConsistent(fleet, 2);
}

TEST_CASE("SIGSTOP past the stale timeout: after SIGCONT the zombie's write is fenced and it rejoins",
          "[cluster][coordination][fencing]") {
  // A longer persistence interval keeps async checkpoints pending in the zombie's core
  // when it is stopped, so its first act after SIGCONT is a write of an old generation.
  WorkerFleet fleet(std::map<std::string, std::string>{{"PERSISTENCE_INTERVAL", "250ms"}});
  StartThree(fleet, 2000, 80);
  Appender load(fleet.db().options());
  REQUIRE(WaitFor([&] { return load.appended() > 200; }, 10s));
  auto& zombie = fleet.Worker("w1");
  zombie.Signal(SIGSTOP);
  REQUIRE(WaitFor([&] { return fleet.Settled(2); }, 10s));  // evicted; partitions stamped elsewhere
  zombie.Signal(SIGCONT);
  CHECK(WaitFor([&] { return zombie.Log().find("checkpoint write fenced") != std::string::npos; }, 10s));
  CHECK(WaitFor([&] { return zombie.Log().find("rejoining") != std::string::npos; }, 10s));
  load.Stop();
  RequireConsistent(fleet, 3);
  CHECK(zombie.running());
}

TEST_CASE("a Postgres restart under running workers: none exits, all resume", "[cluster][coordination][outage]") {
  projd::EmbeddedPostgres::Options options;
  options.settings["max_connections"] = "200";
  projd::EmbeddedPostgres server(options);
  server.Start();
  WorkerFleet fleet({}, server.Url());
  StartThree(fleet, 2000, 80);

  server.Stop(projd::EmbeddedPostgres::StopMode::kFast);
  // The server stays down until every worker has noticed (a failed, retried heartbeat).
  REQUIRE(WaitFor(
      [&] {
        for (const auto* n : {"w1", "w2", "w3"}) {
          if (fleet.Worker(n).Log().find("coordination failed; retrying") == std::string::npos) return false;
        }
        return true;
      },
      20s));
  server.Start();
  fleet.Seed(1000, 50, "b");
  RequireConsistent(fleet, 3);
  for (const auto* n : {"w1", "w2", "w3"}) {
    CHECK(fleet.Worker(n).running());
  }
}

TEST_CASE("split 16 -> 32 under load keeps every checkpoint and loses nothing", "[cluster][coordination][split]") {
  WorkerFleet fleet;
  StartThree(fleet, 3000, 100);
  Appender load(fleet.db().options());
  const auto r = fleet.Projd({"partitions", "split", "--replica-set", "fleet"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("16 -> 32"));
  CHECK(fleet.Partitions() == 32);
  // What the reads of 32 partitions can use was built before the switch (reading.md).
  CHECK_THAT(r.out, Catch::Contains("index events_projd_partition_32 created"));
  CHECK(r.out.find("events_projd_partition_32 created") < r.out.find("16 -> 32"));
  CHECK(fleet.db().Scalar<bool>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_projd_partition_32'::regclass"));
  REQUIRE(WaitFor([&] { return load.appended() > 300; }, 10s));
  load.Stop();
  RequireConsistent(fleet, 3);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_checkpoints WHERE replica_set = 'fleet'"
                               " AND projection = 'stream_stats'") == 32);
}

TEST_CASE("projd status shows members, partitions and checkpoint lag", "[cluster][status]") {
  WorkerFleet fleet;
  fleet.Seed(500, 20, "a");
  fleet.Start("w1");
  fleet.Start("w2");
  RequireConsistent(fleet, 2);
  const auto text = fleet.Projd({"status", "--replica-set", "fleet"});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("16 partitions"));
  CHECK_THAT(text.out, Catch::Contains("w1"));
  CHECK_THAT(text.out, Catch::Contains("stream_stats"));
  const auto json = fleet.Projd({"status", "--replica-set", "fleet", "--json"});
  REQUIRE(json.exit_code == 0);
  CHECK_THAT(json.out, Catch::Contains("\"unassigned_partitions\": []"));
  CHECK_THAT(json.out, Catch::Contains("\"lag_events\": 0"));
}

TEST_CASE("projd rebuild resets a projection and the running workers replay it to the same result",
          "[cluster][rebuild]") {
  WorkerFleet fleet;
  fleet.Seed(3000, 100, "a");
  for (const auto* n : {"w1", "w2"}) fleet.Start(n);
  RequireConsistent(fleet, 2);
  const auto generation = fleet.Generation();
  const auto r = fleet.Projd({"rebuild", "stream_stats", "--replica-set", "fleet"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("16 checkpoints back to 0"));
  CHECK(fleet.Generation() == generation + 1);
  // Each checkpoint remembers how far it had been: re-reading up to there is a replay.
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_checkpoints WHERE projection = 'stream_stats'"
                               " AND replay_until > 0") == 16);
  // Replayed from 0 by the running workers: the same read model again, exactly once.
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("stream_stats"); }, 30s));
  CHECK(fleet.StreamStatsMismatches() == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT sum(event_count) FROM stream_stats") == 3000);
  const auto unknown = fleet.Projd({"rebuild", "no_such_projection", "--replica-set", "fleet"});
  CHECK(unknown.exit_code == 2);
}

TEST_CASE("chaos: writers on 1,000 aggregates while workers are killed, paused and joined, exactly once",
          "[cluster][chaos]") {
  WorkerFleet fleet;
  StartThree(fleet, 2000, 1000);
  {
    Appender writer1(fleet.db().options(), 1000, 0);
    Appender writer2(fleet.db().options(), 1000, 500);
    REQUIRE(WaitFor([&] { return writer1.appended() > 100; }, 10s));
    fleet.Worker("w1").Signal(SIGKILL);
    REQUIRE(WaitFor([&] { return fleet.Settled(2); }, 15s));
    fleet.Worker("w2").Signal(SIGSTOP);
    REQUIRE(WaitFor([&] { return fleet.Settled(1); }, 15s));
    fleet.Worker("w2").Signal(SIGCONT);
    fleet.Start("w4");
    REQUIRE(WaitFor([&] { return fleet.Settled(3); }, 20s));
    REQUIRE(WaitFor([&] { return writer2.appended() > 300; }, 10s));
  }
  RequireConsistent(fleet, 3);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT sum(event_count) FROM stream_stats") ==
        fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events"));
}
