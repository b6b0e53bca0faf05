// The per-partition merge read (docs/reading.md, "Reads that scale with the workers"):
// with the index of its partition count, a reader owning at most half of the partitions
// merges one index range per partition; it returns exactly what the primary-key walk
// returns, in position order, each partition from its own position.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "orchestrator/reading/pg/partition_index.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "tests/support/pg_test_schema.h"

using projd::ReadRequest;
using projd::pg::PgEventReader;
using projd::testing::PgTestSchema;

namespace {
constexpr int kPartitions = 64;

// 3,000 events over 200 aggregates; every 7th row without a stored hash (a row from before
// migration 0003), so the partition expression's fallback is read too.
void Seed(const PgTestSchema& db) {
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " SELECT CASE WHEN i % 3 = 0 THEN 'billing' ELSE 'sales' END, CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END,"
          " 'agg-' || (i % 200), i / 200 + 1, 'E' FROM generate_series(0, 2999) AS i");
  db.Exec("UPDATE events SET partition_hash = NULL WHERE global_position % 7 = 0");
}

void CreateIndex(const PgTestSchema& db, int partitions) {
  auto conn = db.Connect();
  projd::pg::EnsurePartitionIndex(*conn, db.options(), partitions, [](const std::string&) {});
}

struct Row {
  std::int64_t position;
  int partition;
  std::string context, type;
};

std::vector<Row> AllRows(const PgTestSchema& db) {
  std::vector<Row> rows;
  for (const auto& r : db.Exec("SELECT global_position, (coalesce(partition_hash, projd_fnv1a32(aggregate_id)) % 64)::int,"
                               " bounded_context, aggregate_type FROM events ORDER BY global_position")) {
    rows.push_back({r[0].as<std::int64_t>(), r[1].as<int>(), r[2].as<std::string>(), r[3].as<std::string>()});
  }
  return rows;
}

// What any correct reader returns: owned rows above their partition's position, up to the
// mark, in scope, the first `limit` of them.
std::vector<std::pair<std::int64_t, int>> Expected(const std::vector<Row>& rows, const ReadRequest& req) {
  std::vector<std::pair<std::int64_t, int>> out;
  for (const auto& r : rows) {
    if (r.position > req.high_water_mark) break;
    const auto it = req.after.find(r.partition);
    if (it == req.after.end() || r.position <= it->second) continue;
    const auto& types = req.scope.aggregate_types;
    const auto& contexts = req.scope.bounded_contexts;
    if (!types.empty() && std::find(types.begin(), types.end(), r.type) == types.end()) continue;
    if (!contexts.empty() && std::find(contexts.begin(), contexts.end(), r.context) == contexts.end()) continue;
    out.emplace_back(r.position, r.partition);
    if (static_cast<int>(out.size()) == req.limit) break;
  }
  return out;
}

std::string Explain(const PgTestSchema& db, const std::string& sql, const std::string& params) {
  auto conn = db.Connect();
  pqxx::work tx(*conn);
  for (const auto& [name, value] : PgEventReader::SessionSettings()) {
    tx.exec("SELECT set_config(" + tx.quote(name) + ", " + tx.quote(value) + ", true)");
  }
  tx.exec0("PREPARE q AS " + sql);
  std::string text;
  for (const auto& r : tx.exec("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE q" + params)) {
    text += r[0].as<std::string>() + "\n";
  }
  return text;
}
}  // namespace

TEST_CASE("with the partition index a reader of few partitions merges them and reads what the walk reads",
          "[pg][reader][merge]") {
  PgTestSchema db;
  Seed(db);
  CreateIndex(db, kPartitions);
  const auto rows = AllRows(db);
  PgEventReader reader(db.options());
  std::mt19937 rng(7);
  int merged = 0, walked = 0;
  for (int round = 0; round < 400; ++round) {
    ReadRequest req;
    req.partition_count = kPartitions;
    // Few partitions (the merge's side of the cost model) in half of the rounds.
    const int owned = 1 + static_cast<int>(rng() % (round % 2 ? 48 : 6));
    while (static_cast<int>(req.after.size()) < owned) req.after[static_cast<int>(rng() % kPartitions)] = rng() % 2500;
    req.high_water_mark = 500 + rng() % 2600;
    req.limit = std::vector<int>{1, 10, 100, 1000}[rng() % 4];
    if (rng() % 4 == 0) req.scope.aggregate_types = {"A"};
    if (rng() % 5 == 0) req.scope.bounded_contexts = {"billing"};
    const auto got = reader.ReadBatch(req);
    std::vector<std::pair<std::int64_t, int>> positions;
    for (const auto& e : got.events) positions.emplace_back(e.event.global_position, e.partition);
    const auto expected = Expected(rows, req);
    INFO("round " << round << ", " << owned << " partitions, limit " << req.limit);
    REQUIRE(positions == expected);
    const bool full = static_cast<int>(expected.size()) == req.limit;
    CHECK(got.scanned_to == (full ? expected.back().first : req.high_water_mark));
    std::int64_t lowest = req.high_water_mark;
    for (const auto& [p, a] : req.after) lowest = std::min(lowest, a);
    if (lowest >= req.high_water_mark) continue;  // nothing to read: no statement
    const bool merge = PgEventReader::PrefersMerge(kPartitions, req.after.size());
    CHECK((reader.last_plan() == PgEventReader::ReadPlan::kPartitionMerge) == merge);
    ++(merge ? merged : walked);
  }
  CHECK(merged > 50);
  CHECK(walked > 50);
}

