// Projection runtime with real worker processes: error policies (stop, skip with dead
// letters and parking, replay), on a worker binary built from test projections.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::HttpCall;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

void Append(WorkerFleet& fleet, const std::string& aggregate, const std::string& type) {
  const auto r = fleet.Projd({"append", "--aggregate-type", "Account", "--aggregate-id", aggregate, "--event-type", type,
                              "--payload", "{}"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

std::int64_t Latest(WorkerFleet& fleet) {
  return fleet.db().Scalar<std::int64_t>("SELECT max(global_position) FROM events");
}

bool CheckpointsAt(WorkerFleet& fleet, const std::string& projection, std::int64_t position, int expected) {
  return fleet.db().Scalar<int>("SELECT count(*) FROM projd_checkpoints WHERE projection = '" + projection +
                                "' AND position >= " + std::to_string(position)) == expected;
}

// True when the process is stopped (state T in /proc/<pid>/stat).
bool Stopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
}

}  // namespace

TEST_CASE("a poison event: skip dead-letters it and parks its aggregate, stop halts only its partition",
          "[cluster][projections][errors]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "poison_skip,poison_stop"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  fleet.Seed(500, 20, "a");
  Append(fleet, "bad-1", "Opened");
  Append(fleet, "bad-1", "Poison");
  const auto poison = Latest(fleet);
  Append(fleet, "bad-1", "Deposited");  // must be parked behind the poison (skip)
  Append(fleet, "good-1", "Opened");
  fleet.Seed(200, 20, "b");
  const auto latest = Latest(fleet);
  fleet.Start("w1");

  // skip: everything but the poison and the event parked behind it is applied, every
  // checkpoint reaches the end.
  REQUIRE(WaitFor([&] { return CheckpointsAt(fleet, "poison_skip", latest, 16); }, 30s));
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM poison_skip_model") == latest - 2);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE projection = 'poison_skip'"
                               " AND NOT parked AND global_position = " + std::to_string(poison)) == 1);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE projection = 'poison_skip'"
                               " AND parked AND aggregate_id = 'bad-1'") == 1);
  const auto list = fleet.Projd({"dead-letters", "list", "--projection", "poison_skip"});
  CHECK_THAT(list.out, Catch::Contains("cannot handle poison"));
  CHECK_THAT(list.out, Catch::Contains("2 dead letters"));

  // stop: the poison's partition stays before it; the other 15 partitions reach the end.
  REQUIRE(WaitFor([&] { return CheckpointsAt(fleet, "poison_stop", latest, 15); }, 30s));
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT min(position) FROM projd_checkpoints WHERE projection = 'poison_stop'") <
        poison);
  CHECK_THAT(fleet.Worker("w1").Log(), Catch::Contains("projection stopped on a partition"));
  CHECK(fleet.Worker("w1").running());
  // Readiness says so, with the partition; metrics count it.
  const int port = fleet.HttpPort("w1");
  const auto ready = projd::testing::HttpCall(port, "GET", "/readyz");
  CHECK(ready.status == 503);
  CHECK_THAT(ready.body, Catch::Contains("projection poison_stop stopped on partition"));
  CHECK_THAT(projd::testing::HttpCall(port, "GET", "/metrics").body,
             Catch::Contains("projd_stopped_partitions{projection=\"poison_stop\",version=\"1\"} 1"));

  // The fix is deployed (here: a flag row); replaying the aggregate applies its dead letters in order.
  const auto refused = fleet.Projd({"dead-letters", "replay", "--projection", "poison_skip", "--aggregate", "bad-1"});
  CHECK(refused.exit_code == 1);  // still poison: nothing changes
  fleet.db().Exec("INSERT INTO poison_fixed VALUES (true)");
  const auto replay = fleet.Projd({"dead-letters", "replay", "--projection", "poison_skip", "--aggregate", "bad-1"});
  INFO(replay.out << replay.err);
  REQUIRE(replay.exit_code == 0);
  CHECK_THAT(replay.out, Catch::Contains("replayed 2"));
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM poison_skip_model") == latest);
  // Once the workers stop parking it (they re-read the parked set every POLL_INTERVAL), new
  // events of the aggregate are applied directly.
  REQUIRE(WaitFor([&] { return fleet.Worker("w1").running(); }, 1s));
  Append(fleet, "bad-1", "Withdrawn");
  const auto after = Latest(fleet);
  CHECK(WaitFor(
      [&] {
        return fleet.db().Scalar<int>("SELECT count(*) FROM poison_skip_model WHERE position = " +
                                      std::to_string(after)) == 1 ||
               fleet.db().Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE global_position = " +
                                      std::to_string(after)) == 1;
      },
      10s));
}

