// Reads through the per-partition index in a running replica set (docs/reading.md, "Reads
// that scale with the workers"): workers owning a quarter of the partitions read each
// partition from its own range of the index; a split while writers append keeps every
// aggregate's order, every partition's checkpoint, and exactly once.
#include <catch2/catch.hpp>

#include <map>
#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/appender.h"
#include "tests/support/http_client.h"
#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::Appender;
using projd::testing::HttpCall;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

namespace {

const std::vector<std::string> kWorkers{"w1", "w2", "w3", "w4"};
const std::vector<std::string> kProjections{"stream_stats", "noop", "order_check"};

// The read plans that the workers' /status reports, one per worker and projection: the plan
// of the latest statement each reader ran ("w1 noop partition_merge, ...").
std::vector<std::string> Plans(WorkerFleet& fleet) {
  std::vector<std::string> plans;
  for (const auto& w : kWorkers) {
    const auto r = HttpCall(fleet.HttpPort(w), "GET", "/status");
    if (r.status != 200) {
      plans.push_back(w + " answered " + std::to_string(r.status));
      continue;
    }
    const auto status = nlohmann::json::parse(r.body);  // the loop below must not outlive it
    for (const auto& p : status["projections"]) {
      plans.push_back(w + " " + p["name"].get<std::string>() + " " + p["read_plan"].get<std::string>());
    }
  }
  return plans;
}

// True when every worker reports `plan` for every projection.
bool AllRead(WorkerFleet& fleet, const std::string& plan) {
  const auto plans = Plans(fleet);
  UNSCOPED_INFO("plans: " << Catch::Detail::stringify(plans));
  return plans.size() == kWorkers.size() * kProjections.size() &&
         std::all_of(plans.begin(), plans.end(), [&](const auto& p) { return p.ends_with(" " + plan); });
}

bool AllCaughtUp(WorkerFleet& fleet) {
  for (const auto& p : kProjections) {
    if (!fleet.CaughtUp(p)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("workers reading per partition split 16 -> 32 under writers: in order, exactly once, every checkpoint",
          "[cluster][merge][split]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "stream_stats,noop,order_check"}});
  fleet.UseBinary(PROJD_TEST_WORKER);
  const auto migrated = fleet.Projd({"migrate"});
  INFO(migrated.out << migrated.err);
  REQUIRE(migrated.exit_code == 0);  // builds the index of PARTITIONS=16
  fleet.Seed(4000, 200, "m");
  for (const auto& w : kWorkers) fleet.Start(w);
  REQUIRE(WaitFor([&] { return fleet.Settled(4); }, 20s));
  REQUIRE(WaitFor([&] { return AllCaughtUp(fleet); }, 30s));
  // Four of sixteen partitions each: every reader took the per-partition plan.
  CHECK(AllRead(fleet, "partition_merge"));

  Appender load(fleet.db().options(), 53);
  REQUIRE(WaitFor([&] { return load.appended() > 100; }, 10s));
  const auto split = fleet.Projd({"partitions", "split", "--replica-set", "fleet"});
  INFO(split.out << split.err);
  REQUIRE(split.exit_code == 0);
  REQUIRE(fleet.Partitions() == 32);
  const int before_stop = load.appended();
  REQUIRE(WaitFor([&] { return load.appended() > before_stop + 300; }, 15s));
  load.Stop();

  REQUIRE(WaitFor([&] { return fleet.Settled(4); }, 20s));
  REQUIRE(WaitFor([&] { return AllCaughtUp(fleet); }, 30s));
  // Eight of 32 each, through the index of 32 that the split built before switching.
  CHECK(AllRead(fleet, "partition_merge"));
  CHECK(fleet.StreamStatsMismatches() == 0);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM order_violations") == 0);
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT coalesce(sum(last_version), 0) FROM order_check") ==
        fleet.db().Scalar<std::int64_t>("SELECT count(*) FROM events"));
  for (const auto& p : kProjections) {
    INFO(p);
    CHECK(fleet.db().Scalar<int>("SELECT count(DISTINCT partition) FROM projd_checkpoints WHERE replica_set = 'fleet'"
                                 " AND projection = '" + p + "'") == 32);
  }
}