TEST_CASE("without the index of its partition count a reader walks the primary key", "[pg][reader][merge]") {
  PgTestSchema db;
  Seed(db);
  CreateIndex(db, 128);  // another replica set's count: not this reader's
  PgEventReader reader(db.options());
  ReadRequest req;
  req.partition_count = kPartitions;
  req.after = {{3, 0}, {40, 0}};
  req.high_water_mark = 3000;
  req.limit = 50;
  const auto got = reader.ReadBatch(req);
  CHECK(reader.last_plan() == PgEventReader::ReadPlan::kPrimaryKeyWalk);
  CHECK(got.events.size() == Expected(AllRows(db), req).size());
}

TEST_CASE("a fill reads one ordered index range per partition, each only as far as it returns",
          "[pg][reader][merge]") {
  PgTestSchema db;
  Seed(db);
  CreateIndex(db, kPartitions);
  db.Exec("ANALYZE events");
  const auto text = Explain(db, PgEventReader::FillSql(kPartitions), "(3000, 20, '{5,9}', '{0,0}', '{}', '{}')");
  INFO(text);
  CHECK(text.find("Index Scan using " + projd::pg::PartitionIndexName(kPartitions)) != std::string::npos);
  CHECK(text.find("Sort") == std::string::npos);
  // Visited what it returns: no row of another partition was looked at and dropped.
  CHECK(text.find("Rows Removed by Filter") == std::string::npos);
  CHECK(text.find("loops=2") != std::string::npos);  // one index range per partition
}

TEST_CASE("an interrupted index build is replaced, an existing index is kept", "[pg][reader][merge]") {
  PgTestSchema db;
  Seed(db);
  // An invalid index of that name, as a failed CREATE INDEX CONCURRENTLY leaves it.
  db.Exec("CREATE INDEX " + projd::pg::PartitionIndexName(kPartitions) + " ON events (" +
          projd::pg::PartitionExpression(kPartitions) + ", global_position)");
  db.Exec("UPDATE pg_index SET indisvalid = false WHERE indexrelid = '" + projd::pg::PartitionIndexName(kPartitions) +
          "'::regclass");
  std::vector<std::string> lines;
  auto conn = db.Connect();
  // A build slower than the watcher's interval adds "index NAME: <phase>" lines: not counted here.
  projd::pg::EnsurePartitionIndex(*conn, db.options(), kPartitions, [&](const std::string& l) {
    if (l.find(projd::pg::PartitionIndexName(kPartitions) + ":") == std::string::npos) lines.push_back(l);
  });
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0], Catch::Contains("invalid"));
  CHECK_THAT(lines[2], Catch::Contains("created"));
  {
    pqxx::nontransaction tx(*conn);
    CHECK(projd::pg::HasPartitionIndex(tx, kPartitions));
  }
  lines.clear();
  projd::pg::EnsurePartitionIndex(*conn, db.options(), kPartitions, [&](const std::string& l) { lines.push_back(l); });
  CHECK(lines == std::vector<std::string>{"index " + projd::pg::PartitionIndexName(kPartitions) + " exists"});
}

TEST_CASE("the plan follows the cost of both: up to a quarter of the partitions read per partition, more walk",
          "[reader][merge]") {
  CHECK(PgEventReader::PrefersMerge(64, 1));        // one worker of 64
  CHECK(PgEventReader::PrefersMerge(64, 4));        // one of sixteen workers
  CHECK(PgEventReader::PrefersMerge(64, 16));       // one of four
  CHECK_FALSE(PgEventReader::PrefersMerge(64, 17));
  CHECK_FALSE(PgEventReader::PrefersMerge(64, 32));  // one of two: the walk visits two rows per row
  CHECK_FALSE(PgEventReader::PrefersMerge(64, 64));
  CHECK_FALSE(PgEventReader::PrefersMerge(64, 0));
  CHECK_FALSE(PgEventReader::PrefersMerge(1, 1));
}
