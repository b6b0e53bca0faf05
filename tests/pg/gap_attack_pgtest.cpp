// Attacks on "a reader never skips a committed event" (docs/reading.md "The high-water mark
// H", "The durable proven mark") with writers and operations that stay inside the documented
// writer contract. Each test asserts the correct outcome: every committed event is delivered
// once, in position order. A failing test is a real break; the passing ones are regression
// tests for the PostgreSQL facts the proof rests on.
//
// Same pattern as gap_proof_pgtest.cpp: a follower with a fake clock (GAP_GRACE passes when
// the test says so) and a reader of every partition from position 0, the way
// `projd read --follow --from 0` reads. No fixed sleeps: bounded waits for conditions.
//
// Outcome when written (PostgreSQL 15.18): the two TRUNCATE ... RESTART IDENTITY tests FAIL
// (the stored and the in-memory mark outlive the history they were proven for); the writer
// tests hold. Not testable here (needs a hot standby): a follower on a standby proves every
// gap at once, since the primary's RowExclusiveLocks are not in the standby's pg_locks and
// the standby's sequence shows the WAL-logged value up to 32 ahead of the primary's.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <atomic>
#include <memory>
#include <thread>

#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/reading/pg/pg_event_reader.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "tests/support/fake_clock.h"
#include "tests/support/following_reader.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::HighWaterMarkFollower;
using projd::testing::FakeClock;
using projd::testing::FollowingReader;
using projd::testing::Insert;
using projd::testing::InsertCommitted;
using projd::testing::Joined;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {
// The sequence's last handed-out position (0 before the first).
std::int64_t SequenceLast(const PgTestSchema& db) {
  return db.Scalar<std::int64_t>(
      "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_global_position_seq");
}

// A libpq connection (COPY streaming), closed at scope end.
struct RawConn {
  PGconn* conn;
  explicit RawConn(const std::string& url) : conn(PQconnectdb(url.c_str())) {}
  ~RawConn() { PQfinish(conn); }
  ExecStatusType Exec(const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(r);
    PQclear(r);
    return status;
  }
};
}  // namespace

// ---------------------------------------------------------------------------------------------
// Both TRUNCATE tests below failed against the first version of the durable mark (keyed by
// the table only); the mark now carries the table's history (reading.md).
// The durable proven mark across TRUNCATE ... RESTART IDENTITY (reading.md: "A stored mark
// above the position sequence belongs to an emptied table whose sequence restarted: readers
// ignore it and the next store replaces it"). The stored mark is ignored only while it is
// above the sequence. Once the new history's sequence passes it, before any follower stored a
// lower mark, LoadProvenMark takes it as proven for the NEW positions below it, and a fresh
// follower starts above a gap whose writer is still open.
TEST_CASE("after TRUNCATE RESTART IDENTITY a fresh follower does not start at the old stored mark",
          "[pg][hwm][gap_attack]") {
  PgTestSchema db;
  for (int v = 1; v <= 5; ++v) InsertCommitted(db, "old", v);  // 1..5
  {
    FollowingReader first(db);
    first.Step();
    first.clock.Advance(11s);  // HighWaterMarkFollower::kStoreEvery: the moving mark is stored
    first.Step();
    REQUIRE(first.follower.mark() == 5);
    REQUIRE(db.Scalar<std::int64_t>("SELECT mark FROM projd_proven_marks") == 5);
  }
  db.Exec("TRUNCATE events RESTART IDENTITY");  // the new history starts at 1

  auto open_conn = db.Connect();
  pqxx::work open(*open_conn);
  REQUIRE(Insert(open, "open", 1) == 1);  // 1: a writer inside the contract, still open
  for (int v = 1; v <= 5; ++v) InsertCommitted(db, "new", v);  // 2..6: the sequence passes 5
  REQUIRE(SequenceLast(db) == 6);

  FollowingReader fresh(db);  // a restarted worker, or `projd read --follow --from 0`
  fresh.Step();
  CHECK(fresh.follower.mark() == 0);  // 1 is open: nothing may be read past it
  open.commit();
  fresh.Step();
  fresh.StepsPastGrace();
  CHECK(fresh.delivered == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
}

// The same operation seen by a follower that keeps running across it (a worker during the
// TRUNCATE): its H never goes down, so the new positions 1..5 sit below H with no proof, and a
// reader that starts the new history from 0 (a projection rebuild) passes the open writer. The
// follower then stores a mark above the open gap as soon as the new sequence passes its H,
// which poisons every later follower as in the test above.
TEST_CASE("a follower running across TRUNCATE RESTART IDENTITY does not pass an open writer",
          "[pg][hwm][gap_attack]") {
  PgTestSchema db;
  for (int v = 1; v <= 5; ++v) InsertCommitted(db, "old", v);  // 1..5
  FollowingReader follow(db);
  follow.Step();
  REQUIRE(follow.follower.mark() == 5);

  db.Exec("TRUNCATE events RESTART IDENTITY");
  auto open_conn = db.Connect();
  pqxx::work open(*open_conn);
  REQUIRE(Insert(open, "open", 1) == 1);  // 1, open
  InsertCommitted(db, "new", 1);          // 2
  InsertCommitted(db, "new", 2);          // 3

  // The new history is read from its start (a rebuild of the projection).
  follow.after = 0;
  follow.delivered.clear();
  follow.Step();
  CHECK(follow.follower.mark() == 0);  // 1 is open
  open.commit();
  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 3});
}

