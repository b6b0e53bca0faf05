#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/common/errors.h"
#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/persistence/pg/pg_transaction.h"
#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/pg/pg_version_store.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::ProjectionVersion;
using projd::SwitchOutcome;
using projd::SwitchRequest;
using projd::VersionState;
using projd::pg::PgVersionStore;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {

// Names the tests make are plain (projd_t_<digits>_p_v2): quoting them is enough.
std::string Id(const std::string& name) { return "\"" + name + "\""; }
std::string Lit(const std::string& text) { return "'" + text + "'"; }

void ReplicaSet(const PgTestSchema& db, int partitions, std::int64_t generation) {
  db.Exec("INSERT INTO projd_replica_sets (name, partitions, generation) VALUES ('rs', " + std::to_string(partitions) +
          ", " + std::to_string(generation) + ")");
}

void SetCheckpoint(const PgTestSchema& db, const std::string& lane, int partition, std::int64_t position,
                   std::int64_t generation = 5) {
  db.Exec("INSERT INTO projd_checkpoints (replica_set, projection, partition, position, generation, writer)"
          " VALUES ('rs', " + Lit(lane) + ", " + std::to_string(partition) + ", " + std::to_string(position) + ", " +
          std::to_string(generation) + ", 'w') ON CONFLICT (replica_set, projection, partition)"
          " DO UPDATE SET position = EXCLUDED.position, generation = EXCLUDED.generation");
}

std::int64_t Position(const PgTestSchema& db, const std::string& lane, int partition) {
  return db.Scalar<std::int64_t>("SELECT position FROM projd_checkpoints WHERE replica_set = 'rs' AND projection = " +
                                 Lit(lane) + " AND partition = " + std::to_string(partition));
}

// The kind of relation `schema.name` is ('r' table, 'v' view), "" when there is none.
std::string Relkind(const PgTestSchema& db, const std::string& schema, const std::string& name) {
  return db.Scalar<std::string>(
      "SELECT coalesce((SELECT c.relkind::text FROM pg_catalog.pg_class c"
      " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = " +
      Lit(schema) + " AND c.relname = " + Lit(name) + "), '')");
}

bool SchemaExists(const PgTestSchema& db, const std::string& schema) {
  return db.Scalar<bool>("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = " + Lit(schema) + ")");
}

// Drops the version schemas made beside `db`'s schema (<schema>_<projection>_v<N>) at the end
// of a test; PgTestSchema drops only its own. Declare it after the PgTestSchema.
class VersionSchemasDropped {
 public:
  explicit VersionSchemasDropped(const PgTestSchema& db) : db_(db) {}
  ~VersionSchemasDropped() {
    try {
      for (const auto& r : db_.Exec("SELECT nspname FROM pg_catalog.pg_namespace WHERE left(nspname, " +
                                    std::to_string(db_.schema().size() + 1) + ") = " + Lit(db_.schema() + "_"))) {
        db_.Exec("DROP SCHEMA IF EXISTS " + Id(r[0].as<std::string>()) + " CASCADE");
      }
    } catch (const std::exception&) {
      // The server is throwaway: a schema left behind harms no other test.
    }
  }
  VersionSchemasDropped(const VersionSchemasDropped&) = delete;
  VersionSchemasDropped& operator=(const VersionSchemasDropped&) = delete;

 private:
  const PgTestSchema& db_;
};

std::int64_t Generation(const PgTestSchema& db) {
  return db.Scalar<std::int64_t>("SELECT generation FROM projd_replica_sets WHERE name = 'rs'");
}
std::int64_t RebuildGeneration(const PgTestSchema& db) {
  return db.Scalar<std::int64_t>("SELECT rebuild_generation FROM projd_replica_sets WHERE name = 'rs'");
}

// The generations of a lane's checkpoint rows, by partition.
std::map<int, std::int64_t> LaneGenerations(const PgTestSchema& db, const std::string& lane) {
  std::map<int, std::int64_t> out;
  for (const auto& r : db.Exec("SELECT partition, generation FROM projd_checkpoints WHERE replica_set = 'rs'"
                               " AND projection = " + Lit(lane))) {
    out[r[0].as<int>()] = r[1].as<std::int64_t>();
  }
  return out;
}

std::map<int, ProjectionVersion> ByVersion(const std::vector<ProjectionVersion>& versions,
                                           const std::string& projection = "p") {
  std::map<int, ProjectionVersion> out;
  for (const auto& v : versions) {
    if (v.projection == projection) out[v.version] = v;
  }
  return out;
}

std::map<int, VersionState> States(PgVersionStore& store, const std::string& projection = "p") {
  std::map<int, VersionState> out;
  for (const auto& [n, v] : ByVersion(store.List("rs"), projection)) out[n] = v.state;
  return out;
}

SwitchRequest To(int version, std::chrono::milliseconds wait = 1000ms,
                 SwitchRequest::Require require = SwitchRequest::Require::kCaughtUp) {
  SwitchRequest r;
  r.projection = "p";
  r.to_version = version;
  r.require = require;
  r.catch_up_wait = wait;
  return r;
}

// A replica set of 2 partitions at generation 5 whose version 1 of `p` serves in place (its
// table p, one row 'v1', beside projd's tables; checkpoints at 100 and 200), and version 2
// registered beside it with its table in its own schema (row 'v2', one more column), as its
// Setup would make it.
struct InPlaceV1 {
  PgTestSchema db;
  VersionSchemasDropped cleanup{db};
  PgVersionStore store{db.options()};
  std::string stable = db.schema();
  std::string v1_schema = projd::VersionSchemaName(stable, "p", 1);
  std::string v2_schema = projd::VersionSchemaName(stable, "p", 2);

  InPlaceV1() {
    ReplicaSet(db, 2, 5);
    db.Exec("CREATE TABLE p (id int PRIMARY KEY, label text NOT NULL); INSERT INTO p VALUES (1, 'v1')");
    SetCheckpoint(db, "p", 0, 100);
    SetCheckpoint(db, "p", 1, 200);
    store.Register("rs", "p", {1, 2});
    db.Exec("CREATE TABLE " + Id(v2_schema) + ".p (id int PRIMARY KEY, label text NOT NULL, extra int DEFAULT 7);"
            " INSERT INTO " + Id(v2_schema) + ".p (id, label) VALUES (1, 'v2')");
  }
  // What readers of the stable name see.
  std::string StableLabel() const { return db.Scalar<std::string>("SELECT label FROM " + Id(stable) + ".p WHERE id = 1"); }
};

}  // namespace

