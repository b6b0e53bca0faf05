// The writer contract for clients other than projd (docs/event-store.md, "Writing from other
// clients"): a plain INSERT from a non-superuser role with its own search_path, into a projd
// schema that is not on that path, stores the right partition hash and wakes the readers;
// functions and operators the writer's path would find instead of pg_catalog's or projd's
// never run; and a two-phase writer can PREPARE once it opts out of the wake-up.
#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "orchestrator/config/database_url.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/reading/partitioning.h"
#include "orchestrator/pg/event_notifier.h"
#include "orchestrator/reading/pg/pg_position_source.h"
#include "tests/support/fake_clock.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {

constexpr const char* kPassword = "writer-contract-secret";

// A role as a foreign writer would get it: LOGIN, not a superuser, and only the grants the
// contract names. Dropped with everything granted to or owned by it (its planted schema).
class WriterRole {
 public:
  explicit WriterRole(const PgTestSchema& db) : db_(db), name_(db.schema() + "_writer") {
    auto c = db_.Connect();
    pqxx::work tx(*c);
    const auto role = tx.quote_name(name_);
    const auto schema = tx.quote_name(db_.schema());
    tx.exec0("CREATE ROLE " + role + " LOGIN NOSUPERUSER PASSWORD " + tx.quote(kPassword));
    tx.exec0("GRANT USAGE ON SCHEMA " + schema + " TO " + role);
    tx.exec0("GRANT INSERT ON " + schema + ".events TO " + role);
    tx.exec0("GRANT USAGE ON SEQUENCE " + schema + ".events_global_position_seq TO " + role);
    tx.commit();
  }
  ~WriterRole() {
    try {
      auto c = db_.Connect();
      pqxx::work tx(*c);
      tx.exec0("DROP OWNED BY " + tx.quote_name(name_));
      tx.exec0("DROP ROLE " + tx.quote_name(name_));
      tx.commit();
    } catch (const std::exception& e) {
      std::cerr << "writer_contract: cannot drop role " << name_ << ": " << e.what() << "\n";
    }
  }
  WriterRole(const WriterRole&) = delete;
  WriterRole& operator=(const WriterRole&) = delete;

  const std::string& name() const { return name_; }

  // A session of this role with the server's default search_path ("$user", public).
  std::unique_ptr<pqxx::connection> Connect() const {
    std::string url = projd::WithConnectionParameter(db_.url(), "user", name_);
    url = projd::WithConnectionParameter(url, "password", kPassword);
    url = projd::WithConnectionParameter(url, "application_name", "projd-test-writer");
    return std::make_unique<pqxx::connection>(url);
  }

 private:
  const PgTestSchema& db_;
  std::string name_;
};

// Rolls a prepared transaction back if a test leaves it behind (a failed check between
// PREPARE and COMMIT PREPARED): it would hold its locks and the readers' high-water mark
// for every later test of the server.
class PreparedTransactionGuard {
 public:
  PreparedTransactionGuard(const PgTestSchema& db, std::string gid) : db_(db), gid_(std::move(gid)) {}
  ~PreparedTransactionGuard() {
    try {
      auto c = db_.Connect();
      pqxx::nontransaction tx(*c);
      if (tx.exec_params1("SELECT count(*) FROM pg_prepared_xacts WHERE gid = $1", gid_)[0].as<int>() > 0) {
        tx.exec0("ROLLBACK PREPARED " + tx.quote(gid_));
      }
    } catch (const std::exception& e) {
      std::cerr << "writer_contract: cannot roll back prepared transaction " << gid_ << ": " << e.what()
                << "\n";
    }
  }
  PreparedTransactionGuard(const PreparedTransactionGuard&) = delete;
  PreparedTransactionGuard& operator=(const PreparedTransactionGuard&) = delete;

  const std::string& gid() const { return gid_; }

 private:
  const PgTestSchema& db_;
  std::string gid_;
};

struct Notification {
  std::string payload;
  int backend_pid;
};

