// The gap proof against writers that break the old xid-based argument, and against
// transactions that can never write this events table (docs/reading.md "The high-water
// mark H"). Each test drives a follower with a fake clock (GAP_GRACE passes when the test
// says so) and reads every event up to H the way `projd read --follow --from 0` does.
#include <catch2/catch.hpp>

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
// An idempotent writer: the same event_id on every attempt.
constexpr const char* kInsertOnce =
    "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type, event_id)"
    " VALUES ('c', 't', 'retried', 1, 'E', '6a0c1c52-8d4e-4a55-9b0e-1c2d3e4f5a6b')"
    " ON CONFLICT (event_id) DO NOTHING";

// Waits (bounded) until backend `pid` waits on a lock of the given kind.
bool WaitsOnLock(const PgTestSchema& db, int pid, const std::string& wait_event) {
  return WaitFor(
      [&] {
        return db.Scalar<int>("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid) +
                              " AND wait_event_type = 'Lock' AND wait_event = '" + wait_event + "'") == 1;
      },
      10s);
}

// Runs a statement outside any transaction block (COMMIT PREPARED, CREATE DATABASE).
void ExecOutside(const PgTestSchema& db, const std::string& sql) {
  auto c = db.Connect();
  pqxx::nontransaction(*c).exec0(sql);
}

// The same server, another database.
std::string UrlOfDatabase(const std::string& url, const std::string& database) {
  const auto query = url.find('?');
  const auto slash = url.rfind('/', query);
  return url.substr(0, slash + 1) + database + (query == std::string::npos ? "" : url.substr(query));
}
}  // namespace

TEST_CASE("an ON CONFLICT retry that waits on the first attempt after taking its position is delivered",
          "[pg][hwm][gap_proof]") {
  PgTestSchema db;
  FollowingReader follow(db);
  InsertCommitted(db, "before", 1);  // 1

  auto retry_conn = db.Connect();
  const int retry_pid = retry_conn->backendpid();
  pqxx::work retry(*retry_conn);
  Joined retrying;
  auto first_conn = db.Connect();
  pqxx::work first(*first_conn);
  first.exec(kInsertOnce);  // 2: the first attempt, still open
  // 3: the retry takes its position from the column default, then waits on the arbiter
  // check for the first attempt, with no transaction id of its own.
  retrying.thread = std::thread([&] { retry.exec(kInsertOnce); });
  CHECK(WaitsOnLock(db, retry_pid, "transactionid"));
  InsertCommitted(db, "after", 1);  // 4
  InsertCommitted(db, "after", 2);  // 5

  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);
  first.abort();  // the first attempt fails; the retry inserts 3 and gets an id
  retrying.thread.join();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);  // the retry was a writer when 2's and 3's proofs began
  const auto status = follow.follower.Status();
  CHECK(status.held);
  REQUIRE(status.held_by.has_value());
  CHECK(status.held_by->pid == retry_pid);

  retry.commit();
  follow.Step();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 3, 4, 5});
}

TEST_CASE("a writer whose BEFORE INSERT trigger waits on a lock is delivered", "[pg][hwm][gap_proof]") {
  PgTestSchema db;
  const std::string key = std::to_string(db.Scalar<std::int64_t>("SELECT hashtext(current_schema())"));
  db.Exec("CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          " PERFORM pg_advisory_xact_lock(" + key + "); RETURN NEW; END $$");
  db.Exec("CREATE TRIGGER a_gate BEFORE INSERT ON events FOR EACH ROW"
          " WHEN (NEW.aggregate_id = 'gated') EXECUTE FUNCTION gate()");
  FollowingReader follow(db);
  InsertCommitted(db, "before", 1);  // 1

  auto slow_conn = db.Connect();
  const int slow_pid = slow_conn->backendpid();
  pqxx::work slow(*slow_conn);
  std::int64_t slow_position = 0;
  Joined writing;
  auto gate_conn = db.Connect();
  pqxx::work gate(*gate_conn);
  gate.exec("SELECT pg_advisory_xact_lock(" + key + ")");
  writing.thread = std::thread([&] { slow_position = Insert(slow, "gated", 1); });  // 2, then waits
  CHECK(WaitsOnLock(db, slow_pid, "advisory"));
  InsertCommitted(db, "after", 1);  // 3

  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);
  gate.abort();  // the trigger goes on; the writer gets an id, its transaction stays open
  writing.thread.join();
  CHECK(slow_position == 2);
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);
  slow.commit();
  follow.Step();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("transactions that cannot write these events do not hold the mark", "[pg][hwm][gap_proof]") {
  PgTestSchema db;
  // A long write transaction in another database of the cluster (holds the cluster-wide xmin).
  const std::string other = db.schema() + "_other";
  ExecOutside(db, "CREATE DATABASE " + other);
  auto other_conn = std::make_unique<pqxx::connection>(UrlOfDatabase(db.url(), other));
  auto other_tx = std::make_unique<pqxx::work>(*other_conn);
  other_tx->exec0("CREATE TABLE batch (i int)");
  other_tx->exec0("INSERT INTO batch VALUES (1)");
  // A report in this database: pg_dump's repeatable-read snapshot and share lock on events.
  auto report_conn = db.Connect();
  pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> report(*report_conn);
  report.exec0("LOCK TABLE events IN ACCESS SHARE MODE");
  report.exec1("SELECT count(*) FROM events");
  // A batch job in this database with a transaction id that writes another table.
  auto job_conn = db.Connect();
  pqxx::work job(*job_conn);
  job.exec0("INSERT INTO projd_schema_migrations (version, name, checksum) VALUES (-1, 'job', '')");

  {
    auto c = db.Connect();
    pqxx::work tx(*c);
    Insert(tx, "gone", 1);  // 1 rolls back: an old gap
    tx.abort();
  }
  InsertCommitted(db, "kept", 1);  // 2
  FollowingReader follow(db);
  follow.Step();
  CHECK(follow.follower.mark() == 0);  // inside the grace
  follow.clock.Advance(1s);
  follow.Step();  // the proof: no writer of events runs, so the next snapshot decides
  CHECK(follow.follower.mark() == 2);
  CHECK(follow.delivered == std::vector<std::int64_t>{2});

  job.abort();
  report.abort();
  other_tx->abort();
  other_tx.reset();
  other_conn.reset();
  ExecOutside(db, "DROP DATABASE " + other);
}

