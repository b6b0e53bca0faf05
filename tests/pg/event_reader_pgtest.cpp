#include <catch2/catch.hpp>

#include <set>

#include "orchestrator/common/errors.h"
#include "orchestrator/reading/partitioning.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "orchestrator/reading/pg/seeder.h"
#include "tests/support/pg_test_schema.h"

using projd::ReadRequest;
using projd::pg::PgEventReader;
using projd::testing::PgTestSchema;

namespace {
void InsertPlain(const PgTestSchema& db, const std::string& id, int version, const std::string& type = "t",
                 const std::string& context = "c") {
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('" + context + "', '" + type + "', '" + id + "', " + std::to_string(version) + ", 'E')");
}

ReadRequest AllPartitions(int count, std::int64_t after, std::int64_t hwm, int limit) {
  ReadRequest r;
  r.partition_count = count;
  for (int p = 0; p < count; ++p) r.after[p] = after;
  r.high_water_mark = hwm;
  r.limit = limit;
  return r;
}
}  // namespace

TEST_CASE("the SQL partition hash agrees with the C++ FNV-1a for every id", "[pg][reader][partitioning]") {
  PgTestSchema db;
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " SELECT 'c', 't', x, 1, 'E' FROM (VALUES (''), ('a'), ('agg-000'), ('user-alice'), ('order-123'),"
          " ('550e8400-e29b-41d4-a716-446655440000'), ('ünïcødé-✓'), ('x y\"z')) v(x)"
          " UNION ALL SELECT 'c', 't', 'id-' || g, 1, 'E' FROM generate_series(1, 2000) g");
  const auto rows = db.Exec("SELECT aggregate_id, partition_hash FROM events");
  REQUIRE(rows.size() == 2008);
  for (const auto& r : rows) {
    const auto id = r[0].as<std::string>();
    INFO(id);
    CHECK(r[1].as<std::int64_t>() == projd::Fnv1a32(id));
  }
  CHECK(db.Scalar<std::int64_t>("SELECT projd_fnv1a32('user-alice') % 4") == 3);
}

TEST_CASE("a reader of some partitions receives exactly their events, in order", "[pg][reader]") {
  PgTestSchema db;
  projd::pg::Seed(db.options(), {.aggregates = 200, .events = 4000, .chunk = 4000});
  PgEventReader reader(db.options());
  const int parts = 16;
  std::set<std::int64_t> seen;
  for (const std::set<int>& mine : {std::set<int>{0, 5, 9}, std::set<int>{1, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15}}) {
    ReadRequest req;
    req.partition_count = parts;
    for (int p : mine) req.after[p] = 0;
    req.high_water_mark = 4000;
    req.limit = 333;
    std::int64_t last = 0;
    while (true) {
      const auto batch = reader.ReadBatch(req);
      for (const auto& e : batch.events) {
        CHECK(e.event.global_position > last);
        last = e.event.global_position;
        CHECK(mine.count(e.partition) == 1);
        CHECK(e.partition == projd::PartitionOf(e.event.aggregate_id, parts));
        CHECK(seen.insert(e.event.global_position).second);
      }
      for (auto& [p, a] : req.after) a = batch.scanned_to;
      if (batch.events.size() < 333) break;
    }
  }
  CHECK(seen.size() == 4000);
}

TEST_CASE("a batch never moves the position past the last event read", "[pg][reader]") {
  PgTestSchema db;
  projd::pg::Seed(db.options(), {.aggregates = 10, .events = 100});
  PgEventReader reader(db.options());
  auto req = AllPartitions(4, 0, 100, 30);
  const auto full = reader.ReadBatch(req);
  REQUIRE(full.events.size() == 30);
  CHECK(full.scanned_to == full.events.back().event.global_position);
  CHECK(full.scanned_to == 30);
  // Restarting from that position continues exactly.
  req = AllPartitions(4, full.scanned_to, 100, 1000);
  const auto rest = reader.ReadBatch(req);
  REQUIRE(rest.events.size() == 70);
  CHECK(rest.events.front().event.global_position == 31);
  CHECK(rest.scanned_to == 100);
  // Only up to the high-water mark.
  req = AllPartitions(4, 0, 42, 1000);
  CHECK(reader.ReadBatch(req).events.size() == 42);
}

TEST_CASE("each partition skips events below its own position", "[pg][reader]") {
  PgTestSchema db;
  projd::pg::Seed(db.options(), {.aggregates = 50, .events = 500});
  PgEventReader reader(db.options());
  ReadRequest req = AllPartitions(2, 0, 500, 1000);
  req.after[1] = 400;
  const auto batch = reader.ReadBatch(req);
  for (const auto& e : batch.events) {
    if (e.partition == 1) CHECK(e.event.global_position > 400);
  }
  const auto expected = db.Scalar<int>(
      "SELECT count(*) FROM events WHERE partition_hash % 2 = 0 OR global_position > 400");
  CHECK(static_cast<int>(batch.events.size()) == expected);
}