TEST_CASE("a worker paused inside a projection transaction loses its partitions and its open transaction",
          "[cluster][projections][pause]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "pausing,stream_stats"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  const auto marker = (std::filesystem::temp_directory_path() /
                       ("projd-pause-" + std::to_string(::getpid()) + "-" + fleet.db().schema()))
                          .string();
  const std::map<std::string, std::string> env{{"PROJD_TEST_PAUSE_MARKER", marker}};
  fleet.Seed(300, 30, "a");
  for (const auto* n : {"w1", "w2"}) fleet.Start(n, env);
  REQUIRE(WaitFor([&] { return fleet.Settled(2) && fleet.CaughtUp("pausing"); }, 30s));

  // The first worker to apply the "Pause" event stops itself between the projection's
  // INSERT and the commit: its transaction holds the row and the snapshot xmin.
  std::ofstream(marker).put('x');
  Append(fleet, "p-1", "Pause");
  std::string paused;
  REQUIRE(WaitFor(
      [&] {
        for (const auto* n : {"w1", "w2"}) {
          if (Stopped(fleet.Worker(n).pid())) paused = n;
        }
        return !paused.empty();
      },
      20s));
  fleet.Seed(200, 30, "b");

  // The server ends the paused worker's idle transaction (STALE_WORKER_TIMEOUT), so the
  // survivor takes every partition and applies the Pause event and everything after it.
  REQUIRE(WaitFor([&] { return fleet.Settled(1); }, 20s));
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("pausing") && fleet.CaughtUp("stream_stats"); }, 20s));
  const auto events = [&] { return fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events"); };
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM pausing_model") == events());
  CHECK(fleet.StreamStatsMismatches() == 0);

  // Resumed, the zombie finds its session gone, rejoins, and nothing is applied twice.
  fleet.Worker(paused).Signal(SIGCONT);
  REQUIRE(WaitFor([&] { return fleet.Settled(2); }, 20s));
  fleet.Seed(100, 30, "c");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("pausing") && fleet.CaughtUp("stream_stats"); }, 20s));
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM pausing_model") == events());
  CHECK(fleet.StreamStatsMismatches() == 0);
  CHECK(fleet.Worker(paused).running());
  std::filesystem::remove(marker);
}

TEST_CASE("a Handle that hangs longer than STALE_WORKER_TIMEOUT: the worker is not evicted, the handover happens",
          "[cluster][projections][hang]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "hanging_tx,hanging_async,stream_stats"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  const auto hang = (std::filesystem::temp_directory_path() /
                     ("projd-hang-" + std::to_string(::getpid()) + "-" + fleet.db().schema()))
                        .string();
  std::ofstream(hang).put('x');
  fleet.Seed(200, 20, "a");
  fleet.Start("w1", {{"PROJD_TEST_HANG_FILE", hang}});
  REQUIRE(WaitFor([&] { return fleet.Settled(1) && fleet.CaughtUp("hanging_tx"); }, 30s));
  const int port = fleet.HttpPort("w1");
  const auto coordination = [&] { return nlohmann::json::parse(HttpCall(port, "GET", "/status").body)["coordination"]; };

  Append(fleet, "h-1", "Hang");
  REQUIRE(WaitFor([&] {
    return std::filesystem::exists(hang + ".hanging_tx") && std::filesystem::exists(hang + ".hanging_async");
  }, 20s));
  fleet.Seed(100, 20, "b");
  // Both handlers hang. Heartbeats go on for three stale timeouts (1.5s each) after that.
  const auto hung_at = fleet.db().Scalar<std::string>("SELECT now()::text");
  REQUIRE(WaitFor([&] {
    return fleet.db().Scalar<bool>("SELECT coalesce(bool_or(last_heartbeat > '" + hung_at +
                                   "'::timestamptz + interval '4500 ms'), false) FROM projd_workers");
  }, 20s));
  CHECK(coordination()["counters"]["evicted"] == 0);
  CHECK(coordination()["counters"]["registrations"] == 1);
  CHECK(coordination()["counters"]["self_fenced"] == 0);

  // A peer joins: w1 cannot finish its batch, so it acknowledges after the release budget
  // (COORDINATION_TIMEOUT/2) and the peer takes its half (the server ended w1's idle unit
  // transaction; whatever w1 commits late is fenced by the peer's stamp).
  fleet.Start("w2");
  REQUIRE(WaitFor([&] { return fleet.Settled(2); }, 30s));
  CHECK(coordination()["counters"]["evicted"] == 0);

  std::filesystem::remove(hang);
  fleet.Seed(100, 20, "c");
  REQUIRE(WaitFor([&] {
    return fleet.CaughtUp("hanging_tx") && fleet.CaughtUp("hanging_async") && fleet.CaughtUp("stream_stats");
  }, 30s));
  const auto events = fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events");
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM hanging_tx_model") == events);  // exactly once
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(DISTINCT position) FROM hanging_tx_model") == events);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM hanging_async_model") == events);
  CHECK(fleet.StreamStatsMismatches() == 0);
  CHECK(fleet.Worker("w1").running());
  CHECK(coordination()["counters"]["registrations"] == 1);
  for (const auto* suffix : {".hanging_tx", ".hanging_async"}) std::filesystem::remove(hang + suffix);
}