TEST_CASE("a restarted follower starts at the stored proven mark: old gaps are not proven again",
          "[pg][hwm][gap_proof]") {
  PgTestSchema db;
  {
    auto c = db.Connect();
    pqxx::work tx(*c);
    Insert(tx, "gone", 1);  // 1 rolls back
    tx.abort();
  }
  InsertCommitted(db, "kept", 1);  // 2
  {
    FollowingReader first(db);
    first.Step();
    first.clock.Advance(1s);
    first.Step();
    REQUIRE(first.follower.mark() == 2);
    CHECK(first.follower.Status().stored_mark == 2);  // a proven gap is stored at once
  }
  CHECK(db.Scalar<std::int64_t>("SELECT mark FROM projd_proven_marks") == 2);
  InsertCommitted(db, "kept", 2);  // 3
  // A writer of events is open while the worker restarts; the old gap costs nothing.
  auto open_conn = db.Connect();
  pqxx::work open(*open_conn);
  const auto open_position = Insert(open, "open", 1);  // 4
  InsertCommitted(db, "kept", 3);                      // 5

  FollowingReader restarted(db);
  restarted.Step();  // no clock advance: nothing waits for a grace
  CHECK(restarted.follower.mark() == 3);
  CHECK(restarted.delivered == std::vector<std::int64_t>{2, 3});
  open.commit();
  restarted.Step();
  CHECK(restarted.follower.mark() == 5);
  CHECK(restarted.delivered == std::vector<std::int64_t>{2, 3, open_position, 5});
}

TEST_CASE("the stored proven mark never goes down and belongs to one history of the table",
          "[pg][hwm][gap_proof]") {
  PgTestSchema db;
  projd::pg::PgPositionSource source(db.options());
  for (int v = 1; v <= 10; ++v) InsertCommitted(db, "a", v);
  const auto first = source.LoadProvenMark();
  CHECK(first.mark == 0);
  CHECK_FALSE(first.history.empty());
  source.SaveProvenMark(8, first.history);
  source.SaveProvenMark(5, first.history);
  CHECK(source.LoadProvenMark().mark == 8);

  db.Exec("TRUNCATE events RESTART IDENTITY");
  for (int v = 1; v <= 12; ++v) InsertCommitted(db, "b", v);  // the sequence passes 8 again
  const auto second = source.LoadProvenMark();
  CHECK(second.history != first.history);
  CHECK(second.mark == 0);                  // 8 was proven for the old positions
  source.SaveProvenMark(11, first.history);  // a follower still in the old history: ignored
  CHECK(source.LoadProvenMark().mark == 0);
  source.SaveProvenMark(3, second.history);  // replaces the old history's row
  CHECK(source.LoadProvenMark().mark == 3);
  CHECK(db.Scalar<std::int64_t>("SELECT count(*) FROM projd_proven_marks") == 1);
}

TEST_CASE("a two-phase writer holds the mark while prepared and is delivered after COMMIT PREPARED",
          "[pg][hwm][gap_proof]") {
  PgTestSchema db;
  REQUIRE(db.Scalar<int>("SELECT current_setting('max_prepared_transactions')::int") > 0);
  const std::string gid = db.schema() + "_2pc";
  // Whatever happens below, no prepared transaction outlives the test.
  struct Cleanup {
    const PgTestSchema& db;
    std::string gid;
    ~Cleanup() {
      if (db.Scalar<int>("SELECT count(*) FROM pg_prepared_xacts WHERE gid = '" + gid + "'") > 0) {
        ExecOutside(db, "ROLLBACK PREPARED '" + gid + "'");
      }
    }
  } cleanup{db, gid};
  FollowingReader follow(db);
  InsertCommitted(db, "before", 1);  // 1
  {
    auto c = db.Connect();
    pqxx::nontransaction n(*c);
    n.exec0("BEGIN");
    n.exec0("SET LOCAL projd.notify = off");  // PREPARE is refused after NOTIFY (event-store.md)
    n.exec1(std::string(projd::testing::kInsertEvent).replace(std::string(projd::testing::kInsertEvent).find("$1, $2"), 6, "'prepared', 1"));  // 2
    n.exec0("PREPARE TRANSACTION '" + gid + "'");
  }  // its session ends; the prepared transaction keeps its locks
  InsertCommitted(db, "after", 1);  // 3

  follow.Step();
  follow.StepsPastGrace();
  CHECK(follow.follower.mark() == 1);
  const auto status = follow.follower.Status();
  CHECK(status.held);
  REQUIRE(status.held_by.has_value());
  CHECK(status.held_by->state == "prepared");
  CHECK(status.held_by->application_name == gid);

  ExecOutside(db, "COMMIT PREPARED '" + gid + "'");
  follow.Step();
  CHECK(follow.delivered == std::vector<std::int64_t>{1, 2, 3});
}
