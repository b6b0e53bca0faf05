// projd_wait() and projd_wait_lagging() (migrations/0011_projd_wait.sql) and PgProgressStore
// over them, against a real server: the rule (every partition of the active lane at the
// position), the timeout, new commits seen while waiting, the replica set picked when none is
// named, and the guards: another role and a hostile search_path, REPEATABLE READ, a wait
// inside the transaction that wrote the event.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <iostream>
#include <string>

#include <pqxx/pqxx>

#include "orchestrator/common/errors.h"
#include "orchestrator/config/database_url.h"
#include "orchestrator/waits/pg/pg_progress_store.h"
#include "tests/support/pg_test_schema.h"

using namespace std::chrono_literals;
using projd::testing::PgTestSchema;

namespace {

void ReplicaSet(const PgTestSchema& db, const std::string& name, int partitions) {
  db.Exec("INSERT INTO projd_replica_sets (name, partitions) VALUES ('" + name + "', " + std::to_string(partitions) +
          ")");
}

// Checkpoints of `lane` in replica set `rs`, one per partition, at the given positions.
void Checkpoints(const PgTestSchema& db, const std::string& rs, const std::string& lane,
                 const std::vector<std::int64_t>& positions) {
  for (std::size_t p = 0; p < positions.size(); ++p) {
    db.Exec("INSERT INTO projd_checkpoints (replica_set, projection, partition, position) VALUES ('" + rs + "', '" +
            lane + "', " + std::to_string(p) + ", " + std::to_string(positions[p]) +
            ") ON CONFLICT (replica_set, projection, partition) DO UPDATE SET position = EXCLUDED.position");
  }
}

bool Wait(const PgTestSchema& db, const std::string& args) {
  return db.Scalar<bool>("SELECT projd_wait(" + args + ")");
}

std::string ErrorOf(const PgTestSchema& db, const std::string& sql) {
  try {
    db.Exec(sql);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A role an application would use: no privilege on projd's tables, only USAGE on its schema.
class AppRole {
 public:
  explicit AppRole(const PgTestSchema& db) : db_(db), name_(db.schema() + "_app") {
    auto c = db_.Connect();
    pqxx::work tx(*c);
    tx.exec0("CREATE ROLE " + tx.quote_name(name_) + " LOGIN NOSUPERUSER PASSWORD 'app-secret'");
    tx.exec0("GRANT USAGE ON SCHEMA " + tx.quote_name(db_.schema()) + " TO " + tx.quote_name(name_));
    tx.exec0("CREATE SCHEMA " + tx.quote_name(name_) + " AUTHORIZATION " + tx.quote_name(name_));
    tx.commit();
  }
  ~AppRole() {
    try {
      auto c = db_.Connect();
      pqxx::work tx(*c);
      tx.exec0("DROP OWNED BY " + tx.quote_name(name_));
      tx.exec0("DROP ROLE " + tx.quote_name(name_));
      tx.commit();
    } catch (const std::exception& e) {
      std::cerr << "projd_wait: cannot drop role " << name_ << ": " << e.what() << "\n";
    }
  }
  const std::string& name() const { return name_; }
  std::unique_ptr<pqxx::connection> Connect() const {
    std::string url = projd::WithConnectionParameter(db_.url(), "user", name_);
    url = projd::WithConnectionParameter(url, "password", "app-secret");
    return std::make_unique<pqxx::connection>(url);
  }

 private:
  const PgTestSchema& db_;
  std::string name_;
};

}  // namespace

TEST_CASE("projd_wait is true once every partition of the projection reached the position",
          "[pg][wait]") {
  PgTestSchema db;
  ReplicaSet(db, "rs", 4);
  Checkpoints(db, "rs", "p", {10, 10, 10});  // partition 3 has no checkpoint row yet
  CHECK_FALSE(Wait(db, "'p', 5, '0s'"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_wait_lagging('p', 5) WHERE partition_no = 3 AND checkpoint IS NULL") == 1);
  Checkpoints(db, "rs", "p", {10, 10, 10, 4});
  CHECK_FALSE(Wait(db, "'p', 5, '0s'"));
  Checkpoints(db, "rs", "p", {10, 10, 10, 5});
  CHECK(Wait(db, "'p', 5, '0s'"));
  CHECK(Wait(db, "'p', 5, '0s', 'rs'"));
  CHECK_FALSE(Wait(db, "'p', 11, '0s'"));
  CHECK(db.Scalar<int>("SELECT count(*) FROM projd_wait_lagging('p', 11)") == 4);
  // Another replica set of the same schema is not this one.
  CHECK_FALSE(Wait(db, "'p', 5, '0s', 'other'"));
}

TEST_CASE("projd_wait sees checkpoints committed while it waits", "[pg][wait]") {
  PgTestSchema db;
  ReplicaSet(db, "rs", 2);
  Checkpoints(db, "rs", "p", {1, 1});
  auto waiting = std::async(std::launch::async, [&] { return Wait(db, "'p', 7, '60s'"); });
  CHECK(waiting.wait_for(300ms) == std::future_status::timeout);  // still waiting: not processed
  Checkpoints(db, "rs", "p", {7, 9});
  // True, not false: it saw the commit long before its 60 s ran out.
  CHECK(waiting.get());
}

TEST_CASE("projd_wait returns false at its timeout", "[pg][wait]") {
  PgTestSchema db;
  ReplicaSet(db, "rs", 2);
  Checkpoints(db, "rs", "p", {3, 3});
  const auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(Wait(db, "'p', 4, '400ms'"));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= 400ms);
  CHECK(took < 30s);  // a bound, not a speed: it ends at its timeout, not never
  CHECK_THAT(ErrorOf(db, "SELECT projd_wait('p', 4, '-1s')"), Catch::Contains("timeout must be an interval >= 0"));
}

TEST_CASE("projd_wait follows the active version, and NAME@N names one", "[pg][wait][versions]") {
  PgTestSchema db;
  ReplicaSet(db, "rs", 2);
  Checkpoints(db, "rs", "p", {50, 50});
  Checkpoints(db, "rs", "p@2", {20, 20});
  db.Exec("INSERT INTO projd_projection_versions (replica_set, projection, version, state) VALUES"
          " ('rs', 'p', 1, 'retired'), ('rs', 'p', 2, 'active')");
  CHECK(Wait(db, "'p', 20, '0s'"));
  CHECK_FALSE(Wait(db, "'p', 30, '0s'"));  // version 2 is at 20, whatever version 1 did
  CHECK(Wait(db, "'p@1', 30, '0s'"));
  CHECK_FALSE(Wait(db, "'p@2', 30, '0s'"));
  CHECK(db.Scalar<std::string>("SELECT DISTINCT lane FROM projd_wait_lagging('p', 30)") == "p@2");
  CHECK_THAT(ErrorOf(db, "SELECT projd_wait('p@x', 1, '0s')"), Catch::Contains("is not NAME or NAME@N"));
}

TEST_CASE("projd_wait without a replica set takes the only one that has the projection", "[pg][wait]") {
  PgTestSchema db;
  // None has it yet: not processed (workers may still be starting), not an error.
  CHECK_FALSE(Wait(db, "'p', 1, '0s'"));
  ReplicaSet(db, "a", 1);
  ReplicaSet(db, "b", 1);
  Checkpoints(db, "a", "p", {5});
  Checkpoints(db, "b", "q", {1});
  CHECK(Wait(db, "'p', 5, '0s'"));
  Checkpoints(db, "b", "p@2", {1});
  CHECK_THAT(ErrorOf(db, "SELECT projd_wait('p', 5, '0s')"), Catch::Contains("runs in replica sets a, b"));
  CHECK(Wait(db, "'p', 5, '0s', 'a'"));
}

TEST_CASE("projd_wait under REPEATABLE READ refuses to wait, and answers when already processed",
          "[pg][wait]") {
  PgTestSchema db;
  ReplicaSet(db, "rs", 1);
  Checkpoints(db, "rs", "p", {5});
  auto c = db.Connect();
  for (const std::string level : {"REPEATABLE READ", "SERIALIZABLE"}) {
    pqxx::work tx(*c);
    tx.exec0("SET TRANSACTION ISOLATION LEVEL " + level);
    CHECK(tx.exec1("SELECT projd_wait('p', 5, '10s')")[0].as<bool>());
    try {
      tx.exec1("SELECT projd_wait('p', 6, '10s')");
      FAIL("projd_wait under " << level << " did not fail");
    } catch (const pqxx::sql_error& e) {
      CHECK_THAT(e.what(), Catch::Contains("a " + level + " transaction would never see it progress"));
      CHECK(e.sqlstate() == "55000");
    }
  }
}

TEST_CASE("projd_wait for an event of its own open transaction fails instead of waiting", "[pg][wait]") {
  PgTestSchema db;
  ReplicaSet(db, "rs", 1);
  Checkpoints(db, "rs", "p", {0});
  auto c = db.Connect();
  pqxx::work tx(*c);
  const auto position = tx.exec1(
      "INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
      " VALUES ('b', 't', 'a-1', 1, 'Opened') RETURNING global_position")[0].as<std::int64_t>();
  try {
    tx.exec1("SELECT projd_wait('p', " + std::to_string(position) + ", '10s')");
    FAIL("projd_wait inside the writing transaction did not fail");
  } catch (const pqxx::sql_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("was written by this transaction"));
  }
}

TEST_CASE("projd_wait works for another role with its own search_path, and nothing there hijacks it",
          "[pg][wait][security]") {
  PgTestSchema db;
  AppRole app(db);
  ReplicaSet(db, "rs", 2);
  Checkpoints(db, "rs", "p", {3, 3});
  db.Exec("INSERT INTO projd_projection_pauses (replica_set, projection, partition) VALUES ('rs', 'p', 1)");
  auto c = app.Connect();
  {
    // The app's own schema first, with look-alike tables that claim everything is processed.
    pqxx::work tx(*c);
    const auto own = tx.quote_name(app.name());
    tx.exec0("CREATE TABLE " + own + ".projd_replica_sets (name TEXT, partitions INT)");
    tx.exec0("INSERT INTO " + own + ".projd_replica_sets VALUES ('rs', 1)");
    tx.exec0("CREATE TABLE " + own +
             ".projd_checkpoints (replica_set TEXT, projection TEXT, partition INT, position BIGINT)");
    tx.exec0("INSERT INTO " + own + ".projd_checkpoints (replica_set, projection, partition, position)"
             " VALUES ('rs', 'p', 0, 1000), ('rs', 'p', 1, 1000)");
    tx.exec0("CREATE TEMP TABLE projd_checkpoints (LIKE " + own + ".projd_checkpoints)");
    tx.exec0("INSERT INTO pg_temp.projd_checkpoints SELECT * FROM " + own + ".projd_checkpoints");
    tx.commit();
  }
  const std::string fn = pqxx::work(*c).quote_name(db.schema()) + ".projd_wait";
  pqxx::nontransaction tx(*c);
  tx.exec0("SET search_path = " + tx.quote_name(app.name()) + ", public");
  CHECK_FALSE(tx.exec1("SELECT " + fn + "('p', 10, '0s')")[0].as<bool>());
  CHECK(tx.exec1("SELECT " + fn + "('p', 3, '0s', replica_set => 'rs')")[0].as<bool>());
  // The app cannot read projd's tables itself; the function can (SECURITY DEFINER).
  CHECK_THROWS(tx.exec1("SELECT count(*) FROM " + tx.quote_name(db.schema()) + ".projd_checkpoints"));
  const auto lagging = tx.exec("SELECT partition_no, checkpoint, paused FROM " + tx.quote_name(db.schema()) +
                               ".projd_wait_lagging('p', 10) ORDER BY partition_no");
  REQUIRE(lagging.size() == 2);
  CHECK(lagging[0][1].as<std::int64_t>() == 3);
  CHECK_FALSE(lagging[0][2].as<bool>());
  CHECK(lagging[1][2].as<bool>());  // the pause row covers partition 1
}

TEST_CASE("PgProgressStore reports the partitions behind with their owners", "[pg][wait]") {
  PgTestSchema db;
  ReplicaSet(db, "rs", 3);
  Checkpoints(db, "rs", "p", {9, 4});
  db.Exec("INSERT INTO projd_assignments (replica_set, partition, generation, worker_id, worker_name)"
          " VALUES ('rs', 1, 1, 'id-1', 'w1')");
  db.Exec("INSERT INTO projd_partition_states (replica_set, projection, partition, worker_id, state)"
          " VALUES ('rs', 'p', 1, 'id-1', 'stopped')");
  projd::pg::PgProgressStore store(db.options());
  auto progress = store.Check({"p", 5, "rs"});
  CHECK_FALSE(progress.processed());
  CHECK(progress.lane == "p");
  REQUIRE(progress.behind.size() == 2);
  CHECK(progress.behind[0].partition == 1);
  CHECK(progress.behind[0].checkpoint == 4);
  CHECK(progress.behind[0].owner == "w1");
  CHECK(progress.behind[0].state == "stopped");
  CHECK(progress.behind[1].partition == 2);
  CHECK_FALSE(progress.behind[1].checkpoint.has_value());
  CHECK(progress.behind[1].owner.empty());
  CHECK(progress.behind[1].state.empty());
  Checkpoints(db, "rs", "p", {9, 5, 5});
  CHECK(store.Check({"p", 5, "rs"}).processed());
  // A replica set no worker registered: not processed, and said so.
  progress = store.Check({"p", 1, "nope"});
  CHECK_FALSE(progress.processed());
  CHECK_FALSE(progress.replica_set_known);
}
