// EmbeddedPostgres as a streaming hot standby (Options::standby_of_port), the server pair the
// standby-read tests and bench/standby_reads.sh run on: a private primary and its standby
// (not the DATABASE_URL server), events appended on the primary appear on the standby,
// which stays read-only, resumes streaming after a stop and after a kill, and accepts
// writes once promoted. Its replication slot on the primary goes with it.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "devtools/embedded_postgres.h"
#include "tests/support/pg_test_schema.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::EmbeddedPostgres;
using projd::testing::PgTestSchema;
using projd::testing::WaitFor;

namespace {

// First column of the first row of `sql` on `url` (outside a transaction block).
std::string Scalar(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  const auto r = tx.exec1(sql);
  return r[0].is_null() ? "" : r[0].as<std::string>();
}

void Append(const std::string& url, const std::string& schema, const std::string& id) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0("INSERT INTO " + tx.quote_name(schema) +
           ".events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)"
           " VALUES ('standby', 'probe', " + tx.quote(id) + ", 1, 'Probed')");
  tx.commit();
}

// Whether the standby at `url` has the event of aggregate `id` (connection errors: not yet).
bool Sees(const std::string& url, const std::string& schema, const std::string& id) {
  try {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT count(*) FROM " + tx.quote_name(schema) + ".events WHERE aggregate_id = " +
                    tx.quote(id))[0]
               .as<int>() == 1;
  } catch (const std::exception&) {
    return false;
  }
}

bool Streaming(const std::string& url) {
  try {
    return Scalar(url, "SELECT status FROM pg_stat_wal_receiver") == "streaming";
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST_CASE("an embedded hot standby streams from its primary, resumes after stop and kill, promotes",
          "[pg][standby]") {
  // A standby needs at least its primary's max_connections (and similar): the same settings.
  EmbeddedPostgres::Options options;
  options.settings["max_connections"] = "40";
  options.settings["max_prepared_transactions"] = "5";
  EmbeddedPostgres primary(options);
  primary.Start();
  PgTestSchema schema(primary.Url(), true);
  const std::string& s = schema.schema();

  options.standby_of_port = primary.port();
  std::optional<EmbeddedPostgres> standby(std::in_place, options);
  standby->Start();
  const std::string url = standby->Url();

  Append(primary.Url(), s, "before-start");  // in the base backup or streamed: either way seen
  Append(primary.Url(), s, "streamed");
  REQUIRE(WaitFor([&] { return Sees(url, s, "before-start") && Sees(url, s, "streamed"); }, 30s));
  CHECK(Scalar(url, "SELECT pg_is_in_recovery()") == "t");
  CHECK(Streaming(url));
  CHECK(Scalar(url, "SHOW max_connections") == "40");
  CHECK(Scalar(primary.Url(), "SELECT count(*) FROM pg_replication_slots WHERE active") == "1");
  CHECK_THROWS_AS(Append(url, s, "on-standby"), pqxx::sql_error);

  // A stopped standby catches up with what was written meanwhile, on the same port.
  const int port = standby->port();
  standby->Stop();
  Append(primary.Url(), s, "while-stopped");
  standby->Start();
  CHECK(standby->port() == port);
  Append(primary.Url(), s, "after-restart");
  REQUIRE(WaitFor([&] { return Sees(url, s, "while-stopped") && Sees(url, s, "after-restart"); }, 30s));
  CHECK(WaitFor([&] { return Streaming(url); }, 30s));
  CHECK(Scalar(url, "SELECT pg_is_in_recovery()") == "t");

  // A killed standby recovers and resumes streaming.
  standby->Kill();
  Append(primary.Url(), s, "while-killed");
  standby->Start();
  REQUIRE(WaitFor([&] { return Sees(url, s, "while-killed"); }, 30s));
  CHECK(WaitFor([&] { return Streaming(url); }, 30s));

  // A promoted standby leaves recovery and accepts writes of its own.
  standby->Promote();
  CHECK(Scalar(url, "SELECT pg_is_in_recovery()") == "f");
  Append(url, s, "on-promoted");
  CHECK(Sees(url, s, "on-promoted"));
  CHECK_FALSE(Sees(primary.Url(), s, "on-promoted"));

  // The standby's slot goes with it: the primary keeps no WAL for it.
  standby.reset();
  CHECK(Scalar(primary.Url(), "SELECT count(*) FROM pg_replication_slots") == "0");
}
