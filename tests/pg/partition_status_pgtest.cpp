// ReadPartitionStatus against a real PostgreSQL: positions, lag in events and seconds,
// owners, operator pauses (the whole projection and one partition), owners' state reports,
// current and stale, and the selection of one projection.
#include <catch2/catch.hpp>

#include <map>

#include "orchestrator/coordination/pg/partition_status_reader.h"
#include "tests/support/pg_test_schema.h"

using projd::PartitionStatus;
using projd::StateSource;
using projd::pg::ReadPartitionStatus;
using projd::testing::PgTestSchema;

namespace {

constexpr int kPartitions = 4;
constexpr int kEvents = 40;

// Replica set `rs` of 4 partitions: worker alpha (id-a) is a member and owns 0 and 1;
// partition 2's owner (id-gone, beta) is no longer a member; partition 3 has no owner.
// 40 events over 8 aggregates; event g (position g + 1) was created (1000 - g) minutes ago.
struct StatusData {
  PgTestSchema db;

  StatusData() {
    db.Exec("INSERT INTO projd_replica_sets (name, partitions, generation) VALUES ('rs', 4, 2)");
    db.Exec("INSERT INTO projd_workers (worker_id, replica_set, worker_name) VALUES ('id-a', 'rs', 'alpha')");
    db.Exec("INSERT INTO projd_assignments (replica_set, partition, generation, worker_id, worker_name) VALUES"
            " ('rs', 0, 2, 'id-a', 'alpha'), ('rs', 1, 2, 'id-a', 'alpha'), ('rs', 2, 2, 'id-gone', 'beta')");
    db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type, created_at)"
            " SELECT 'c', 't', 'agg-' || (g % 8), g / 8 + 1, 'E', now() - (1000 - g) * interval '1 minute'"
            " FROM generate_series(0, 39) g ORDER BY g");
  }

  void Checkpoint(const std::string& projection, int partition, std::int64_t position) const {
    db.Exec("INSERT INTO projd_checkpoints (replica_set, projection, partition, position) VALUES ('rs', '" +
            projection + "', " + std::to_string(partition) + ", " + std::to_string(position) + ")");
  }

  // The partition of event g: the stored hash of its aggregate (migration 0003).
  int PartitionOf(int g) const {
    return db.Scalar<int>("SELECT partition_hash % 4 FROM events WHERE global_position = " + std::to_string(g + 1));
  }

  // Minutes since the first event of `partition` after `position`, by walking the data.
  std::optional<int> ExpectedLagMinutes(int partition, std::int64_t position) const {
    for (int g = static_cast<int>(position); g < kEvents; ++g) {
      if (PartitionOf(g) == partition) return 1000 - g;
    }
    return std::nullopt;
  }
};

std::map<std::pair<std::string, int>, PartitionStatus> ByKey(const std::vector<PartitionStatus>& rows) {
  std::map<std::pair<std::string, int>, PartitionStatus> out;
  for (const auto& r : rows) out[{r.projection, r.partition}] = r;
  return out;
}

}  // namespace

TEST_CASE("partition rows carry the checkpoint, the lag in events and in seconds, and the owner",
          "[pg][status]") {
  StatusData data;
  const std::int64_t positions[kPartitions] = {0, kEvents, 10, 25};
  for (int p = 0; p < kPartitions; ++p) data.Checkpoint("orders", p, positions[p]);
  const auto rows = ReadPartitionStatus(data.db.options(), "rs", "");
  REQUIRE(rows.size() == kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    const auto& r = rows[p];
    INFO("partition " << p);
    CHECK(r.projection == "orders");
    CHECK(r.partition == p);
    CHECK(r.position == positions[p]);
    CHECK(r.lag_events == kEvents - positions[p]);
    const auto minutes = data.ExpectedLagMinutes(p, positions[p]);
    if (minutes) {
      // The test's own duration is the only slack.
      CHECK(r.lag_seconds >= *minutes * 60.0);
      CHECK(r.lag_seconds < *minutes * 60.0 + 120);
    } else {
      CHECK(r.lag_seconds == 0);
    }
    CHECK(r.state == "-");
    CHECK(r.source == StateSource::kNone);
  }
  CHECK(rows[1].lag_seconds == 0);  // caught up
  CHECK(rows[0].owner == "alpha");
  CHECK(rows[0].owner_id == "id-a");
  CHECK(rows[1].owner == "alpha");
  CHECK(rows[2].owner == "unassigned");  // its owner is gone
  CHECK(rows[3].owner == "unassigned");  // never assigned
}

