// Operator control with real worker processes: `projd projections pause|resume` obeyed by
// every worker of the replica set, kept across a handover and a restart, per partition;
// shown in /status, /readyz (ready), the metrics and projd_partition_states; and nothing
// lost or applied twice once resumed (stream_stats against the events).
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::HttpCall;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

// Every checkpoint of `projection`, by partition.
std::map<int, std::int64_t> Checkpoints(WorkerFleet& fleet, const std::string& projection) {
  std::map<int, std::int64_t> out;
  for (const auto& row : fleet.db().Exec("SELECT partition, position FROM projd_checkpoints WHERE projection = '" +
                                         projection + "'")) {
    out[row[0].as<int>()] = row[1].as<std::int64_t>();
  }
  return out;
}

nlohmann::json Runner(WorkerFleet& fleet, const std::string& worker, const std::string& projection) {
  const auto r = HttpCall(fleet.HttpPort(worker), "GET", "/status");
  if (r.status != 200) return nullptr;
  const auto status = nlohmann::json::parse(r.body);  // kept: a range over a temporary's member dangles
  for (const auto& p : status["projections"]) {
    if (p["name"] == projection) return p;
  }
  return nullptr;
}

bool Paused(WorkerFleet& fleet, const std::string& worker, const std::string& projection) {
  const auto r = Runner(fleet, worker, projection);
  return !r.is_null() && r["state"] == "paused" && r["paused"]["every"] == true;
}

// More events, then the unpaused projection (noop) as the clock: once it has them all, a
// paused projection had every chance to read them too.
void AppendAndLetNoopCatchUp(WorkerFleet& fleet, int events, const std::string& prefix) {
  fleet.Seed(events, 25, prefix);
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("noop"); }, 30s));
}

void Run(WorkerFleet& fleet, const std::vector<std::string>& args, int expected_exit = 0) {
  const auto r = fleet.Projd(args);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == expected_exit);
}

}  // namespace

TEST_CASE("a paused projection is read by no worker across a handover and a restart, then every event once",
          "[cluster][operator]") {
  WorkerFleet fleet;
  fleet.Seed(300, 25, "a");
  fleet.Start("w1");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("stream_stats") && fleet.CaughtUp("noop"); }, 30s));

  Run(fleet, {"projections", "pause", "stream_stats", "--reason", "backfill of a column"});
  REQUIRE(WaitFor([&] { return Paused(fleet, "w1", "stream_stats"); }, 10s));
  const auto before = Checkpoints(fleet, "stream_stats");
  AppendAndLetNoopCatchUp(fleet, 300, "b");
  CHECK(Checkpoints(fleet, "stream_stats") == before);

  // Paused is not unready: /readyz stays 200 and lists it; the metrics show it.
  const auto port = fleet.HttpPort("w1");
  const auto ready = HttpCall(port, "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK_THAT(ready.body, Catch::Contains("projection stream_stats paused by an operator on every partition"));
  const auto metrics = HttpCall(port, "GET", "/metrics").body;
  CHECK_THAT(metrics, Catch::Contains("projd_projection_paused{projection=\"stream_stats\",version=\"1\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("projd_projection_state{projection=\"stream_stats\",version=\"1\",state=\"paused\"} 1"));
  const auto status = nlohmann::json::parse(HttpCall(port, "GET", "/status").body);
  CHECK(status["control"]["pauses"][0]["reason"] == "backfill of a column");
  REQUIRE(WaitFor([&] {
    return fleet.db().Scalar<int>("SELECT count(*) FROM projd_partition_states WHERE projection = 'stream_stats'"
                                  " AND state = 'paused'") == fleet.Partitions();
  }, 10s));

  // projd wait on a paused projection times out and says why.
  const auto latest = fleet.db().Scalar<std::int64_t>("SELECT max(global_position) FROM events");
  const auto wait = fleet.Projd({"wait", "stream_stats", "--position", std::to_string(latest), "--timeout", "1s"});
  CHECK(wait.exit_code == 1);
  CHECK_THAT(wait.out + wait.err, Catch::Contains("projd projections resume stream_stats"));

  // projd status, from the database: every partition paused, with its owner and the reason.
  const auto text = fleet.Projd({"status", "stream_stats"});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("paused"));
  CHECK_THAT(text.out, Catch::Contains("w1"));

  // A handover: the new worker takes half the partitions and reads none of them.
  fleet.Start("w2");
  REQUIRE(WaitFor([&] { return fleet.Settled(2); }, 30s));
  AppendAndLetNoopCatchUp(fleet, 200, "c");
  CHECK(Paused(fleet, "w2", "stream_stats"));
  CHECK(Checkpoints(fleet, "stream_stats") == before);

  // A restart: the pause lives in the database, the restarted worker reads it first.
  fleet.Worker("w1").Signal(SIGTERM);
  REQUIRE(fleet.Worker("w1").Wait(20s).has_value());
  fleet.Start("w1");
  REQUIRE(WaitFor([&] { return fleet.Settled(2); }, 30s));
  AppendAndLetNoopCatchUp(fleet, 200, "d");
  REQUIRE(WaitFor([&] { return Paused(fleet, "w1", "stream_stats"); }, 10s));
  CHECK(Checkpoints(fleet, "stream_stats") == before);
  CHECK_THAT(fleet.Worker("w1").Log(), !Catch::Contains("projection resumed"));

  Run(fleet, {"projections", "resume", "stream_stats"});
  Run(fleet, {"wait", "stream_stats", "--position", std::to_string(latest), "--timeout", "30s"});
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("stream_stats"); }, 30s));
  CHECK(fleet.StreamStatsMismatches() == 0);  // nothing lost, nothing twice
  const auto w2 = HttpCall(fleet.HttpPort("w2"), "GET", "/readyz");
  CHECK(w2.status == 200);
  CHECK_THAT(w2.body, !Catch::Contains("paused by an operator"));
}