// ---------------------------------------------------------------------------------------------
// Lock upgrades. A writer that inserts (its RowExclusiveLock is a fast-path lock) and then
// takes SHARE ROW EXCLUSIVE on events: the strong lock moves every fast-path lock on events
// into the main lock table (lock.c FastPathTransferRelationLocks), so W must be found there.
// A second writer takes SHARE ROW EXCLUSIVE before its INSERT: it holds both modes, and
// pg_locks lists the RowExclusiveLock row the proof filters on.
TEST_CASE("writers that take SHARE ROW EXCLUSIVE on events before or after inserting are delivered",
          "[pg][hwm][gap_attack]") {
  PgTestSchema db;
  FollowingReader follow(db);
  InsertCommitted(db, "before", 1);  // 1

  auto up_conn = db.Connect();
  const int up_pid = up_conn->backendpid();
  pqxx::work up(*up_conn);
  REQUIRE(Insert(up, "upgrade", 1) == 2);  // 2, open
  InsertCommitted(db, "after", 1);         // 3
  up.exec0("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE");
  CHECK(db.Scalar<int>("SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND pid = " +
                       std::to_string(up_pid) + " AND mode = 'RowExclusiveLock' AND granted AND NOT fastpath") == 1);

  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);
  up.commit();
  follow.Step();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 3});

  auto first_conn = db.Connect();
  pqxx::work first(*first_conn);
  first.exec0("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE");
  REQUIRE(Insert(first, "lock-first", 1) == 4);  // 4, open; nobody else can insert meanwhile
  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 3);
  first.commit();
  follow.Step();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 3, 4});
}

// ---------------------------------------------------------------------------------------------
// Subtransactions. The writer's first lock on events is taken inside a PL/pgSQL EXCEPTION
// block (a subtransaction that commits: the lock passes to the parent), then a savepoint
// inserts and rolls back, and another EXCEPTION block inserts and raises (both positions
// burned; the rolled-back subtransactions release only their own hold on the lock). The
// transaction stays open: its committed-to-be position must hold H.
TEST_CASE("a writer whose first insert ran in a committed subtransaction holds H to its end",
          "[pg][hwm][gap_attack]") {
  PgTestSchema db;
  FollowingReader follow(db);
  InsertCommitted(db, "before", 1);  // 1

  auto w_conn = db.Connect();
  pqxx::nontransaction w(*w_conn);
  w.exec0("BEGIN");
  w.exec0("DO $$ BEGIN BEGIN"
          " INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('c', 't', 'in-block', 1, 'E');"
          " EXCEPTION WHEN others THEN NULL; END; END $$");  // 2, kept
  w.exec0("SAVEPOINT s");
  w.exec1(std::string(projd::testing::kInsertEvent).replace(std::string(projd::testing::kInsertEvent).find("$1, $2"), 6, "'savepoint', 1"));  // 3
  w.exec0("ROLLBACK TO SAVEPOINT s");                                                                 // 3 burned
  w.exec0("DO $$ BEGIN BEGIN"
          " INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('c', 't', 'raised', 1, 'E');"
          " RAISE EXCEPTION 'undo'; EXCEPTION WHEN others THEN NULL; END; END $$");  // 4 burned
  REQUIRE(SequenceLast(db) == 4);
  InsertCommitted(db, "after", 1);  // 5

  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);  // 2 is open
  w.exec0("COMMIT");
  follow.Step();
  follow.StepsPastGrace();  // 3 and 4 are proven
  CHECK(follow.follower.mark() == 5);
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 5});
}