TEST_CASE("scope filters are applied in SQL", "[pg][reader]") {
  PgTestSchema db;
  InsertPlain(db, "a1", 1, "account", "bank");
  InsertPlain(db, "o1", 1, "order", "shop");
  InsertPlain(db, "a2", 1, "account", "shop");
  PgEventReader reader(db.options());
  auto req = AllPartitions(1, 0, 3, 10);
  req.scope.aggregate_types = {"account"};
  CHECK(reader.ReadBatch(req).events.size() == 2);
  req.scope.bounded_contexts = {"shop"};
  const auto both = reader.ReadBatch(req);
  REQUIRE(both.events.size() == 1);
  CHECK(both.events[0].event.aggregate_id == "a2");
  CHECK(both.scanned_to == 3);
}

TEST_CASE("rows written before the partition column existed are still routed", "[pg][reader]") {
  PgTestSchema db;
  InsertPlain(db, "user-alice", 1);
  db.Exec("UPDATE events SET partition_hash = NULL");  // as if from before migration 0003
  PgEventReader reader(db.options());
  ReadRequest req;
  req.partition_count = 4;
  req.after[3] = 0;
  req.high_water_mark = 1;
  req.limit = 10;
  const auto batch = reader.ReadBatch(req);
  REQUIRE(batch.events.size() == 1);
  CHECK(batch.events[0].partition == 3);
}

TEST_CASE("the batch plan is an index range scan without a parallel plan", "[pg][reader][plan]") {
  PgTestSchema db;
  projd::pg::Seed(db.options(), {.aggregates = 1000, .events = 50000});
  db.Exec("ANALYZE events");
  auto conn = db.Connect();
  pqxx::work tx(*conn);
  tx.exec0("SET LOCAL max_parallel_workers_per_gather = 0");
  const auto plan = tx.exec_params(
      "EXPLAIN " + PgEventReader::BatchSql(), 0, 50000, 64,
      "{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,"
      "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,"
      "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL}",
      "{}", "{}", 1000);
  std::string text;
  for (const auto& r : plan) text += r[0].as<std::string>() + "\n";
  INFO(text);
  CHECK(text.find("Gather") == std::string::npos);
  CHECK(text.find("Index Scan using events_pkey") != std::string::npos);
  CHECK(text.find("Sort") == std::string::npos);
}

TEST_CASE("a position sequence with a cache other than 1 is refused", "[pg][reader][hwm]") {
  PgTestSchema db;
  db.Exec("ALTER SEQUENCE events_global_position_seq CACHE 20");
  REQUIRE_THROWS_AS(projd::pg::PgPositionSource(db.options()), projd::PermanentError);
  REQUIRE_THROWS_WITH(projd::pg::PgPositionSource(db.options()), Catch::Contains("CACHE 20"));
}

TEST_CASE("the batch stays an ordered index scan on a freshly loaded events table without statistics",
          "[pg][reader][plan]") {
  // Found with `make demo`: 200,000 events seeded, not analysed yet; the planner took a
  // bitmap scan of the whole position range plus a sort for every batch (342 ms each).
  PgTestSchema db;
  db.Exec("ALTER TABLE events SET (autovacuum_enabled = false)");
  projd::pg::Seed(db.options(), {.aggregates = 1000, .events = 50000});
  REQUIRE(db.Scalar<std::int64_t>("SELECT coalesce(reltuples, -1)::bigint FROM pg_class WHERE oid = 'events'::regclass") <= 0);
  auto conn = db.Connect();
  pqxx::work tx(*conn);
  for (const auto& [name, value] : PgEventReader::SessionSettings()) {
    tx.exec("SELECT set_config(" + tx.quote(name) + ", " + tx.quote(value) + ", true)");
  }
  std::string owned = "{";
  for (int p = 0; p < 64; ++p) owned += std::string(p ? "," : "") + (p % 3 == 0 ? "1000" : "NULL");
  owned += "}";
  const auto plan = tx.exec_params("EXPLAIN " + PgEventReader::BatchSql(), 1000, 50000, 64, owned, "{}", "{}", 500);
  std::string text;
  for (const auto& r : plan) text += r[0].as<std::string>() + "\n";
  INFO(text);
  CHECK(text.find("Index Scan using events_pkey") != std::string::npos);
  CHECK(text.find("Sort") == std::string::npos);
  CHECK(text.find("Bitmap") == std::string::npos);
}
