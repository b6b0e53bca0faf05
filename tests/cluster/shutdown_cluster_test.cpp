// A worker's stop is bounded by SHUTDOWN_TIMEOUT whatever the database does: real
// `projd run` processes reach the test server through a TcpProxy that the test freezes
// (the database hangs, as a SIGSTOPped server or a black-holed network looks) or cuts
// (unreachable). The shared server itself is never stopped: other tests use it.
#include <catch2/catch.hpp>


#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "tests/support/http_client.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::HttpCall;
using projd::testing::LibpqValue;
using projd::testing::TcpProxy;
using projd::testing::ThroughProxy;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

constexpr auto kShutdownTimeout = 3s;


// A worker on `proxy` that has processed every seeded event and holds async checkpoints
// it cannot write: the test holds an EXCLUSIVE lock on projd_checkpoints (reads go on,
// every checkpoint write waits and is cut at PERSISTENCE_TIMEOUT), so the stop has
// something to drain whatever the persistence triggers do.
struct ProxiedWorker {
  WorkerFleet fleet{{{"SHUTDOWN_TIMEOUT", "3s"},
                     {"STALE_WORKER_TIMEOUT", "20s"},
                     {"PERSISTENCE_INTERVAL", "9s"},
                     {"PERSISTENCE_TIMEOUT", "500ms"}}};
  TcpProxy proxy{LibpqValue(fleet.db().url(), "host"), std::stoi(LibpqValue(fleet.db().url(), "port"))};
  int http_port = 0;
  std::unique_ptr<pqxx::connection> blocker = fleet.db().Connect();
  std::unique_ptr<pqxx::work> checkpoints_locked;

  ProxiedWorker() {
    const auto url = ThroughProxy(fleet.db().url(), proxy.port());
    REQUIRE_FALSE(url.empty());
    fleet.Seed(600, 40, "s");
    fleet.Start("w1", {{"DATABASE_URL", url}});
    http_port = fleet.HttpPort("w1");
    REQUIRE(http_port > 0);
    REQUIRE(WaitFor([&] { return fleet.Settled(1) && fleet.CaughtUp("noop"); }, 20s));
    checkpoints_locked = std::make_unique<pqxx::work>(*blocker);
    checkpoints_locked->exec0("LOCK TABLE projd_checkpoints IN EXCLUSIVE MODE");
    fleet.Seed(200, 40, "t");
    const auto noop_done_with_pending = [&] {
      const auto status = HttpCall(http_port, "GET", "/status");
      if (status.status != 200) return false;
      const auto j = nlohmann::json::parse(status.body);
      for (const auto& p : j["projections"]) {
        if (p["name"] == "noop" && p["events_processed"].get<int>() < 800) return false;
      }
      return j["persistence"]["pending_count"].get<int>() > 0;
    };
    REQUIRE(WaitFor(noop_done_with_pending, 20s));
    CHECK(proxy.connections() >= 5);  // coordinator, persistence, mark, listeners, readers...
  }
  ~ProxiedWorker() {
    if (checkpoints_locked) checkpoints_locked->abort();
  }

  bool Registered() {
    return fleet.db().Scalar<int>("SELECT count(*) FROM projd_workers WHERE replica_set = 'fleet'") == 1;
  }
};

// Sends `sig` and waits at most SHUTDOWN_TIMEOUT + 1 s for the exit: a bound on waiting,
// the promise under test. Prints the measured time.
std::optional<int> StopWithin(projd::testing::ChildProcess& worker, const char* what) {
  const auto sent = std::chrono::steady_clock::now();
  worker.Signal(SIGTERM);
  const auto code = worker.Wait(kShutdownTimeout + 1s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
  std::printf("%s: exit %d after %lld ms (SHUTDOWN_TIMEOUT %lld ms)\n", what, code.value_or(-1),
              static_cast<long long>(took.count()),
              static_cast<long long>(std::chrono::milliseconds(kShutdownTimeout).count()));
  std::fflush(stdout);
  return code;
}

}  // namespace

TEST_CASE("SIGTERM with the database frozen: the worker exits within SHUTDOWN_TIMEOUT + 1 s, code 4, naming "
          "what it abandoned",
          "[cluster][shutdown]") {
  ProxiedWorker w;
  w.proxy.Freeze();
  const auto code = StopWithin(w.fleet.Worker("w1"), "frozen database");
  const auto log = w.fleet.Worker("w1").Log();
  INFO(log);
  REQUIRE(code.has_value());
  CHECK(*code == 4);
  CHECK_THAT(log, Catch::Contains("stop did not finish; exiting at once, abandoning the rest"));
  CHECK_THAT(log, Catch::Contains("reason=\"SHUTDOWN_TIMEOUT passed\""));
  CHECK_THAT(log, Catch::Contains("deregistered=false"));
  CHECK_THAT(log, Catch::Contains("exit_code=4"));
  CHECK_THAT(log, Catch::Contains("unfinished=") && Catch::Contains("deregister"));
  // The checkpoints pending at the freeze could not be written, and the log counts them.
  const auto unflushed = log.find("unflushed=", log.find("stop did not finish"));
  REQUIRE(unflushed != std::string::npos);
  CHECK(std::atoi(log.c_str() + unflushed + 10) > 0);
  // What the log says is what happened: the row is still there (peers evict it later).
  w.proxy.Thaw();
  CHECK(w.Registered());
}

TEST_CASE("a second stop signal ends a stuck stop at once, code 4", "[cluster][shutdown]") {
  ProxiedWorker w;
  w.proxy.Freeze();
  auto& worker = w.fleet.Worker("w1");
  const auto sent = std::chrono::steady_clock::now();
  worker.Signal(SIGTERM);
  REQUIRE(WaitFor([&] { return worker.Log().find("stop signal received") != std::string::npos; }, 10s));
  worker.Signal(SIGINT);
  const auto code = worker.Wait(kShutdownTimeout + 1s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent);
  std::printf("second signal: exit %d after %lld ms\n", code.value_or(-1), static_cast<long long>(took.count()));
  const auto log = worker.Log();
  INFO(log);
  REQUIRE(code.has_value());
  CHECK(*code == 4);
  CHECK_THAT(log, Catch::Contains("second stop signal; exiting at once"));
  CHECK_THAT(log, Catch::Contains("reason=\"a second stop signal\""));
}

TEST_CASE("SIGTERM with the database unreachable: the stop gives up in time and exits 3, still registered",
          "[cluster][shutdown]") {
  ProxiedWorker w;
  w.proxy.Refuse();
  const auto code = StopWithin(w.fleet.Worker("w1"), "unreachable database");
  const auto log = w.fleet.Worker("w1").Log();
  INFO(log);
  REQUIRE(code.has_value());
  CHECK(*code == 3);
  CHECK_THAT(log, Catch::Contains("worker stopped incompletely"));
  CHECK_THAT(log, Catch::Contains("drained=false"));
  CHECK_THAT(log, Catch::Contains("deregistered=false"));
  CHECK(w.Registered());
}