// Everything that arrives on one channel, in delivery order (commit order across
// transactions), with the sending backend's pid. LISTENs on construction.
class ChannelListener final : public pqxx::notification_receiver {
 public:
  ChannelListener(pqxx::connection_base& c, const std::string& channel)
      : pqxx::notification_receiver(c, channel) {}
  void operator()(const std::string& payload, int backend_pid) override {
    received.push_back({payload, backend_pid});
  }
  // Waits up to `timeout` until a notification from backend `pid` has arrived.
  bool WaitFrom(int pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      conn().get_notifs();
      for (const auto& n : received) {
        if (n.backend_pid == pid) return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      conn().await_notification(0, 100'000);
    }
  }
  int CountFrom(int pid) const {
    int n = 0;
    for (const auto& r : received) n += r.backend_pid == pid ? 1 : 0;
    return n;
  }
  std::vector<Notification> received;
};

std::string InsertSql(const PgTestSchema& db, pqxx::transaction_base& tx) {
  return "INSERT INTO " + tx.quote_name(db.schema()) +
         ".events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
         " VALUES ('writer', 'account', $1, $2, 'Opened')";
}

// One statement outside any libpqxx transaction object, so that BEGIN ... PREPARE
// TRANSACTION spans several calls exactly as a two-phase writer sends them.
void Run(pqxx::connection& c, const std::string& sql) { pqxx::nontransaction(c).exec0(sql); }

// Inserts one event (version 1) for `id`, inside whatever transaction block `c` is in.
void Insert(const PgTestSchema& db, pqxx::connection& c, const std::string& id) {
  pqxx::nontransaction tx(c);
  tx.exec_params0(InsertSql(db, tx), id, 1);
}

// Every stored event's partition_hash equals the C++ Fnv1a32 and projd_fnv1a32 of its id.
void CheckStoredHashes(const PgTestSchema& db, std::size_t expected_rows) {
  const auto rows = db.Exec(
      "SELECT aggregate_id, partition_hash, projd_fnv1a32(aggregate_id) FROM events ORDER BY global_position");
  REQUIRE(rows.size() == expected_rows);
  for (const auto& r : rows) {
    const auto id = r[0].as<std::string>();
    INFO("aggregate_id '" << id << "'");
    REQUIRE_FALSE(r[1].is_null());
    CHECK(r[1].as<std::int64_t>() == static_cast<std::int64_t>(projd::Fnv1a32(id)));
    CHECK(r[2].as<std::int64_t>() == static_cast<std::int64_t>(projd::Fnv1a32(id)));
  }
}

// ASCII, empty, multi-byte UTF-8 ("Zoë-Ω-日本") and long aggregate ids.
std::vector<std::string> AggregateIds() {
  return {"user-alice", "", "Zo\xC3\xAB-\xCE\xA9-\xE6\x97\xA5\xE6\x9C\xAC", std::string(300, 'x')};
}

// Objects a writer can create in its own schema under the names projd's function bodies
// use. Each raises, so the insert fails if one of them runs.
constexpr const char* kPlantedSql = R"sql(
CREATE FUNCTION planted_fail() RETURNS void LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted object ran'; END $$;
CREATE FUNCTION projd_fnv1a32(t text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN 0; END $$;
-- Wins against pg_catalog.convert_to(text, name) for a 'UTF8' literal even when
-- pg_catalog comes first: text is the preferred type for an unknown literal.
CREATE FUNCTION convert_to(t text, e text) RETURNS bytea LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN ''; END $$;
CREATE FUNCTION convert_to(t text, e name) RETURNS bytea LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN ''; END $$;
CREATE FUNCTION length(b bytea) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN 0; END $$;
CREATE FUNCTION get_byte(b bytea, i integer) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN 0; END $$;
CREATE FUNCTION pg_notify(c text, p text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); END $$;
CREATE FUNCTION left(t text, n integer) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN ''; END $$;
CREATE FUNCTION current_setting(n text, missing_ok boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN ''; END $$;
CREATE FUNCTION planted_i8i8(a bigint, b bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN 0; END $$;
CREATE FUNCTION planted_i8i4(a bigint, b integer) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN 0; END $$;
CREATE FUNCTION planted_i4i4(a integer, b integer) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN 0; END $$;
CREATE FUNCTION planted_tt_bool(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN false; END $$;
CREATE FUNCTION planted_tt_text(a text, b text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM planted_fail(); RETURN ''; END $$;
CREATE OPERATOR # (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = planted_i8i8);
CREATE OPERATOR & (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = planted_i8i8);
CREATE OPERATOR * (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = planted_i8i4);
CREATE OPERATOR - (LEFTARG = integer, RIGHTARG = integer, FUNCTION = planted_i4i4);
CREATE OPERATOR <> (LEFTARG = text, RIGHTARG = text, FUNCTION = planted_tt_bool);
CREATE OPERATOR || (LEFTARG = text, RIGHTARG = text, FUNCTION = planted_tt_text);
)sql";

// Runs `sql` on `c` and requires that a planted object ran (the plant is effective for an
// unqualified name under the session's search_path).
void RequirePlantedRuns(pqxx::connection& c, const std::string& sql) {
  INFO(sql);
  pqxx::work tx(c);
  REQUIRE_THROWS_WITH(tx.exec(sql), Catch::Contains("planted object ran"));
}

}  // namespace

TEST_CASE("a non-superuser writer with its default search_path inserts into a projd schema",
          "[pg][writer_contract]") {
  PgTestSchema db;
  auto listen_conn = db.Connect();
  ChannelListener listener(*listen_conn, projd::pg::EventNotifier::ChannelFor(db.schema()));
  WriterRole role(db);
  // As in a database whose default privileges withhold EXECUTE: the contract's grants suffice.
  db.Exec("REVOKE EXECUTE ON FUNCTION projd_fnv1a32(text), projd_events_set_partition_hash(),"
          " projd_events_notify() FROM PUBLIC");
  auto writer = role.Connect();

  {
    pqxx::work tx(*writer);
    const auto who = tx.exec1("SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
                              " current_setting('search_path')");
    REQUIRE(who[0].as<std::string>() == role.name());
    REQUIRE_FALSE(who[1].as<bool>());
    REQUIRE(who[2].as<std::string>() == "\"$user\", public");  // projd's schema is not on it
    const auto insert = InsertSql(db, tx);
    for (const auto& id : AggregateIds()) tx.exec_params0(insert, id, 1);
    tx.commit();
  }
  CheckStoredHashes(db, AggregateIds().size());
  CHECK(db.Scalar<std::int64_t>("SELECT partition_hash % 4 FROM events WHERE aggregate_id = 'user-alice'") == 3);

  // One notification for the committed transaction (statement-level trigger: one per INSERT),
  // sent by the writer's own backend.
  const int writer_pid = writer->backendpid();
  REQUIRE(listener.WaitFrom(writer_pid, 10s));
  CHECK(listener.received.front().payload.empty());

  SECTION("a NULL aggregate_id is still reported by the NOT NULL constraint") {
    pqxx::work tx(*writer);
    CHECK_THROWS_AS(tx.exec_params0(InsertSql(db, tx), nullptr, 1), pqxx::not_null_violation);
  }
}

TEST_CASE("functions and operators planted in the writer's search_path never run in projd's triggers",
          "[pg][writer_contract]") {
  PgTestSchema db;
  auto listen_conn = db.Connect();
  ChannelListener listener(*listen_conn, projd::pg::EventNotifier::ChannelFor(db.schema()));
  WriterRole role(db);
  db.Exec("CREATE SCHEMA " + role.name() + " AUTHORIZATION " + role.name());
  db.Exec("GRANT SELECT, UPDATE (aggregate_id) ON events TO " + role.name());
  auto writer = role.Connect();
  {
    pqxx::work tx(*writer);  // "$user" comes first: the objects land in the writer's schema
    tx.exec(kPlantedSql);
    tx.commit();
  }
  // Even with pg_catalog searched first, the convert_to overload wins.
  RequirePlantedRuns(*writer, "SELECT convert_to('x', 'UTF8')");
  RequirePlantedRuns(*writer, "SELECT projd_fnv1a32('x')");

  std::string search_path;
  SECTION("the writer's default search_path") { search_path = "\"$user\", public"; }
  SECTION("the writer's schema before pg_catalog") {
    search_path = "\"$user\", pg_catalog, public";
    pqxx::nontransaction(*writer).exec0("SET search_path = " + search_path);
    RequirePlantedRuns(*writer, "SELECT 1::bigint # 2::bigint");
    RequirePlantedRuns(*writer, "SELECT length('x'::bytea)");
  }
  SECTION("projd's schema first, then the writer's") { search_path = db.schema() + ", \"$user\""; }
  pqxx::nontransaction(*writer).exec0("SET search_path = " + search_path);
  INFO("search_path = " << search_path);

  {
    pqxx::work tx(*writer);
    const auto insert = InsertSql(db, tx);
    for (const auto& id : AggregateIds()) tx.exec_params0(insert, id, 1);
    tx.commit();
  }
  {
    // The BEFORE trigger also runs on UPDATE OF aggregate_id.
    pqxx::work tx(*writer);
    tx.exec0("UPDATE " + tx.quote_name(db.schema()) + ".events SET aggregate_id = 'renamed' WHERE aggregate_id = ''");
    tx.commit();
  }
  CheckStoredHashes(db, AggregateIds().size());
  CHECK(db.Scalar<int>("SELECT count(*) FROM events WHERE aggregate_id = 'renamed'") == 1);
  REQUIRE(listener.WaitFrom(writer->backendpid(), 10s));
}

TEST_CASE("a two-phase writer prepares its insert after SET LOCAL projd.notify = off",
          "[pg][writer_contract]") {
  PgTestSchema db;
  if (db.Scalar<int>("SELECT current_setting('max_prepared_transactions')::int") == 0) {
    FAIL("the test server needs max_prepared_transactions > 0 (projd-testpg sets it)");
  }
  auto listen_conn = db.Connect();
  ChannelListener listener(*listen_conn, projd::pg::EventNotifier::ChannelFor(db.schema()));
  WriterRole role(db);
  auto writer = role.Connect();
  const int writer_pid = writer->backendpid();
  PreparedTransactionGuard prepared(db, "projd-test-" + db.schema());
  const auto gid = writer->quote(prepared.gid());
  const auto prepared_count = [&] {
    return db.Scalar<int>("SELECT count(*) FROM pg_prepared_xacts WHERE gid = " + gid);
  };

  SECTION("without the opt-out PREPARE fails: PostgreSQL forbids it after NOTIFY") {
    Run(*writer, "BEGIN");
    Insert(db, *writer, "two-phase");
    REQUIRE_THROWS_WITH(Run(*writer, "PREPARE TRANSACTION " + gid),
                        Catch::Contains("cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY"));
    CHECK(prepared_count() == 0);
    CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 0);  // rolled back
  }

  SECTION("with the opt-out PREPARE succeeds, readers wait for it, COMMIT PREPARED publishes it") {
    Run(*writer, "BEGIN");
    Run(*writer, "SET LOCAL projd.notify = off");
    Insert(db, *writer, "two-phase");  // position 1
    Run(*writer, "PREPARE TRANSACTION " + gid);
    REQUIRE(prepared_count() == 1);
    CHECK(db.Scalar<std::string>("SELECT owner FROM pg_prepared_xacts WHERE gid = " + gid) == role.name());

    // A normal writer meanwhile still wakes the readers.
    auto other = role.Connect();
    Insert(db, *other, "one-phase");  // position 2, autocommit
    REQUIRE(listener.WaitFrom(other->backendpid(), 10s));

    // The prepared position is a gap that is never skipped while the transaction is prepared.
    projd::testing::FakeClock clock;
    projd::pg::PgPositionSource source(db.options());
    projd::HighWaterMarkFollower follower(source, clock, 200ms);
    for (int round = 0; round < 5; ++round) {
      REQUIRE(follower.Advance());
      clock.Advance(1s);  // far beyond GAP_GRACE
      REQUIRE(follower.mark() == 0);
    }
    CHECK(db.Scalar<int>("SELECT count(*) FROM events WHERE aggregate_id = 'two-phase'") == 0);

    // The transaction manager commits it from another session of the same role.
    auto coordinator = role.Connect();
    Run(*coordinator, "COMMIT PREPARED " + gid);
    CHECK(prepared_count() == 0);
    CHECK(WaitFor([&] { return follower.Advance() && follower.mark() == 2; }, 10s));
    CheckStoredHashes(db, 2);

    // SET LOCAL ended with the transaction: the same session's next insert wakes readers
    // again, and it is the first notification from that session (the prepared one sent none).
    Insert(db, *writer, "after-two-phase");
    REQUIRE(listener.WaitFrom(writer_pid, 10s));
    CHECK(listener.CountFrom(writer_pid) == 1);
    CHECK(listener.CountFrom(coordinator->backendpid()) == 0);
    CHECK(listener.received.size() == 2);  // "one-phase", then "after-two-phase"
  }

  SECTION("a value of projd.notify that is not a boolean fails the insert") {
    Run(*writer, "BEGIN");
    Run(*writer, "SET LOCAL projd.notify = 'sometimes'");
    CHECK_THROWS_WITH(Insert(db, *writer, "two-phase"), Catch::Contains("invalid input syntax for type boolean"));
    Run(*writer, "ROLLBACK");
    CHECK(db.Scalar<int>("SELECT count(*) FROM events") == 0);
  }
}
