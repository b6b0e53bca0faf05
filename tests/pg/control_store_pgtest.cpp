// PgControlStore on a real server: the operator's pauses (whole projection, one partition,
// idempotent, resume rules), the lookups the CLI validates with, and the partition states a
// worker writes (upsert, error_at kept while the error is the same).
#include <catch2/catch.hpp>

#include "orchestrator/control/pg/pg_control_store.h"
#include "tests/support/pg_test_schema.h"

using projd::kEveryPartition;
using projd::PartitionState;
using projd::pg::PgControlStore;
using projd::testing::PgTestSchema;
using Change = PgControlStore::Change;

TEST_CASE("pauses are rows: a whole projection or one partition, each once, and resume removes them",
          "[control][pause]") {
  PgTestSchema db;
  PgControlStore store(db.options());
  CHECK(store.ReadPauses("rs").empty());
  CHECK(store.PauseProjection("rs", {"stats", kEveryPartition, "ops@h", "migration"}) == Change::kDone);
  CHECK(store.PauseProjection("rs", {"stats", kEveryPartition, "ops@h", "again"}) == Change::kAlready);
  CHECK(store.PauseProjection("rs", {"stats", 2, "", ""}) == Change::kAlready);  // covered by the whole pause
  CHECK(store.PauseProjection("rs", {"ledger", 1, "", ""}) == Change::kDone);
  CHECK(store.PauseProjection("rs", {"ledger", 3, "", ""}) == Change::kDone);
  CHECK(store.PauseProjection("other-set", {"ledger", 0, "", ""}) == Change::kDone);
  const auto pauses = store.ReadPauses("rs");
  REQUIRE(pauses.size() == 3);
  CHECK(pauses[0].projection == "ledger");
  CHECK(pauses[0].partition == 1);
  CHECK(pauses[2].projection == "stats");
  CHECK(pauses[2].partition == kEveryPartition);
  CHECK(pauses[2].paused_by == "ops@h");
  CHECK(pauses[2].reason == "migration");

  CHECK(store.ResumeProjection("rs", "stats", 2) == Change::kWholePause);
  CHECK(store.ResumeProjection("rs", "ledger", 1) == Change::kDone);
  CHECK(store.ResumeProjection("rs", "ledger", 1) == Change::kAlready);
  CHECK(store.ResumeProjection("rs", "stats", std::nullopt) == Change::kDone);
  CHECK(store.ResumeProjection("rs", "ledger", std::nullopt) == Change::kDone);  // partition 3 too
  CHECK(store.ReadPauses("rs").empty());
  CHECK(store.ReadPauses("other-set").size() == 1);
}

TEST_CASE("the CLI's lookups: partition count and projections known by checkpoints or versions", "[control]") {
  PgTestSchema db;
  PgControlStore store(db.options());
  CHECK_FALSE(store.PartitionCount("rs").has_value());
  db.Exec("INSERT INTO projd_replica_sets (name, partitions) VALUES ('rs', 8)");
  CHECK(store.PartitionCount("rs") == 8);
  db.Exec("INSERT INTO projd_checkpoints (replica_set, projection, partition) VALUES ('rs', 'stream_stats@2', 0)");
  CHECK(store.ProjectionKnown("rs", "stream_stats"));  // by its version 2's checkpoints
  CHECK_FALSE(store.ProjectionKnown("rs", "streamXstats"));  // '_' is no wildcard
  CHECK_FALSE(store.ProjectionKnown("rs", "stream"));
  db.Exec("INSERT INTO projd_projection_versions (replica_set, projection, version, state) VALUES ('rs', 'ledger', 1, 'active')");
  CHECK(store.ProjectionKnown("rs", "ledger"));
  CHECK_FALSE(store.ProjectionKnown("other", "ledger"));
}

TEST_CASE("partition states are upserted, and an unchanged error keeps the time it was first seen", "[control]") {
  PgTestSchema db;
  PgControlStore store(db.options());
  store.WritePartitionStates("rs", "w1", {{"stats", 0, "running", ""}, {"stats", 1, "failing", "lock timeout"}});
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_partition_states WHERE error_at IS NULL") == 1);
  db.Exec("UPDATE projd_partition_states SET error_at = error_at - interval '1 hour' WHERE partition = 1");
  store.WritePartitionStates("rs", "w2", {{"stats", 1, "stalled", "lock timeout"}, {"stats", 0, "failing", "disk full"}});
  const auto rows = db.Exec(
      "SELECT partition, worker_id, state, last_error, error_at < now() - interval '30 minutes'"
      " FROM projd_partition_states ORDER BY partition");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][1].as<std::string>() == "w2");
  CHECK(rows[0][2].as<std::string>() == "failing");
  CHECK(rows[0][3].as<std::string>() == "disk full");
  CHECK_FALSE(rows[0][4].as<bool>());
  CHECK(rows[1][2].as<std::string>() == "stalled");
  CHECK(rows[1][4].as<bool>());  // the same error: still the hour-old time
  store.WritePartitionStates("rs", "w2", {{"stats", 1, "running", ""}});
  CHECK(db.Scalar<bool>("SELECT error_at IS NULL FROM projd_partition_states WHERE partition = 1"));
  store.WritePartitionStates("rs", "w2", {});  // nothing to write: no statement
}
