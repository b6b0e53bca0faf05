// The SDK from a team's side (include/projd): a worker with its own main() and factories
// that hand projections their dependencies, and a projection that tries to commit by hand.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "tests/support/worker_fleet.h"

using namespace std::chrono_literals;
using projd::testing::WaitFor;
using projd::testing::WorkerFleet;

TEST_CASE("a team's own main runs factory-built projections with their dependency, exactly once",
          "[cluster][sdk]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "labelled_counts"}, {"TEAM_LABEL", "blue"}});
  fleet.UseBinary(PROJD_OWN_MAIN_WORKER);
  fleet.Seed(1000, 40, "s");
  fleet.Start("w1");
  fleet.Start("w2");
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("labelled_counts"); }, 30s));
  // Every event counted once, under the label the factory passed in.
  CHECK(fleet.db().Scalar<std::int64_t>("SELECT coalesce(sum(events), 0) FROM labelled_counts WHERE label = 'blue'") ==
        1000);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM labelled_counts WHERE label <> 'blue'") == 0);
}

TEST_CASE("a projection that commits by hand writes nothing: refused, rolled back, its events dead-lettered",
          "[cluster][sdk]") {
  WorkerFleet fleet(std::map<std::string, std::string>{{"PROJECTIONS", "self_committing"}});
  fleet.UseBinary(PROJD_OWN_MAIN_WORKER);
  fleet.Seed(30, 5, "c");
  fleet.Start("w1");
  // Skip policy: each event is isolated and dead-lettered once its retries are spent.
  REQUIRE(WaitFor([&] { return fleet.CaughtUp("self_committing"); }, 60s));
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM self_committed") == 0);
  CHECK(fleet.db().Scalar<int>("SELECT count(*) FROM projd_dead_letters WHERE projection = 'self_committing'") >= 1);
  CHECK(fleet.db().Scalar<std::string>(
            "SELECT coalesce(min(error), '') FROM projd_dead_letters WHERE projection = 'self_committing'")
            .find("may not end or restart") != std::string::npos);
}
