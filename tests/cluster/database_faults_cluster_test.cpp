// What operators do to the database under a running worker process, and what it must
// survive without losing or doubling an event or blaming a projection:
//  * a migration locking a read-model table for longer than every retry;
//  * checkpoint writes that the database refuses for minutes (disk full, a read-only server
//    after a failover): the worker stays up, says why it is unready, and recovers. The
//    refusal is injected by a trigger on this test schema's projd_checkpoints that raises the
//    real SQLSTATE (53100 disk_full, 25006 read_only_sql_transaction): the shared test server
//    cannot be filled or made read-only without disturbing the tests running beside.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "tests/support/http_client.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::HttpCall;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

void InstallFault(WorkerFleet& fleet) {
  fleet.db().Exec("CREATE TABLE injected_fault (sqlstate TEXT NOT NULL, message TEXT NOT NULL)");
  fleet.db().Exec(
      "CREATE FUNCTION injected_checkpoint_fault() RETURNS trigger LANGUAGE plpgsql AS $$"
      " DECLARE f injected_fault; BEGIN"
      "  SELECT * INTO f FROM injected_fault LIMIT 1;"
      "  IF FOUND THEN RAISE EXCEPTION '%', f.message USING ERRCODE = f.sqlstate; END IF;"
      "  RETURN NEW; END $$");
  fleet.db().Exec(
      "CREATE TRIGGER injected_checkpoint_fault BEFORE INSERT OR UPDATE ON projd_checkpoints"
      " FOR EACH ROW EXECUTE FUNCTION injected_checkpoint_fault()");
}

std::vector<std::string> Reasons(int port) {
  const auto r = HttpCall(port, "GET", "/readyz");
  if (r.status == 0) return {"no answer"};
  return nlohmann::json::parse(r.body)["reasons"].get<std::vector<std::string>>();
}

bool AnyContains(const std::vector<std::string>& reasons, const std::string& what) {
  for (const auto& r : reasons) {
    if (r.find(what) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("checkpoint writes refused (disk full, read-only): the worker stays up, unready with the reason, recovers",
          "[cluster][persistence][errors]") {
  WorkerFleet fleet;  // stream_stats (transactional units) and noop (async, the flusher)
  fleet.Seed(300, 30, "a");
  fleet.Start("w1");
  REQUIRE(WaitFor([&] { return fleet.Settled(1) && fleet.CaughtUp("stream_stats") && fleet.CaughtUp("noop"); }, 30s));
  const int port = fleet.HttpPort("w1");
  REQUIRE(WaitFor([&] { return HttpCall(port, "GET", "/readyz").status == 200; }, 10s));
  InstallFault(fleet);

  const std::vector<std::pair<std::string, std::string>> faults{
      {"53100", "could not extend file: No space left on device"},
      {"25006", "cannot execute UPDATE in a read-only transaction"}};
  int round = 0;
  for (const auto& [sqlstate, message] : faults) {
    INFO("SQLSTATE " << sqlstate);
    fleet.db().Exec("INSERT INTO injected_fault VALUES ('" + sqlstate + "', '" + message + "')");
    fleet.Seed(200, 30, "f" + std::to_string(++round));
    // Both paths fail (the units of stream_stats, the async flushes of noop) and feed one
    // breaker; readiness names it with the database's message.
    std::vector<std::string> reasons;
    const bool unready = WaitFor([&] {
      reasons = Reasons(port);
      return AnyContains(reasons, "persistence") && AnyContains(reasons, message);
    }, 30s);
    for (const auto& r : reasons) UNSCOPED_INFO("reason: " << r);
    REQUIRE(unready);
    CHECK(fleet.Worker("w1").running());
    CHECK_THAT(fleet.Worker("w1").Log(), Catch::Contains("persistence transaction failed"));

    fleet.db().Exec("DELETE FROM injected_fault");
    REQUIRE(WaitFor([&] { return fleet.CaughtUp("stream_stats") && fleet.CaughtUp("noop"); }, 30s));
    REQUIRE(WaitFor([&] { return HttpCall(port, "GET", "/readyz").status == 200; }, 30s));
    CHECK(fleet.StreamStatsMismatches() == 0);  // nothing lost, nothing applied twice
    CHECK(fleet.Worker("w1").running());
  }
  // Nothing was ever counted against the error policy.
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_dead_letters") == 0);
  CHECK_THAT(fleet.Worker("w1").Log(), !Catch::Contains("by its error policy"));
}

TEST_CASE("a read-model table locked by a migration past every retry: nothing stopped or dead-lettered, every event once",
          "[cluster][projections][errors]") {
  WorkerFleet fleet;  // stream_stats keeps its default error policy: stop
  fleet.Seed(300, 30, "a");
  fleet.Start("w1");
  REQUIRE(WaitFor([&] { return fleet.Settled(1) && fleet.CaughtUp("stream_stats"); }, 30s));
  const int port = fleet.HttpPort("w1");
  const auto database_errors = [&] {
    const auto status = nlohmann::json::parse(HttpCall(port, "GET", "/status").body);
    for (const auto& p : status["projections"]) {
      if (p["name"] == "stream_stats") return p["database_errors"].get<std::int64_t>();
    }
    return std::int64_t{-1};
  };

  auto migration = fleet.db().Connect();
  auto lock = std::make_unique<pqxx::work>(*migration);
  lock->exec0("LOCK TABLE stream_stats IN ACCESS EXCLUSIVE MODE");
  fleet.Seed(200, 30, "b");
  // Each unit is cut at PERSISTENCE_TIMEOUT (500ms); wait for more failures than any retry
  // policy allows before it would isolate events and apply `stop`.
  REQUIRE(WaitFor([&] { return database_errors() >= 6; }, 60s));
  CHECK(AnyContains(Reasons(port), "projection stream_stats retrying a database error"));
  lock->abort();

  REQUIRE(WaitFor([&] { return fleet.CaughtUp("stream_stats") && fleet.CaughtUp("noop"); }, 30s));
  REQUIRE(WaitFor([&] { return HttpCall(port, "GET", "/readyz").status == 200; }, 30s));
  CHECK(fleet.StreamStatsMismatches() == 0);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_dead_letters") == 0);
  CHECK_THAT(fleet.Worker("w1").Log(), !Catch::Contains("by its error policy"));
}
