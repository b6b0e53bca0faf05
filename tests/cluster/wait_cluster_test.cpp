// Read-your-writes waits against live workers: `projd wait`, projd_wait() from an
// application's connection and GET /wait each return once the read model has the event;
// each times out (exit 1, false, 504) for a position no worker has processed; probes answer
// while waits are pending; a pending wait does not hold a worker's stop; a projection whose
// Scope() skips the event's aggregate type counts as having processed it.
#include <catch2/catch.hpp>

#include <csignal>
#include <future>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "orchestrator/config/database_url.h"
#include "tests/support/http_client.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::HttpCall;
using projd::testing::HttpResult;
using projd::testing::RunProcess;
using projd::testing::LibpqValue;
using projd::testing::TcpProxy;
using projd::testing::ThroughProxy;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

// Appends one event with `projd append` and returns its global_position.
std::int64_t Append(WorkerFleet& fleet, const std::string& type, const std::string& id) {
  const auto r = fleet.Projd({"append", "--aggregate-type", type, "--aggregate-id", id, "--event-type", "Touched",
                              "--payload", "{}"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out)["global_position"].get<std::int64_t>();
}

std::int64_t EventCount(WorkerFleet& fleet, const std::string& aggregate) {
  const auto rows = fleet.db().Exec("SELECT event_count FROM stream_stats WHERE aggregate_id = '" + aggregate + "'");
  return rows.empty() ? 0 : rows[0][0].as<std::int64_t>();
}

std::string WaitPath(const std::string& projection, std::int64_t position, const std::string& timeout) {
  return "/wait?projection=" + projection + "&position=" + std::to_string(position) + "&timeout=" + timeout;
}


// A worker that owns every partition and has stamped them.
void StartOne(WorkerFleet& fleet, const std::string& name) {
  fleet.Start(name);
  REQUIRE(WaitFor([&] { return fleet.Settled(1); }, 30s));
}

}  // namespace

TEST_CASE("projd wait, projd_wait() and GET /wait return once the read model has the event",
          "[cluster][wait]") {
  WorkerFleet fleet;
  fleet.Seed(300, 20, "s");
  StartOne(fleet, "w1");
  const int port = fleet.HttpPort("w1");
  REQUIRE(port > 0);

  // Each wait starts right after the append: the read model is read only once it returns.
  const auto p1 = Append(fleet, "Account", "ryw-1");
  const auto cli = fleet.Projd({"wait", "stream_stats", "--position", std::to_string(p1), "--timeout", "30s"});
  INFO(cli.out << cli.err);
  REQUIRE(cli.exit_code == 0);
  CHECK_THAT(cli.out, Catch::Contains("has processed position " + std::to_string(p1)));
  CHECK(EventCount(fleet, "ryw-1") == 1);

  const auto p2 = Append(fleet, "Account", "ryw-1");
  {
    auto app = fleet.db().Connect();  // an application's own connection
    pqxx::nontransaction tx(*app);
    CHECK(tx.exec_params1("SELECT projd_wait('stream_stats', $1, '30s')", p2)[0].as<bool>());
  }
  CHECK(EventCount(fleet, "ryw-1") == 2);

  const auto p3 = Append(fleet, "Account", "ryw-1");
  const auto http = HttpCall(port, "GET", WaitPath("stream_stats", p3, "30s"), 40s);
  INFO(http.body);
  REQUIRE(http.status == 200);
  CHECK(nlohmann::json::parse(http.body)["processed"] == true);
  CHECK(EventCount(fleet, "ryw-1") == 3);
}

