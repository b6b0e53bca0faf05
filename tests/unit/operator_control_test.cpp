// OperatorControl and PartitionStatesOf: pauses read and handed to each lane, partition
// states written only when they changed, database failures counted and retried; and the
// readiness of a worker with paused projections. A scripted ControlStore stands in for
// PgControlStore (tests/pg/control_store_pgtest.cpp covers the real one).
#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>

#include "orchestrator/common/errors.h"
#include "orchestrator/runtime/operator_control.h"
#include "orchestrator/runtime/readiness.h"

using projd::OperatorControl;
using projd::PartitionState;
using projd::PausedPartitions;
using projd::RunnerState;
using projd::RunnerStatus;

namespace {

class ScriptedControlStore final : public projd::ControlStore {
 public:
  std::vector<projd::Pause> pauses;
  bool fail_reads = false;
  bool fail_writes = false;
  std::vector<std::vector<PartitionState>> writes;  // every successful write

  std::vector<projd::Pause> ReadPauses(const std::string&) override {
    if (fail_reads) throw projd::TransientError("connection refused");
    return pauses;
  }
  void WritePartitionStates(const std::string&, const std::string&, const std::vector<PartitionState>& s) override {
    if (fail_writes) throw projd::TransientError("disk full");
    if (!s.empty()) writes.push_back(s);
  }
};

RunnerStatus Runner(const std::string& lane, std::vector<int> owned, RunnerState state = RunnerState::kCaughtUp) {
  RunnerStatus r;
  r.projection = lane;
  r.owned = std::move(owned);
  r.partitions = static_cast<int>(r.owned.size());
  r.state = state;
  return r;
}

struct Fixture {
  ScriptedControlStore store;
  OperatorControl control{store, "rs", "w1", projd::Logger("test", "off", projd::LogFormat::kText)};
  std::map<std::string, PausedPartitions> applied;

  bool Round(const std::vector<RunnerStatus>& runners) {
    std::vector<std::string> lanes;
    for (const auto& r : runners) lanes.push_back(r.projection);
    return control.Round(lanes, [&](const std::string& lane, const PausedPartitions& p) { applied[lane] = p; }, runners);
  }
};

}  // namespace

TEST_CASE("a round hands every lane its projection's pauses, versions included", "[control][pause]") {
  Fixture f;
  f.store.pauses = {{"ledger", projd::kEveryPartition, "ops@host", "migration"}, {"stats", 3, "", ""}};
  REQUIRE(f.Round({Runner("ledger", {0}), Runner("ledger@2", {0}), Runner("stats", {0, 3}), Runner("other", {0})}));
  CHECK(f.applied["ledger"].every);
  CHECK(f.applied["ledger@2"].every);
  CHECK(f.applied["stats"] == PausedPartitions{false, {3}});
  CHECK(f.applied["other"].Empty());
  CHECK(f.control.Status().pauses_known);
  CHECK(f.control.Status().pauses.size() == 2);
}

TEST_CASE("partition states are written when they change, and only then", "[control]") {
  Fixture f;
  REQUIRE(f.Round({Runner("stats", {0, 1})}));
  REQUIRE(f.store.writes.size() == 1);
  CHECK(f.store.writes[0] == std::vector<PartitionState>{{"stats", 0, "caught_up", ""}, {"stats", 1, "caught_up", ""}});
  f.Round({Runner("stats", {0, 1})});
  CHECK(f.store.writes.size() == 1);  // nothing changed, nothing written
  auto failing = Runner("stats", {0, 1}, RunnerState::kFailing);
  failing.last_error = "lock timeout";
  f.Round({failing});
  REQUIRE(f.store.writes.size() == 2);
  CHECK(f.store.writes[1].size() == 2);
  CHECK(f.store.writes[1][0].last_error == "lock timeout");
  SECTION("a partition released and taken back is written again (another owner may have written it)") {
    auto released = failing;
    released.owned = {0};
    f.Round({released});
    f.store.writes.clear();
    f.Round({failing});
    REQUIRE(f.store.writes.size() == 1);
    CHECK(f.store.writes[0] == std::vector<PartitionState>{{"stats", 1, "failing", "lock timeout"}});
  }
}

TEST_CASE("a failed read keeps the last pauses and is retried, a failed write is written again", "[control][pause]") {
  Fixture f;
  f.store.pauses = {{"stats", projd::kEveryPartition, "", ""}};
  REQUIRE(f.Round({Runner("stats", {0})}));
  f.store.pauses.clear();
  f.store.fail_reads = true;
  f.applied.clear();
  CHECK_FALSE(f.Round({Runner("stats", {0})}));
  CHECK(f.applied.empty());  // an outage resumes nothing
  CHECK(f.control.Status().errors == 1);
  CHECK(f.control.Status().last_error.find("connection refused") != std::string::npos);
  CHECK(f.control.Status().pauses.size() == 1);
  f.store.fail_reads = false;
  f.store.fail_writes = true;
  f.store.writes.clear();
  CHECK(f.Round({Runner("stats", {0}, RunnerState::kRunning)}));
  CHECK(f.applied["stats"].Empty());
  CHECK(f.control.Status().errors == 2);
  f.store.fail_writes = false;
  f.Round({Runner("stats", {0}, RunnerState::kRunning)});
  REQUIRE(f.store.writes.size() == 1);
  CHECK(f.store.writes[0] == std::vector<PartitionState>{{"stats", 0, "running", ""}});
}

TEST_CASE("a partition shows its pause or its stop before its runner's state", "[control][pause]") {
  auto r = Runner("stats", {0, 1, 2}, RunnerState::kPaused);
  r.paused = {false, {1}};
  r.stopped.push_back({2, 77, "poison"});
  r.last_error = "earlier";
  const auto states = projd::PartitionStatesOf({r});
  CHECK(states == std::vector<PartitionState>{
                      {"stats", 0, "caught_up", "earlier"}, {"stats", 1, "paused", "earlier"}, {"stats", 2, "stopped", "poison"}});
}

TEST_CASE("a paused projection leaves the worker ready and is listed, unknown pauses make it unready",
          "[control][pause][readiness]") {
  projd::WorkerStatus s;
  s.replica_set = "rs";
  s.coordination.registered = true;
  s.coordination.healthy = true;
  s.persistence.circuit_breaker_state = "closed";
  auto r = Runner("stats", {0, 1}, RunnerState::kPaused);
  r.paused = {true, {}};
  s.runners.push_back(r);
  s.control = projd::OperatorControlStatus{.pauses_known = true};
  auto ready = projd::CheckReadiness(s);
  CHECK(ready.ready);
  REQUIRE(ready.paused.size() == 1);
  CHECK(ready.paused[0] == "projection stats paused by an operator on every partition");
  s.control->pauses_known = false;
  s.control->last_error = "reading the pauses: permission denied";
  ready = projd::CheckReadiness(s);
  CHECK_FALSE(ready.ready);
  CHECK(ready.paused.empty());
}