TEST_CASE("a pause of the whole projection covers every partition and version, one of a partition only that one",
          "[pg][status]") {
  StatusData data;
  for (int p = 0; p < kPartitions; ++p) {
    data.Checkpoint("orders", p, 0);
    data.Checkpoint("orders@2", p, 0);
    data.Checkpoint("stock", p, 0);
  }
  data.db.Exec("INSERT INTO projd_projection_pauses (replica_set, projection, partition, paused_by, reason)"
               " VALUES ('rs', 'orders', -1, 'ops', 'reindex'), ('rs', 'stock', 2, 'ops', 'one bad row')");
  // Another replica set's pause changes nothing here.
  data.db.Exec("INSERT INTO projd_projection_pauses (replica_set, projection, partition) VALUES ('other', 'stock', -1)");
  const auto rows = ByKey(ReadPartitionStatus(data.db.options(), "rs", ""));
  REQUIRE(rows.size() == 3 * kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    INFO("partition " << p);
    for (const auto* lane : {"orders", "orders@2"}) {
      const auto& r = rows.at({lane, p});
      CHECK(r.state == "paused");
      CHECK(r.source == StateSource::kPause);
      REQUIRE(r.pause);
      CHECK(r.pause->whole_projection);
      CHECK(r.pause->paused_by == "ops");
      CHECK(r.pause->reason == "reindex");
    }
    const auto& stock = rows.at({"stock", p});
    if (p == 2) {
      CHECK(stock.state == "paused");
      REQUIRE(stock.pause);
      CHECK_FALSE(stock.pause->whole_projection);
      CHECK(stock.pause->reason == "one bad row");
    } else {
      CHECK(stock.state == "-");
      CHECK_FALSE(stock.pause);
    }
  }
}

TEST_CASE("the current owner's state row is shown, a row of a former or gone owner is stale", "[pg][status]") {
  StatusData data;
  for (int p = 0; p < kPartitions; ++p) data.Checkpoint("orders", p, 5);
  data.db.Exec(
      "INSERT INTO projd_partition_states (replica_set, projection, partition, worker_id, state, last_error, error_at,"
      " updated_at) VALUES"
      " ('rs', 'orders', 0, 'id-a', 'failing', 'relation \"x\" does not exist', now() - interval '30 seconds',"
      "  now() - interval '20 seconds'),"
      " ('rs', 'orders', 1, 'id-old', 'stalled', '', NULL, now() - interval '5 minutes'),"
      " ('rs', 'orders', 2, 'id-gone', 'running', '', NULL, now() - interval '1 minute')");
  const auto rows = ReadPartitionStatus(data.db.options(), "rs", "");
  REQUIRE(rows.size() == kPartitions);

  const auto& current = rows[0];
  CHECK(current.state == "failing");
  CHECK(current.source == StateSource::kOwner);
  CHECK(current.report_current);
  CHECK(current.last_error == "relation \"x\" does not exist");
  REQUIRE(current.error_age_seconds);
  CHECK(*current.error_age_seconds >= 30);
  CHECK(*current.error_age_seconds < 150);
  REQUIRE(current.report);
  CHECK(current.report->worker_name == "alpha");
  CHECK(current.report->age_seconds >= 20);

  const auto& former_owner = rows[1];  // alpha owns it now; id-old wrote the row
  CHECK(former_owner.state == "-");
  CHECK(former_owner.source == StateSource::kStale);
  REQUIRE(former_owner.report);
  CHECK(former_owner.report->state == "stalled");
  CHECK(former_owner.report->worker_name.empty());  // id-old is not a member
  CHECK(former_owner.report->age_seconds >= 300);

  const auto& gone_owner = rows[2];  // id-gone still holds the assignment but is not a member
  CHECK(gone_owner.state == "-");
  CHECK(gone_owner.source == StateSource::kStale);
  CHECK(gone_owner.owner == "unassigned");

  CHECK(rows[3].source == StateSource::kNone);
}

TEST_CASE("one projection's rows are its lanes only, and an unknown replica set has none", "[pg][status]") {
  StatusData data;
  for (const auto* lane : {"orders", "orders@2", "orders_archive", "stock"}) data.Checkpoint(lane, 0, 3);
  data.Checkpoint("orders", 7, 3);  // beyond the replica set's 4 partitions: not a partition of it
  const auto rows = ReadPartitionStatus(data.db.options(), "rs", "orders");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].projection == "orders");
  CHECK(rows[1].projection == "orders@2");
  CHECK(ReadPartitionStatus(data.db.options(), "rs", "").size() == 4);
  CHECK(ReadPartitionStatus(data.db.options(), "nope", "").empty());
}