TEST_CASE("a wait for a position no worker has processed times out: exit 1, false, 504",
          "[cluster][wait]") {
  WorkerFleet fleet;
  fleet.Seed(100, 10, "s");
  StartOne(fleet, "w1");
  const int port = fleet.HttpPort("w1");
  const auto beyond = Append(fleet, "Account", "t-1") + 1000;  // no event there (yet)

  const auto cli = fleet.Projd({"wait", "stream_stats", "--position", std::to_string(beyond), "--timeout", "1s"});
  CHECK(cli.exit_code == 1);
  CHECK_THAT(cli.err, Catch::Contains("timed out after 1s"));
  CHECK_THAT(cli.err, Catch::Contains("partition 0: checkpoint"));
  CHECK_THAT(cli.err, Catch::Contains("owner w1"));

  CHECK_FALSE(fleet.db().Scalar<bool>("SELECT projd_wait('stream_stats', " + std::to_string(beyond) + ", '1s')"));

  // Longer than the server's 3 s request deadline: the wait is answered, not cut.
  const auto http = HttpCall(port, "GET", WaitPath("stream_stats", beyond, "4s"), 20s);
  CHECK(http.status == 504);
  const auto body = nlohmann::json::parse(http.body);
  CHECK(body["processed"] == false);
  CHECK(body["behind"].size() == 16);

  // A statement_timeout in the URL shorter than the wait does not cut it: each check is one
  // short statement (one cut on a loaded machine is retried like any database error).
  auto env = fleet.env();
  env["DATABASE_URL"] = projd::WithConnectionParameter(fleet.db().url(), "options", "-c statement_timeout=200");
  const auto short_statements = RunProcess(
      {PROJD_BINARY, "wait", "stream_stats", "--position", std::to_string(beyond), "--timeout", "1s"}, env);
  {
    pqxx::connection probe(env["DATABASE_URL"]);  // the setting does reach the server
    CHECK(pqxx::nontransaction(probe).exec1("SHOW statement_timeout")[0].as<std::string>() == "200ms");
  }
  CHECK(short_statements.exit_code == 1);
  CHECK_THAT(short_statements.err, Catch::Contains("timed out after 1s"));
  CHECK_THAT(short_statements.err, Catch::Contains("partition 0: checkpoint"));  // checks succeeded

  // Bad arguments: exit 2 naming the argument, 400.
  const auto bad_timeout = fleet.Projd({"wait", "stream_stats", "--position", "1", "--timeout", "soon"});
  CHECK(bad_timeout.exit_code == 2);
  CHECK_THAT(bad_timeout.err, Catch::Contains("--timeout"));
  CHECK(fleet.Projd({"wait", "stream_stats", "--position", "-1"}).exit_code == 2);
  CHECK(fleet.Projd({"wait", "stream_stats@0", "--position", "1"}).exit_code == 2);
  CHECK(HttpCall(port, "GET", "/wait?projection=stream_stats").status == 400);
  CHECK(HttpCall(port, "GET", "/wait?projection=stream_stats&position=x").status == 400);
  CHECK(HttpCall(port, "GET", WaitPath("stream_stats", 1, "1h")).status == 400);  // beyond the 5m cap
}

TEST_CASE("probes answer while waits are pending, and the waits return once the event is processed",
          "[cluster][wait][http]") {
  WorkerFleet fleet;
  StartOne(fleet, "w1");
  const int port = fleet.HttpPort("w1");
  const auto next = Append(fleet, "Account", "pending-1") + 1;  // the next event's position
  std::vector<std::future<HttpResult>> waits;
  for (int i = 0; i < 4; ++i) {
    waits.push_back(std::async(std::launch::async, [&] {
      return HttpCall(port, "GET", WaitPath("stream_stats", next, "60s"), 90s);
    }));
  }
  // The waits are pending (no event at `next` yet) while the probes answer, again and again.
  for (int i = 0; i < 10; ++i) {
    CHECK(HttpCall(port, "GET", "/healthz", 5s).status == 200);
    CHECK(HttpCall(port, "GET", "/readyz", 5s).status == 200);
  }
  for (auto& w : waits) CHECK(w.wait_for(0s) == std::future_status::timeout);
  REQUIRE(Append(fleet, "Account", "pending-1") == next);
  for (auto& w : waits) {
    const auto r = w.get();
    CHECK(r.status == 200);
  }
  CHECK(EventCount(fleet, "pending-1") == 2);
}

