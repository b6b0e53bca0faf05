#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "orchestrator/common/errors.h"
#include "orchestrator/reading/pg/pg_event_store.h"
#include "orchestrator/reading/pg/seeder.h"
#include "tests/support/pg_test_schema.h"

using projd::ExpectedVersion;
using projd::NewEvent;
using projd::pg::PgEventStore;
using projd::testing::PgTestSchema;

namespace {
std::vector<NewEvent> Events(int n, const std::string& type = "Happened") {
  std::vector<NewEvent> out;
  for (int i = 0; i < n; ++i) out.push_back({.event_type = type, .payload = "p" + std::to_string(i)});
  return out;
}
const projd::StreamId kStream{"sales", "order", "order-1"};
}  // namespace

TEST_CASE("appended positions and versions match the table", "[pg][event_store]") {
  PgTestSchema db;
  PgEventStore store(db.options());
  const auto first = store.Append(kStream, ExpectedVersion::NoStream(), Events(3));
  REQUIRE(first.positions.size() == 3);
  CHECK(first.first_version == 1);
  CHECK(first.last_version == 3);
  const auto second = store.Append(kStream, ExpectedVersion::Exact(3), Events(2));
  CHECK(second.first_version == 4);
  CHECK(second.positions.front() > first.positions.back());

  const auto rows = db.Exec("SELECT global_position, aggregate_version, payload FROM events ORDER BY 1");
  REQUIRE(rows.size() == 5);
  for (int i = 0; i < 3; ++i) {
    CHECK(rows[i][0].as<std::int64_t>() == first.positions[i]);
    CHECK(rows[i][1].as<std::int64_t>() == i + 1);
  }
  CHECK(db.Scalar<std::int64_t>("SELECT aggregate_version FROM aggregate_heads") == 5);

  const auto stream = store.ReadStream(kStream);
  REQUIRE(stream.size() == 5);
  CHECK(stream[1].payload == "p1");
  CHECK(stream[4].aggregate_version == 5);
  CHECK(store.ReadStream(kStream, 3).size() == 2);
}

TEST_CASE("a wrong expected version is a conflict and writes nothing", "[pg][event_store]") {
  PgTestSchema db;
  PgEventStore store(db.options());
  store.Append(kStream, ExpectedVersion::Any(), Events(2));
  CHECK_THROWS_AS(store.Append(kStream, ExpectedVersion::NoStream(), Events(1)), projd::ConcurrencyConflict);
  CHECK_THROWS_WITH(store.Append(kStream, ExpectedVersion::Exact(1), Events(1)),
                    Catch::Contains("expected version 1") && Catch::Contains("at version 2"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 2);
}

TEST_CASE("two concurrent writers expecting the same version: exactly one wins", "[pg][event_store]") {
  PgTestSchema db;
  {
    PgEventStore setup(db.options());
    setup.Append(kStream, ExpectedVersion::NoStream(), Events(1));
  }
  for (int round = 0; round < 20; ++round) {
    const std::int64_t expected = 1 + round;
    std::atomic<int> wins{0}, conflicts{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&] {
        PgEventStore store(db.options());
        try {
          store.Append(kStream, ExpectedVersion::Exact(expected), Events(1));
          ++wins;
        } catch (const projd::ConcurrencyConflict&) {
          ++conflicts;
        }
      });
    }
    for (auto& t : writers) t.join();
    INFO("round " << round);
    REQUIRE(wins == 1);
    REQUIRE(conflicts == 1);
  }
  CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 21);
  CHECK(db.Scalar<int>("SELECT max(aggregate_version) FROM events") == 21);
}

TEST_CASE("a plain SQL insert with only the pupsourcing columns is read and respected",
          "[pg][event_store]") {
  PgTestSchema db;
  db.Exec(
      "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id,"
      " event_type, event_version, payload, metadata, created_at)"
      " VALUES ('sales', 'order', 'order-1', 1, '6f1c2f7e-4b0e-4a53-9a55-0d7b1e0a1a11', 'Placed', 1,"
      " convert_to('{\"x\":1}', 'UTF8'), '{}'::jsonb, now())");
  PgEventStore store(db.options());
  const auto all = store.ReadAll(0, 10);
  REQUIRE(all.size() == 1);
  CHECK(all[0].event_id == "6f1c2f7e-4b0e-4a53-9a55-0d7b1e0a1a11");
  CHECK(all[0].payload == "{\"x\":1}");
  CHECK(store.ReadStream(kStream).size() == 1);
  // aggregate_heads was not touched by the plain insert; the append still sees version 1.
  CHECK_THROWS_AS(store.Append(kStream, ExpectedVersion::NoStream(), Events(1)), projd::ConcurrencyConflict);
  const auto r = store.Append(kStream, ExpectedVersion::Exact(1), Events(1));
  CHECK(r.first_version == 2);
}

TEST_CASE("ReadAll pages in position order without skipping", "[pg][event_store]") {
  PgTestSchema db;
  PgEventStore store(db.options());
  for (int i = 0; i < 5; ++i) store.Append({"c", "t", "a-" + std::to_string(i)}, ExpectedVersion::Any(), Events(5));
  std::int64_t after = 0;
  int seen = 0;
  while (true) {
    const auto page = store.ReadAll(after, 7);
    if (page.empty()) break;
    for (const auto& e : page) {
      CHECK(e.global_position > after);
      after = e.global_position;
      ++seen;
    }
  }
  CHECK(seen == 25);
}

TEST_CASE("seeding continues existing streams and keeps heads exact", "[pg][event_store][seed]") {
  PgTestSchema db;
  const auto first = projd::pg::Seed(db.options(), {.aggregates = 10, .events = 95, .chunk = 20, .prefix = "s"});
  CHECK(first.events == 95);
  projd::pg::Seed(db.options(), {.aggregates = 10, .events = 10, .chunk = 20, .prefix = "s"});
  CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 105);
  // Every stream's versions are 1..n without holes, and heads agree.
  CHECK(db.Scalar<int>("SELECT count(*) FROM (SELECT aggregate_id FROM events GROUP BY 1"
                       " HAVING max(aggregate_version) <> count(*)) x") == 0);
  CHECK(db.Scalar<int>("SELECT count(*) FROM aggregate_heads h WHERE aggregate_version <>"
                       " (SELECT count(*) FROM events e WHERE e.aggregate_id = h.aggregate_id)") == 0);
  CHECK(db.Scalar<int>("SELECT aggregate_version FROM aggregate_heads WHERE aggregate_id = 's-000000'") == 11);
}
