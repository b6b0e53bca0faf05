// The operator endpoints of a real `projd run` worker, over HTTP on 127.0.0.1.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::HttpCall;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

TEST_CASE("a worker serves health, readiness, status, persistence stats and metrics over HTTP",
          "[cluster][http]") {
  WorkerFleet fleet;
  fleet.Seed(500, 50, "h");
  fleet.Start("w1");
  const int port = fleet.HttpPort("w1");
  REQUIRE(port > 0);
  CHECK(HttpCall(port, "GET", "/healthz").status == 200);
  REQUIRE(WaitFor([&] { return fleet.Settled(1) && fleet.CaughtUp("stream_stats"); }, 30s));
  REQUIRE(WaitFor([&] { return HttpCall(port, "GET", "/readyz").status == 200; }, 10s));

  // /status: the worker, all 16 partitions, the projections caught up.
  REQUIRE(WaitFor(
      [&] {
        const auto j = nlohmann::json::parse(HttpCall(port, "GET", "/status").body);
        for (const auto& p : j["projections"]) {
          if (p["name"] == "stream_stats") return p["events_processed"] == 500 && p["lag_events"] == 0;
        }
        return false;
      },
      10s));
  const auto status = nlohmann::json::parse(HttpCall(port, "GET", "/status").body);
  CHECK(status["worker"]["name"] == "w1");
  CHECK(status["coordination"]["owned_partitions"].size() == 16);
  CHECK(status["coordination"]["live_members"] == 1);
  CHECK(status["high_water_mark"]["position"] == 500);

  const auto stats = HttpCall(port, "GET", "/persistence/stats");
  CHECK(stats.status == 200);
  CHECK(nlohmann::json::parse(stats.body)["circuit_breaker_state"] == "closed");
  // The reset wants the operator's header and refuses what a browser sends cross-site.
  CHECK(HttpCall(port, "POST", "/persistence/circuit-breaker/reset").status == 403);
  const std::string reset =
      "POST /persistence/circuit-breaker/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Projd-Action: reset\r\n"
      "Content-Length: 0\r\nConnection: close\r\n";
  CHECK_THAT(projd::testing::RawExchange(port, reset + "\r\n"), Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(projd::testing::RawExchange(port, reset + "Origin: https://evil.example\r\n\r\n"),
             Catch::StartsWith("HTTP/1.1 403"));
  CHECK(HttpCall(port, "GET", "/persistence/circuit-breaker/reset").status == 405);
  CHECK(HttpCall(port, "GET", "/no/such/path").status == 404);

  const auto metrics = HttpCall(port, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK_THAT(metrics.body, Catch::Contains("projd_events_processed_total{projection=\"stream_stats\",version=\"1\"} 500"));
  CHECK_THAT(metrics.body, Catch::Contains("projd_partitions_owned 16"));
  CHECK_THAT(metrics.body, Catch::Contains("projd_active_workers 1"));
  CHECK_THAT(metrics.body, Catch::Contains("projd_worker_state{state=\"active\"} 1"));
  const auto check = projd::testing::RunProcess({"/usr/bin/promtool", "check", "metrics"}, {}, metrics.body);
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);

  // A malformed request does not take the worker's endpoint down.
  CHECK_THAT(projd::testing::RawExchange(port, "BOGUS\r\n\r\n"), Catch::StartsWith("HTTP/1.1 400"));
  CHECK(HttpCall(port, "GET", "/healthz").status == 200);

  // `projd healthcheck`, the image's HEALTHCHECK: 0 for a 2xx, 1 otherwise, 2 for bad usage.
  const std::string addr = "--http-addr=127.0.0.1:" + std::to_string(port);
  using projd::testing::RunProcess;
  const auto healthy = RunProcess({PROJD_BINARY, "healthcheck", addr});
  INFO(healthy.out << healthy.err);
  CHECK(healthy.exit_code == 0);
  CHECK(RunProcess({PROJD_BINARY, "healthcheck", addr, "--path", "/readyz"}).exit_code == 0);
  CHECK(RunProcess({PROJD_BINARY, "healthcheck", addr, "--path", "/no/such/path"}).exit_code == 1);
  CHECK(RunProcess({PROJD_BINARY, "healthcheck", "--http-addr=off"}).exit_code == 2);
}

TEST_CASE("a worker on a schema not migrated yet waits, unready, until projd migrate has run", "[cluster][http]") {
  WorkerFleet fleet;
  const std::string fresh = fleet.db().schema() + "_fresh";
  fleet.Start("w1", {{"DATABASE_SCHEMA", fresh}});
  const int port = fleet.HttpPort("w1");
  REQUIRE(port > 0);
  REQUIRE(WaitFor([&] { return HttpCall(port, "GET", "/readyz").body.find("migrations") != std::string::npos; }, 10s));
  CHECK(HttpCall(port, "GET", "/readyz").status == 503);
  CHECK(HttpCall(port, "GET", "/healthz").status == 200);
  CHECK(fleet.Worker("w1").running());

  const auto migrate = fleet.Projd({"migrate", "--database-schema", fresh});
  INFO(migrate.out << migrate.err);
  REQUIRE(migrate.exit_code == 0);
  CHECK(WaitFor([&] { return HttpCall(port, "GET", "/readyz").status == 200; }, 20s));
  fleet.Worker("w1").Signal(SIGTERM);
  CHECK(fleet.Worker("w1").Wait(10s) == 0);
  fleet.db().Exec("DROP SCHEMA " + fresh + " CASCADE");
}

TEST_CASE("a worker's probes answer while idle clients hold every HTTP connection slot", "[cluster][http][flood]") {
  WorkerFleet fleet;
  fleet.Seed(100, 10, "f");
  fleet.Start("w1");
  const int port = fleet.HttpPort("w1");
  REQUIRE(port > 0);
  REQUIRE(WaitFor([&] { return fleet.Settled(1) && HttpCall(port, "GET", "/readyz").status == 200; }, 30s));

  // Twice the 64 slots, opened faster than the request deadline frees any, and kept open.
  std::vector<std::unique_ptr<projd::testing::IdleConnection>> idle;
  for (int i = 0; i < 128; ++i) idle.push_back(std::make_unique<projd::testing::IdleConnection>(port));
  for (int round = 0; round < 5; ++round) {
    CHECK(HttpCall(port, "GET", "/healthz", 5s).status == 200);
    CHECK(HttpCall(port, "GET", "/readyz", 5s).status == 200);
    idle.push_back(std::make_unique<projd::testing::IdleConnection>(port));
  }
  const auto healthcheck =
      projd::testing::RunProcess({PROJD_BINARY, "healthcheck", "--http-addr=127.0.0.1:" + std::to_string(port)});
  INFO(healthcheck.out << healthcheck.err);
  CHECK(healthcheck.exit_code == 0);
  // The oldest idle client is gone: it made room for a probe, or the request deadline cut it.
  CHECK(idle.front()->ClosedByServer(5s));
  CHECK(fleet.Worker("w1").running());
  // Operators see it: evictions are counted (at least one per probe sent at the cap).
  const auto metrics = HttpCall(port, "GET", "/metrics", 5s).body;
  const auto at = metrics.find("\nprojd_http_connections_evicted_total ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(metrics.substr(at + std::string("\nprojd_http_connections_evicted_total ").size())) >= 10);
}