TEST_CASE("a pending wait does not hold a worker's stop", "[cluster][wait][shutdown]") {
  WorkerFleet fleet;
  StartOne(fleet, "w1");
  const int port = fleet.HttpPort("w1");
  const auto beyond = Append(fleet, "Account", "stop-1") + 1000;
  auto wait = std::async(std::launch::async, [&] {
    return HttpCall(port, "GET", WaitPath("stream_stats", beyond, "5m"), 120s);
  });
  CHECK(HttpCall(port, "GET", "/healthz", 5s).status == 200);
  fleet.Worker("w1").Signal(SIGTERM);
  // SHUTDOWN_TIMEOUT is 5s in the fleet: the worker exits cleanly well within twice that.
  const auto code = fleet.Worker("w1").Wait(10s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const auto r = wait.get();
  CHECK(r.status != 200);  // 503 "stopping", or the connection closed with the server
}

TEST_CASE("a projection whose Scope() skips the event's aggregate type counts as having processed it",
          "[cluster][wait][scope]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "scoped_accounts,stream_stats"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  StartOne(fleet, "w1");
  const auto account = Append(fleet, "Account", "acc-1");
  const auto order = Append(fleet, "Order", "ord-1");  // outside scoped_accounts' scope
  const auto cli = fleet.Projd({"wait", "scoped_accounts", "--position", std::to_string(order), "--timeout", "30s"});
  INFO(cli.out << cli.err);
  CHECK(cli.exit_code == 0);
  // It applied the Account event and was never handed the Order event.
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM scoped_accounts WHERE global_position = " +
                               std::to_string(account)) == 1);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM scoped_accounts WHERE aggregate_type <> 'Account'") == 0);
  // Only Order events after it: every checkpoint still passes them.
  std::int64_t last = 0;
  for (int i = 0; i < 5; ++i) last = Append(fleet, "Order", "ord-" + std::to_string(i));
  const auto again = fleet.Projd({"wait", "scoped_accounts", "--position", std::to_string(last), "--timeout", "30s"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("projd wait rides out a database that hangs, and ends at its timeout when it stays unreachable",
          "[cluster][wait][database]") {
  WorkerFleet fleet;
  StartOne(fleet, "w1");
  const auto position = std::to_string(Append(fleet, "Account", "db-1"));
  REQUIRE(fleet.Projd({"wait", "stream_stats", "--position", position, "--timeout", "30s"}).exit_code == 0);
  TcpProxy proxy{LibpqValue(fleet.db().url(), "host"), std::stoi(LibpqValue(fleet.db().url(), "port"))};
  auto env = fleet.env();
  env["DATABASE_URL"] = ThroughProxy(fleet.db().url(), proxy.port());
  REQUIRE_FALSE(env["DATABASE_URL"].empty());
  const std::vector<std::string> wait{PROJD_BINARY, "wait", "stream_stats", "--position", position};

  SECTION("a hang: it keeps trying and answers once the database does") {
    proxy.Freeze();
    auto waiting = std::async(std::launch::async, [&] {
      auto argv = wait;
      argv.insert(argv.end(), {"--timeout", "90s"});
      return RunProcess(argv, env);
    });
    REQUIRE(WaitFor([&] { return proxy.connections() >= 1; }, 20s));
    CHECK(waiting.wait_for(0s) == std::future_status::timeout);
    proxy.Thaw();
    const auto r = waiting.get();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
  }
  SECTION("refused all along: exit 1 at the timeout, with the last error") {
    proxy.Refuse();
    const auto started = std::chrono::steady_clock::now();
    auto argv = wait;
    argv.insert(argv.end(), {"--timeout", "2s"});
    const auto r = RunProcess(argv, env);
    CHECK(r.exit_code == 1);
    CHECK(std::chrono::steady_clock::now() - started >= 2s);  // retried, not given up at once
    CHECK_THAT(r.err, Catch::Contains("timed out after 2s"));
    CHECK_THAT(r.err, Catch::Contains("last database error"));
  }
}
