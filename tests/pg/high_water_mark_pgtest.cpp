// The high-water mark against real transactions: late commits, rollbacks, idle sessions.
#include <catch2/catch.hpp>

#include <thread>

#include "orchestrator/common/clock.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/pg/event_notifier.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "tests/support/fake_clock.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::HighWaterMarkFollower;
using projd::testing::FakeClock;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {
constexpr const char* kInsert =
    "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
    " VALUES ('c', 't', $1, $2, 'E') RETURNING global_position";

std::int64_t Insert(pqxx::transaction_base& tx, const std::string& id, int version) {
  return tx.exec_params1(kInsert, id, version)[0].as<std::int64_t>();
}
}  // namespace

TEST_CASE("a long-open INSERT transaction is never skipped, however long it stays open", "[pg][hwm]") {
  PgTestSchema db;
  FakeClock clock;
  projd::pg::PgPositionSource source(db.options());
  HighWaterMarkFollower follower(source, clock, 200ms);

  auto slow_conn = db.Connect();
  pqxx::work slow(*slow_conn);
  const auto held = Insert(slow, "slow", 1);  // position 1, not committed
  const auto slow_xid = slow.exec1("SELECT pg_current_xact_id()::text::bigint")[0].as<std::uint64_t>() % (1ULL << 32);
  {
    auto c = db.Connect();
    pqxx::work tx(*c);
    for (int i = 1; i <= 5; ++i) Insert(tx, "fast", i);
    tx.commit();
  }
  for (int round = 0; round < 20; ++round) {
    REQUIRE(follower.Advance());
    clock.Advance(1s);  // far beyond GAP_GRACE
    REQUIRE(follower.mark() < held);
  }
  const auto status = follower.Status();
  CHECK(status.open_gaps == 1);
  CHECK(status.oldest_gap_age >= 19s);
  REQUIRE(status.held_by.has_value());
  // The writer of this schema's events, not an older transaction of a parallel test.
  CHECK(status.held_by->pid == static_cast<int>(slow_conn->backendpid()));
  CHECK(status.held_by->state == "idle in transaction");
  CHECK(std::stoull(status.held_by->xid) == slow_xid);

  slow.commit();
  REQUIRE(follower.Advance());
  CHECK(follower.mark() == 6);
  CHECK(follower.Status().open_gaps == 0);
}

TEST_CASE("a rolled-back position is passed once the grace and the writers' end allow", "[pg][hwm]") {
  PgTestSchema db;
  FakeClock clock;
  projd::pg::PgPositionSource source(db.options());
  HighWaterMarkFollower follower(source, clock, 200ms);
  {
    auto c = db.Connect();
    pqxx::work tx(*c);
    Insert(tx, "gone", 1);  // position 1
    tx.abort();
  }
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('c', 't', 'kept', 1, 'E')");  // position 2
  REQUIRE(follower.Advance());
  CHECK(follower.mark() == 0);  // inside the grace: no proof is attempted
  clock.Advance(300ms);
  // Parallel tests' transactions on other schemas never hold this proof: one round decides.
  REQUIRE(follower.Advance());
  CHECK(follower.mark() == 2);
}

TEST_CASE("a session idle in transaction that never wrote does not hold the mark", "[pg][hwm]") {
  PgTestSchema db;
  FakeClock clock;
  auto idle_conn = db.Connect();
  pqxx::work idle(*idle_conn);
  idle.exec("SELECT count(*) FROM events");  // holds a snapshot, no transaction id
  projd::pg::PgPositionSource source(db.options());
  HighWaterMarkFollower follower(source, clock, 200ms);
  {
    auto c = db.Connect();
    pqxx::work tx(*c);
    Insert(tx, "gone", 1);
    tx.abort();
  }
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('c', 't', 'kept', 1, 'E')");
  follower.Advance();
  clock.Advance(1s);
  REQUIRE(follower.Advance());
  CHECK(follower.mark() == 2);
  idle.abort();
}

TEST_CASE("nextval() in one statement and INSERT later is outside the contract", "[pg][hwm][contract]") {
  // Documented outcome (docs/reading.md): such a writer holds a position without holding
  // a write lock on events, so the proof can pass its position and the event is never read by a
  // follower that already moved on. This test pins that outcome.
  PgTestSchema db;
  FakeClock clock;
  projd::pg::PgPositionSource source(db.options());
  HighWaterMarkFollower follower(source, clock, 200ms);
  // The rogue reserves a position in one transaction and inserts it in a later one.
  const auto reserved = db.Scalar<std::int64_t>("SELECT nextval('events_global_position_seq')");
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('c', 't', 'normal', 1, 'E')");
  follower.Advance();
  clock.Advance(1s);
  // Passed: the reserved position looks exactly like a rolled-back one.
  CHECK(WaitFor([&] { return follower.Advance() && follower.mark() > reserved; }, 30s));
  db.Exec("INSERT INTO events (global_position, bounded_context, aggregate_type, aggregate_id,"
          " aggregate_version, event_type) VALUES (" + std::to_string(reserved) + ", 'c', 't', 'rogue', 1, 'E')");
  CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 2);  // the row exists, behind H
}

TEST_CASE("the notifier wakes on a committed insert and re-listens after losing its session",
          "[pg][hwm][notify]") {
  PgTestSchema db;
  projd::pg::EventNotifier notifier(db.options());
  CHECK(notifier.Wait(10ms));  // first call establishes LISTEN: "catch up"
  CHECK(notifier.listens() == 1);
  CHECK_FALSE(notifier.Wait(50ms));  // quiet
  std::thread writer([&] {
    db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
            " VALUES ('c', 't', 'x', 1, 'E')");
  });
  CHECK(WaitFor([&] { return notifier.Wait(100ms); }, 10s));
  writer.join();

  // Kill the listening session: the next Wait notices and listens again.
  db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'"
          " AND pid <> pg_backend_pid()");
  CHECK(WaitFor([&] { notifier.Wait(50ms); return notifier.listens() >= 2; }, 10s));
  db.Exec("INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('c', 't', 'x', 2, 'E')");
  CHECK(WaitFor([&] { return notifier.Wait(100ms); }, 10s));
}