TEST_CASE("registering a second version keeps version 1 in place and builds version 2 in its own schema from "
          "version 1's positions",
          "[pg][versions]") {
  PgTestSchema db;
  VersionSchemasDropped cleanup(db);
  PgVersionStore store(db.options());
  ReplicaSet(db, 2, 5);
  SetCheckpoint(db, "p", 0, 100);
  SetCheckpoint(db, "p", 1, 200);
  const auto v2_schema = projd::VersionSchemaName(db.schema(), "p", 2);
  CHECK(v2_schema == db.schema() + "_p_v2");

  const auto registered = ByVersion(store.Register("rs", "p", {1, 2}));
  REQUIRE(registered.size() == 2);
  CHECK(registered.at(1).state == VersionState::kActive);
  CHECK(registered.at(1).schema.empty());  // in place: its tables are the stable names
  CHECK(registered.at(2).state == VersionState::kBuilding);
  CHECK(registered.at(2).schema == v2_schema);
  CHECK(SchemaExists(db, v2_schema));
  CHECK_FALSE(SchemaExists(db, projd::VersionSchemaName(db.schema(), "p", 1)));

  // Version 2 starts at 0 everywhere, replaying up to where version 1 is.
  const auto seeded = db.Exec("SELECT partition, position, replay_until FROM projd_checkpoints"
                              " WHERE replica_set = 'rs' AND projection = 'p@2' ORDER BY partition");
  REQUIRE(seeded.size() == 2);
  CHECK(seeded[0][0].as<int>() == 0);
  CHECK(seeded[0][1].as<std::int64_t>() == 0);
  CHECK(seeded[0][2].as<std::int64_t>() == 100);
  CHECK(seeded[1][0].as<int>() == 1);
  CHECK(seeded[1][1].as<std::int64_t>() == 0);
  CHECK(seeded[1][2].as<std::int64_t>() == 200);

  const auto listed = ByVersion(store.List("rs"));
  REQUIRE(listed.size() == 2);
  CHECK(listed.at(1).partitions_with_checkpoints == 2);
  CHECK(listed.at(1).min_position == 100);
  CHECK(listed.at(1).max_position == 200);
  CHECK(listed.at(1).partitions_behind == 0);
  CHECK(listed.at(2).partitions_behind == 2);
  CHECK(listed.at(2).max_behind == 200);

  // Registering again (another worker, a restart) changes nothing.
  SetCheckpoint(db, "p@2", 0, 50, 0);
  const auto again = ByVersion(store.Register("rs", "p", {1, 2}));
  CHECK(again.at(1).state == VersionState::kActive);
  CHECK(again.at(2).state == VersionState::kBuilding);
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_projection_versions") == 2);
  CHECK(Position(db, "p@2", 0) == 50);
}