TEST_CASE("pausing one partition holds it alone, resuming it catches up exactly once", "[cluster][operator]") {
  WorkerFleet fleet;
  fleet.Seed(200, 40, "a");
  fleet.Start("w1");
  fleet.Start("w2");
  REQUIRE(WaitFor([&] { return fleet.Settled(2) && fleet.CaughtUp("stream_stats"); }, 30s));

  Run(fleet, {"projections", "pause", "stream_stats", "--partition", "3"});
  REQUIRE(WaitFor([&] {
    return fleet.db().Scalar<int>("SELECT count(*) FROM projd_partition_states WHERE projection = 'stream_stats'"
                                  " AND partition = 3 AND state = 'paused'") == 1;
  }, 10s));
  const auto held = Checkpoints(fleet, "stream_stats").at(3);
  fleet.Seed(400, 40, "b");  // 40 aggregates over 16 partitions: partition 3 gets some
  const auto latest = fleet.db().Scalar<std::int64_t>("SELECT max(global_position) FROM events");
  REQUIRE(WaitFor([&] {
    const auto cps = Checkpoints(fleet, "stream_stats");
    return std::all_of(cps.begin(), cps.end(), [&](const auto& c) { return c.first == 3 || c.second >= latest; });
  }, 30s));
  CHECK(Checkpoints(fleet, "stream_stats").at(3) == held);
  const auto json = nlohmann::json::parse(fleet.Projd({"status", "stream_stats", "--json"}).out);
  for (const auto& row : json["projection_partitions"]) {
    INFO(row.dump());
    if (row["partition"] == 3) {
      CHECK(row["state"] == "paused");
    } else {
      CHECK(row["state"] != "paused");
      CHECK(row["state"] != "-");  // the owners' reports are current
    }
  }
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM events WHERE partition_hash % 16 = 3"
                               " AND global_position > " + std::to_string(held)) > 0);

  // Refusals change nothing: exit 2, a clear message.
  Run(fleet, {"projections", "resume", "stream_stats", "--partition", "99"}, 2);
  Run(fleet, {"projections", "pause", "no_such_projection"}, 2);
  Run(fleet, {"projections", "pause", "stream_stats@2"}, 2);

  Run(fleet, {"projections", "resume", "stream_stats", "--partition", "3"});
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("stream_stats"); }, 30s));
  CHECK(fleet.StreamStatsMismatches() == 0);
}