// ---------------------------------------------------------------------------------------------
// COPY FROM STDIN that streams slowly: the first row's position is taken (NextCopyFrom
// evaluates the column default) while the client has not sent the rest. DoCopy opened events
// with RowExclusiveLock before.
TEST_CASE("a COPY FROM STDIN that pauses after its first row holds H until it commits",
          "[pg][hwm][gap_attack]") {
  PgTestSchema db;
  FollowingReader follow(db);
  InsertCommitted(db, "before", 1);  // 1

  RawConn copy(db.url());  // default search_path: the table is named by its schema
  REQUIRE(PQstatus(copy.conn) == CONNECTION_OK);
  REQUIRE(copy.Exec("BEGIN") == PGRES_COMMAND_OK);
  REQUIRE(copy.Exec("COPY " + db.schema() +
                    ".events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
                    " FROM STDIN") == PGRES_COPY_IN);
  const std::string row1 = "c\tt\tcopied\t1\tE\n";
  REQUIRE(PQputCopyData(copy.conn, row1.data(), static_cast<int>(row1.size())) == 1);
  REQUIRE(PQflush(copy.conn) == 0);
  REQUIRE(WaitFor([&] { return SequenceLast(db) == 2; }, 10s));  // 2 taken by the COPY
  InsertCommitted(db, "after", 1);                                  // 3

  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);
  const std::string row2 = "c\tt\tcopied\t2\tE\n";
  REQUIRE(PQputCopyData(copy.conn, row2.data(), static_cast<int>(row2.size())) == 1);
  REQUIRE(PQputCopyEnd(copy.conn, nullptr) == 1);
  PGresult* r = PQgetResult(copy.conn);
  CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
  PQclear(r);
  while ((r = PQgetResult(copy.conn)) != nullptr) PQclear(r);
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);  // still open: the COPY's transaction holds 2 and 4
  REQUIRE(copy.Exec("COMMIT") == PGRES_COMMAND_OK);
  follow.Step();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 3, 4});
}

// ---------------------------------------------------------------------------------------------
// Writes through a view (INSTEAD OF trigger) from a client-side prepared statement executed
// often enough that both the client's statement and the trigger's PL/pgSQL statement run
// generic cached plans: the lock on events comes from AcquireExecutorLocks when the plan is
// reused in a new transaction, not from parse analysis.
TEST_CASE("a writer through a view and cached plans holds H until it commits", "[pg][hwm][gap_attack]") {
  PgTestSchema db;
  db.Exec("CREATE VIEW inbox AS SELECT aggregate_id, aggregate_version FROM events");
  db.Exec("CREATE FUNCTION inbox_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          " INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
          " VALUES ('c', 't', NEW.aggregate_id, NEW.aggregate_version, 'E'); RETURN NEW; END $$");
  db.Exec("CREATE TRIGGER inbox_insert INSTEAD OF INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION inbox_insert()");
  FollowingReader follow(db);

  auto w_conn = db.Connect();
  pqxx::nontransaction w(*w_conn);
  w.exec0("SET plan_cache_mode = force_generic_plan");
  w.exec0("PREPARE put(text, int) AS INSERT INTO inbox VALUES ($1, $2)");
  for (int v = 1; v <= 6; ++v) w.exec0("EXECUTE put('cached', " + std::to_string(v) + ")");  // 1..6 committed
  follow.Step();
  REQUIRE(follow.follower.mark() == 6);
  w.exec0("BEGIN");
  w.exec0("EXECUTE put('cached', 7)");  // 7, open
  InsertCommitted(db, "after", 1);       // 8

  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 6);
  w.exec0("COMMIT");
  follow.Step();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
}

// ---------------------------------------------------------------------------------------------
// A migration that holds ACCESS EXCLUSIVE on events and inserts an event of its own: the
// observation cannot run (its AccessShareLock waits; the statement's snapshot is taken after
// the lock is granted), so H cannot pass the migration's position; it is read after COMMIT.
TEST_CASE("a migration holding ACCESS EXCLUSIVE that inserts an event is delivered", "[pg][hwm][gap_attack]") {
  PgTestSchema db;
  FollowingReader follow(db);
  InsertCommitted(db, "before", 1);  // 1
  follow.Step();
  REQUIRE(follow.follower.mark() == 1);

  auto m_conn = db.Connect();
  pqxx::work migration(*m_conn);
  migration.exec0("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
  migration.exec0("ALTER TABLE events ADD COLUMN attack_note TEXT");
  REQUIRE(Insert(migration, "migrated", 1) == 2);  // 2, open

  follow.clock.Advance(10s);  // far past the grace
  std::atomic<bool> advanced{false};
  Joined observing;
  observing.thread = std::thread([&] { advanced = follow.follower.Advance(); });
  // The follower's observation waits on the migration's lock (no other reader of this
  // schema's events runs).
  CHECK(WaitFor(
      [&] {
        return db.Scalar<int>("SELECT count(*) FROM pg_locks WHERE locktype = 'relation'"
                              " AND relation = 'events'::regclass AND NOT granted") >= 1;
      },
      10s));
  migration.commit();
  observing.thread.join();
  CHECK(advanced);
  follow.Step();
  CHECK(follow.follower.mark() == 2);
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2});
}