TEST_CASE("checkpoints from before versions make an implicit version 1 active when only version 2 is registered",
          "[pg][versions]") {
  PgTestSchema db;
  VersionSchemasDropped cleanup(db);
  PgVersionStore store(db.options());
  ReplicaSet(db, 2, 5);
  SetCheckpoint(db, "p", 0, 100);
  SetCheckpoint(db, "p", 1, 200);
  REQUIRE(db.Scalar<int>("SELECT count(*) FROM projd_projection_versions") == 0);

  const auto registered = ByVersion(store.Register("rs", "p", {2}));
  REQUIRE(registered.size() == 2);
  CHECK(registered.at(1).state == VersionState::kActive);
  CHECK(registered.at(1).schema.empty());
  CHECK(registered.at(2).state == VersionState::kBuilding);
  CHECK(registered.at(2).schema == db.schema() + "_p_v2");
  CHECK(db.Scalar<std::int64_t>("SELECT replay_until FROM projd_checkpoints WHERE projection = 'p@2' AND partition = 1") ==
        200);
}

TEST_CASE("a first deployment with version 2 alone makes it active in its own schema, with nothing to seed",
          "[pg][versions]") {
  PgTestSchema db;
  VersionSchemasDropped cleanup(db);
  PgVersionStore store(db.options());
  ReplicaSet(db, 2, 0);
  const auto registered = ByVersion(store.Register("rs", "p", {2}));
  REQUIRE(registered.size() == 1);
  CHECK(registered.at(2).state == VersionState::kActive);
  CHECK(registered.at(2).schema == db.schema() + "_p_v2");
  CHECK(SchemaExists(db, db.schema() + "_p_v2"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_checkpoints") == 0);
}

TEST_CASE("a version number arriving below the active or a building version is retired", "[pg][versions]") {
  PgTestSchema db;
  VersionSchemasDropped cleanup(db);
  PgVersionStore store(db.options());
  ReplicaSet(db, 2, 5);

  SECTION("below the active one") {
    store.Register("rs", "p", {2});
    const auto late = ByVersion(store.Register("rs", "p", {1}));
    REQUIRE(late.size() == 2);
    CHECK(late.at(2).state == VersionState::kActive);
    CHECK(late.at(1).state == VersionState::kRetired);
    CHECK_FALSE(late.at(1).schema.empty());  // never in place: the stable names are version 2's
    CHECK(db.Scalar<int>("SELECT count(*) FROM projd_checkpoints WHERE projection = 'p'") == 0);  // nothing seeded
  }
  SECTION("below a building one") {
    SetCheckpoint(db, "p", 0, 100);
    store.Register("rs", "p", {1, 3});
    const auto late = ByVersion(store.Register("rs", "p", {2}));
    REQUIRE(late.size() == 3);
    CHECK(late.at(1).state == VersionState::kActive);
    CHECK(late.at(2).state == VersionState::kRetired);
    CHECK(late.at(3).state == VersionState::kBuilding);
    CHECK(db.Scalar<int>("SELECT count(*) FROM projd_checkpoints WHERE projection = 'p@2'") == 0);
  }
}

TEST_CASE("a switch is refused for an unknown, the active, a dropped or (when caught up is required) a retired "
          "version, and changes nothing",
          "[pg][versions]") {
  InPlaceV1 f;
  f.store.Register("rs", "p", {1, 2, 3});
  REQUIRE(f.store.Drop("rs", "p", 3).dropped);
  const auto generation = Generation(f.db);

  auto r = f.store.Switch("rs", To(9));
  CHECK(r.outcome == SwitchOutcome::kRefused);
  CHECK_THAT(r.reason, Catch::Contains("no version 9"));
  r = f.store.Switch("rs", To(1));
  CHECK(r.outcome == SwitchOutcome::kRefused);
  CHECK_THAT(r.reason, Catch::Contains("already active"));
  r = f.store.Switch("rs", To(3, 1000ms, SwitchRequest::Require::kNothing));
  CHECK(r.outcome == SwitchOutcome::kRefused);
  CHECK_THAT(r.reason, Catch::Contains("dropped"));

  // A retired version is only switched back to deliberately (Require::kNothing).
  f.store.Register("rs", "q", {2});
  f.store.Register("rs", "q", {1});
  SwitchRequest back = To(1);
  back.projection = "q";
  r = f.store.Switch("rs", back);
  CHECK(r.outcome == SwitchOutcome::kRefused);
  CHECK_THAT(r.reason, Catch::Contains("retired"));

  CHECK(Generation(f.db) == generation);
  CHECK(States(f.store) ==
        std::map<int, VersionState>{{1, VersionState::kActive}, {2, VersionState::kBuilding}, {3, VersionState::kDropped}});
  CHECK(States(f.store, "q") == std::map<int, VersionState>{{1, VersionState::kRetired}, {2, VersionState::kActive}});
  CHECK(Relkind(f.db, f.stable, "p") == "r");
}

TEST_CASE("a switch to a version still behind on a partition reports it after the wait and changes nothing",
          "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 100, 5);
  SetCheckpoint(f.db, "p@2", 1, 150, 5);  // 50 behind version 1

  const auto start = std::chrono::steady_clock::now();
  const auto r = f.store.Switch("rs", To(2, 300ms));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.outcome == SwitchOutcome::kNotCaughtUp);
  CHECK(r.partitions_behind == 1);
  CHECK(r.from_version == 1);
  CHECK_THAT(r.reason, Catch::Contains("behind"));
  CHECK(took >= 300ms);  // it gave version 2 the whole wait
  CHECK(took < 30s);

  CHECK(States(f.store) == std::map<int, VersionState>{{1, VersionState::kActive}, {2, VersionState::kBuilding}});
  CHECK(Relkind(f.db, f.stable, "p") == "r");  // the table stayed where it was
  CHECK_FALSE(SchemaExists(f.db, f.v1_schema));
  CHECK(f.StableLabel() == "v1");
  CHECK(Generation(f.db) == 5);
  CHECK(RebuildGeneration(f.db) == 0);
  CHECK(LaneGenerations(f.db, "p") == std::map<int, std::int64_t>{{0, 5}, {1, 5}});
  CHECK(f.db.Scalar<std::string>("SELECT coalesce(read_model_schema, '') FROM projd_projection_versions"
                                 " WHERE version = 1") == "");
  // Version 1's batches were held only for the wait: its checkpoints move again.
  SetCheckpoint(f.db, "p", 0, 101);
  CHECK(Position(f.db, "p", 0) == 101);
}

TEST_CASE("a caught-up switch moves in-place version 1 into its own schema and points the stable names at version 2",
          "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 100, 5);
  SetCheckpoint(f.db, "p@2", 1, 250, 5);  // past version 1

  const auto r = f.store.Switch("rs", To(2));
  REQUIRE(r.outcome == SwitchOutcome::kSwitched);
  CHECK(r.from_version == 1);
  CHECK(r.generation == 6);
  CHECK(r.stable_names == 1);
  CHECK(r.partitions_behind == 0);

  // Version 1's table moved, with its rows; the stable name is a view of version 2's table.
  CHECK(f.v1_schema == f.stable + "_p_v1");
  CHECK(Relkind(f.db, f.v1_schema, "p") == "r");
  CHECK(f.db.Scalar<std::string>("SELECT label FROM " + Id(f.v1_schema) + ".p WHERE id = 1") == "v1");
  CHECK(Relkind(f.db, f.stable, "p") == "v");
  CHECK(f.StableLabel() == "v2");
  CHECK(f.db.Scalar<int>("SELECT extra FROM " + Id(f.stable) + ".p WHERE id = 1") == 7);  // version 2's columns

  const auto versions = ByVersion(f.store.List("rs"));
  REQUIRE(versions.size() == 2);
  CHECK(versions.at(1).state == VersionState::kRetired);
  CHECK(versions.at(1).schema == f.v1_schema);
  CHECK(versions.at(2).state == VersionState::kActive);
  CHECK(versions.at(2).schema == f.v2_schema);
  CHECK(versions.at(2).partitions_behind == 0);

  // A new generation, recorded as a restart; version 1's rows fenced by it, version 2's not.
  CHECK(Generation(f.db) == 6);
  CHECK(RebuildGeneration(f.db) == 6);
  CHECK(LaneGenerations(f.db, "p") == std::map<int, std::int64_t>{{0, 6}, {1, 6}});
  CHECK(LaneGenerations(f.db, "p@2") == std::map<int, std::int64_t>{{0, 5}, {1, 5}});
  CHECK(f.db.Scalar<std::string>("SELECT writer FROM projd_checkpoints WHERE projection = 'p' AND partition = 0") ==
        "version switch");
  CHECK(Position(f.db, "p", 1) == 200);  // fenced, not moved

  // The stable name is read-only: a write through it is refused, nothing lands anywhere.
  for (const auto* sql : {"INSERT INTO p (id, label) VALUES (2, 'through the view')", "UPDATE p SET label = 'x'",
                          "DELETE FROM p"}) {
    INFO(sql);
    try {
      f.db.Exec(sql);
      FAIL("a write through the stable view went through");
    } catch (const pqxx::sql_error& e) {
      CHECK(e.sqlstate() == "42809");
      CHECK_THAT(e.what(), Catch::Contains("read-only view"));
    }
  }
  CHECK(f.db.Scalar<int>("SELECT count(*) FROM " + Id(f.v2_schema) + ".p") == 1);
  CHECK(f.StableLabel() == "v2");
  CHECK(f.db.Scalar<std::string>("SELECT label FROM " + Id(f.v2_schema) + ".p WHERE id = 1") == "v2");
}

TEST_CASE("a version 1 batch in flight across the switch finds itself fenced and commits nothing", "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 100, 5);
  SetCheckpoint(f.db, "p@2", 1, 200, 5);

  // A version 1 transaction that read its generation before the switch.
  auto inflight = f.db.Connect();
  pqxx::work tx(*inflight);
  CHECK(tx.exec1("SELECT generation FROM projd_checkpoints WHERE replica_set = 'rs' AND projection = 'p'"
                 " AND partition = 0")[0]
            .as<std::int64_t>() == 5);

  REQUIRE(f.store.Switch("rs", To(2)).outcome == SwitchOutcome::kSwitched);

  // Its conditional checkpoint write finds a newer generation: it moves nothing.
  const auto moved = tx.exec("UPDATE projd_checkpoints SET position = 130 WHERE replica_set = 'rs'"
                             " AND projection = 'p' AND partition = 0 AND generation <= 5");
  CHECK(moved.affected_rows() == 0);
  tx.commit();
  CHECK(Position(f.db, "p", 0) == 100);

  // The same through the checkpoint store: the unit is fenced and its writes roll back.
  projd::pg::PgCheckpointStore checkpoints(f.db.options());
  const auto v1_table = Id(f.v1_schema) + ".p";
  projd::TransactionalUnit unit{{{{"rs", "p", 0}, 140, 5, "old worker"}}, {100}, [&](projd::TransactionHandle& h) {
                                  projd::pg::Work(h).exec0("INSERT INTO " + v1_table + " VALUES (3, 'late')");
                                }};
  CHECK(checkpoints.CommitUnit(unit, 5s) == projd::UnitOutcome::kFenced);
  CHECK(f.db.Scalar<int>("SELECT count(*) FROM " + v1_table) == 1);
  CHECK(Position(f.db, "p", 0) == 100);
}

TEST_CASE("a version 1 unit holding its checkpoints when a switch starts commits, and the switch follows it",
          "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 150, 5);
  SetCheckpoint(f.db, "p@2", 1, 250, 5);
  projd::pg::PgCheckpointStore checkpoints(f.db.options());
  auto watcher = f.db.Connect();

  // The unit locks its checkpoint rows, then (while the switch waits for them) writes its
  // table in place, as a transactional version 1 batch does.
  std::optional<projd::SwitchResult> switched;
  std::string switch_error;
  std::thread switcher;
  bool switch_blocked = false;
  projd::TransactionalUnit unit{
      {{{"rs", "p", 0}, 120, 5, "v1 worker"}}, {100}, [&](projd::TransactionHandle& h) {
        auto& w = projd::pg::Work(h);
        const auto pid = w.exec1("SELECT pg_backend_pid()")[0].as<int>();
        if (switcher.joinable()) return;  // applied once only
        switcher = std::thread([&] {
          try {
            switched = f.store.Switch("rs", To(2, 5000ms));
          } catch (const std::exception& e) {
            switch_error = e.what();
          }
        });
        switch_blocked = WaitFor(
            [&] {
              pqxx::nontransaction q(*watcher);
              return q.exec1("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity WHERE " + std::to_string(pid) +
                             " = ANY (pg_catalog.pg_blocking_pids(pid)))")[0]
                  .as<bool>();
            },
            10s);
        w.exec0("INSERT INTO p VALUES (2, 'v1 batch')");
      }};
  std::optional<projd::UnitOutcome> outcome;
  std::string unit_error;
  try {
    outcome = checkpoints.CommitUnit(unit, 20s);
  } catch (const std::exception& e) {
    unit_error = e.what();
  }
  if (switcher.joinable()) switcher.join();
  CHECK(switch_blocked);
  INFO("unit error: " << unit_error << "; switch error: " << switch_error);
  CHECK(unit_error.empty());
  CHECK(outcome == projd::UnitOutcome::kCommitted);
  CHECK(switch_error.empty());
  REQUIRE(switched.has_value());
  CHECK(switched->outcome == SwitchOutcome::kSwitched);
  // The batch's row moved with version 1's table; its checkpoint was then fenced.
  CHECK(f.db.Scalar<int>("SELECT count(*) FROM " + Id(f.v1_schema) + ".p") == 2);
  CHECK(Position(f.db, "p", 0) == 120);
  CHECK(LaneGenerations(f.db, "p").at(0) == 6);
}

TEST_CASE("a switch waits while the new version closes the gap, then switches", "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 100, 5);
  SetCheckpoint(f.db, "p@2", 1, 150, 5);  // behind on partition 1

  std::optional<projd::SwitchResult> result;
  std::string error;
  std::atomic<bool> finished{false};
  std::thread switcher([&] {
    try {
      result = f.store.Switch("rs", To(2, 20000ms));
    } catch (const std::exception& e) {
      error = e.what();
    }
    finished = true;
  });
  // The switch holds version 1's checkpoints while it waits.
  auto probe = f.db.Connect();
  const bool holding = WaitFor(
      [&] {
        if (finished) return false;
        try {
          pqxx::work t(*probe);
          t.exec("SELECT 1 FROM projd_checkpoints WHERE replica_set = 'rs' AND projection = 'p' FOR UPDATE NOWAIT");
          return false;
        } catch (const pqxx::sql_error& e) {
          return e.sqlstate() == "55P03";
        }
      },
      10s);
  CHECK(holding);
  CHECK_FALSE(finished);  // still waiting
  // Version 2's batch commits from another worker meanwhile.
  SetCheckpoint(f.db, "p@2", 1, 200, 5);
  switcher.join();
  INFO(error);
  REQUIRE(result.has_value());
  CHECK(result->outcome == SwitchOutcome::kSwitched);
  CHECK(f.StableLabel() == "v2");
  CHECK(States(f.store) == std::map<int, VersionState>{{1, VersionState::kRetired}, {2, VersionState::kActive}});
}

TEST_CASE("a switch back to the retired version re-points the stable names at its schema and retires the other",
          "[pg][versions]") {
  InPlaceV1 f;
  f.db.Exec("CREATE TABLE " + Id(f.v2_schema) + ".p_totals (n int); INSERT INTO " + Id(f.v2_schema) +
            ".p_totals VALUES (42)");
  SetCheckpoint(f.db, "p@2", 0, 100, 5);
  SetCheckpoint(f.db, "p@2", 1, 200, 5);
  const auto first = f.store.Switch("rs", To(2));
  REQUIRE(first.outcome == SwitchOutcome::kSwitched);
  CHECK(first.stable_names == 2);
  CHECK(f.db.Scalar<int>("SELECT n FROM " + Id(f.stable) + ".p_totals") == 42);
  SetCheckpoint(f.db, "p@2", 0, 300, 6);

  // Not caught up is fine for a switch back: version 1 shows what it has.
  const auto back = f.store.Switch("rs", To(1, 100ms, SwitchRequest::Require::kNothing));
  REQUIRE(back.outcome == SwitchOutcome::kSwitched);
  CHECK(back.from_version == 2);
  CHECK(back.generation == 7);
  CHECK(back.stable_names == 1);
  CHECK(f.StableLabel() == "v1");
  CHECK(Relkind(f.db, f.stable, "p") == "v");
  CHECK(Relkind(f.db, f.stable, "p_totals").empty());  // version 1 has no such table
  CHECK(Relkind(f.db, f.v1_schema, "p") == "r");       // its table stays in its schema
  CHECK(Relkind(f.db, f.v2_schema, "p_totals") == "r");

  const auto versions = ByVersion(f.store.List("rs"));
  CHECK(versions.at(1).state == VersionState::kActive);
  CHECK(versions.at(1).schema == f.v1_schema);
  CHECK(versions.at(2).state == VersionState::kRetired);
  CHECK(Generation(f.db) == 7);
  CHECK(LaneGenerations(f.db, "p@2") == std::map<int, std::int64_t>{{0, 7}, {1, 7}});
  CHECK(LaneGenerations(f.db, "p") == std::map<int, std::int64_t>{{0, 6}, {1, 6}});

  // And forward again, to the retired version 2 (deliberately).
  const auto again = f.store.Switch("rs", To(2, 100ms, SwitchRequest::Require::kNothing));
  CHECK(again.outcome == SwitchOutcome::kSwitched);
  CHECK(f.StableLabel() == "v2");
  CHECK(f.db.Scalar<int>("SELECT n FROM " + Id(f.stable) + ".p_totals") == 42);
}

TEST_CASE("a retired version resumed builds again under a new generation, and only a retired one",
          "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 100, 5);
  SetCheckpoint(f.db, "p@2", 1, 200, 5);
  REQUIRE(f.store.Switch("rs", To(2)).outcome == SwitchOutcome::kSwitched);
  REQUIRE(f.store.Switch("rs", To(1, 100ms, SwitchRequest::Require::kNothing)).outcome == SwitchOutcome::kSwitched);
  const auto generation = Generation(f.db);
  CHECK_FALSE(f.store.Resume("rs", "p", 1));  // active
  CHECK(f.store.Resume("rs", "p", 2));
  CHECK(ByVersion(f.store.List("rs")).at(2).state == VersionState::kBuilding);
  CHECK(Generation(f.db) == generation + 1);  // workers restart their partitions and run it
  CHECK(f.StableLabel() == "v1");             // readers still see version 1
  CHECK_FALSE(f.store.Resume("rs", "p", 2));  // building already
}

TEST_CASE("drop refuses the active version and drops a retired version's schema", "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 100, 5);
  SetCheckpoint(f.db, "p@2", 1, 200, 5);
  REQUIRE(f.store.Switch("rs", To(2)).outcome == SwitchOutcome::kSwitched);
  const auto generation = Generation(f.db);

  auto r = f.store.Drop("rs", "p", 2);
  CHECK_FALSE(r.dropped);
  CHECK_THAT(r.reason, Catch::Contains("active"));
  CHECK(SchemaExists(f.db, f.v2_schema));
  r = f.store.Drop("rs", "p", 9);
  CHECK_FALSE(r.dropped);
  CHECK_THAT(r.reason, Catch::Contains("no version 9"));

  r = f.store.Drop("rs", "p", 1);
  CHECK(r.dropped);
  CHECK(r.reason.empty());
  CHECK_FALSE(SchemaExists(f.db, f.v1_schema));
  CHECK(States(f.store) == std::map<int, VersionState>{{1, VersionState::kDropped}, {2, VersionState::kActive}});
  CHECK(Generation(f.db) == generation);  // nothing ran it: nothing to fence
  CHECK(f.StableLabel() == "v2");         // readers unaffected

  r = f.store.Drop("rs", "p", 1);
  CHECK_FALSE(r.dropped);
  CHECK_THAT(r.reason, Catch::Contains("dropped already"));
  // A binary that still has version 1 does not bring it back.
  CHECK(ByVersion(f.store.Register("rs", "p", {1, 2})).at(1).state == VersionState::kDropped);
}

TEST_CASE("dropping a building version fences its checkpoints, drops its schema and forgets its dead letters",
          "[pg][versions]") {
  InPlaceV1 f;
  SetCheckpoint(f.db, "p@2", 0, 40, 5);
  f.db.Exec("INSERT INTO projd_dead_letters (replica_set, projection, global_position, aggregate_id)"
            " VALUES ('rs', 'p@2', 7, 'a'), ('rs', 'p', 7, 'a')");

  const auto r = f.store.Drop("rs", "p", 2);
  CHECK(r.dropped);
  CHECK_FALSE(SchemaExists(f.db, f.v2_schema));
  CHECK(States(f.store) == std::map<int, VersionState>{{1, VersionState::kActive}, {2, VersionState::kDropped}});
  CHECK(Generation(f.db) == 6);
  CHECK(RebuildGeneration(f.db) == 6);
  CHECK(LaneGenerations(f.db, "p@2") == std::map<int, std::int64_t>{{0, 6}, {1, 6}});  // its workers' batches fenced
  CHECK(LaneGenerations(f.db, "p") == std::map<int, std::int64_t>{{0, 5}, {1, 5}});
  CHECK(f.db.Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE projection = 'p@2'") == 0);
  CHECK(f.db.Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE projection = 'p'") == 1);
  CHECK(f.StableLabel() == "v1");
  CHECK(Relkind(f.db, f.stable, "p") == "r");
}

TEST_CASE("the stable names of an active version in its own schema are made once, and again when its tables change",
          "[pg][versions]") {
  PgTestSchema db;
  VersionSchemasDropped cleanup(db);
  PgVersionStore store(db.options());
  ReplicaSet(db, 2, 0);
  const auto v2_schema = db.schema() + "_p_v2";
  store.Register("rs", "p", {2});
  db.Exec("CREATE TABLE " + Id(v2_schema) + ".p (id int, label text); INSERT INTO " + Id(v2_schema) +
          ".p VALUES (1, 'v2')");

  CHECK(store.PointStableNames("rs", "p", 2));
  CHECK(Relkind(db, db.schema(), "p") == "v");
  CHECK(db.Scalar<std::string>("SELECT label FROM " + Id(db.schema()) + ".p") == "v2");
  CHECK_FALSE(store.PointStableNames("rs", "p", 2));  // current already
  CHECK_FALSE(store.PointStableNames("rs", "p", 3));  // no such version
  CHECK_THROWS_AS(db.Exec("INSERT INTO p VALUES (2, 'x')"), pqxx::sql_error);

  // A later Setup adds a column and a table: the names follow.
  db.Exec("ALTER TABLE " + Id(v2_schema) + ".p ADD COLUMN n int DEFAULT 3; CREATE TABLE " + Id(v2_schema) +
          ".p_daily (d date)");
  CHECK(store.PointStableNames("rs", "p", 2));
  CHECK(db.Scalar<int>("SELECT n FROM " + Id(db.schema()) + ".p") == 3);
  CHECK(Relkind(db, db.schema(), "p_daily") == "v");
  CHECK_FALSE(store.PointStableNames("rs", "p", 2));

  // Version 1 in place has no stable names to point.
  store.Register("rs", "q", {1});
  CHECK_FALSE(store.PointStableNames("rs", "q", 1));
}

TEST_CASE("a user table occupying a stable name makes the switch fail and changes nothing", "[pg][versions]") {
  PgTestSchema db;
  VersionSchemasDropped cleanup(db);
  PgVersionStore store(db.options());
  ReplicaSet(db, 2, 5);
  const auto v2_schema = db.schema() + "_p_v2";
  const auto v3_schema = db.schema() + "_p_v3";
  store.Register("rs", "p", {2});
  db.Exec("CREATE TABLE " + Id(v2_schema) + ".p (id int); INSERT INTO " + Id(v2_schema) + ".p VALUES (2)");
  REQUIRE(store.PointStableNames("rs", "p", 2));
  SetCheckpoint(db, "p@2", 0, 100);
  SetCheckpoint(db, "p@2", 1, 200);
  store.Register("rs", "p", {2, 3});
  db.Exec("CREATE TABLE " + Id(v3_schema) + ".p (id int); INSERT INTO " + Id(v3_schema) + ".p VALUES (3);"
          "CREATE TABLE " + Id(v3_schema) + ".q (id int)");
  SetCheckpoint(db, "p@3", 0, 100);
  SetCheckpoint(db, "p@3", 1, 200);
  db.Exec("CREATE TABLE q (mine text); INSERT INTO q VALUES ('the user''s')");  // the name version 3 needs

  try {
    store.Switch("rs", To(3));
    FAIL("the switch replaced or ignored a user's table");
  } catch (const projd::PermanentError& e) {
    CHECK_THAT(e.what(), Catch::Contains("taken by a relation projd did not make"));
  }
  CHECK(States(store) == std::map<int, VersionState>{{2, VersionState::kActive}, {3, VersionState::kBuilding}});
  CHECK(Relkind(db, db.schema(), "q") == "r");
  CHECK(db.Scalar<std::string>("SELECT mine FROM q") == "the user's");
  CHECK(db.Scalar<int>("SELECT id FROM " + Id(db.schema()) + ".p") == 2);  // still version 2's
  CHECK(Generation(db) == 5);
  CHECK(LaneGenerations(db, "p@2") == std::map<int, std::int64_t>{{0, 5}, {1, 5}});

  // Moved out of the way, the switch goes through.
  db.Exec("ALTER TABLE q RENAME TO q_mine");
  CHECK(store.Switch("rs", To(3)).outcome == SwitchOutcome::kSwitched);
  CHECK(db.Scalar<int>("SELECT id FROM " + Id(db.schema()) + ".p") == 3);
  CHECK(Relkind(db, db.schema(), "q") == "v");
}
