#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "orchestrator/common/errors.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/projection_version.h"
#include "orchestrator/versions/version_rules.h"
#include "orchestrator/versions/version_steward.h"
#include "orchestrator/versions/version_store.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::LaneKey;
using projd::ParseLaneKey;
using projd::ProjectionVersion;
using projd::VersionSchemaName;
using projd::VersionState;

namespace {

ProjectionVersion V(const std::string& projection, int version, VersionState state, std::string schema = "",
                    int partitions_behind = 0, std::int64_t max_behind = 0) {
  ProjectionVersion v;
  v.projection = projection;
  v.version = version;
  v.state = state;
  v.schema = std::move(schema);
  v.partitions_behind = partitions_behind;
  v.max_behind = max_behind;
  return v;
}

}  // namespace

// --- lane keys -------------------------------------------------------------------------

TEST_CASE("version 1 keeps the projection's name as its lane key and later versions add @N", "[versions]") {
  CHECK(LaneKey("orders", 1) == "orders");
  CHECK(LaneKey("orders", 2) == "orders@2");
  CHECK(LaneKey("orders", 9999) == "orders@9999");
}

TEST_CASE("a lane key parses back into the projection and version it was made from", "[versions]") {
  for (const int version : {1, 2, 3, 10, 42, 9999}) {
    INFO("version " << version);
    const auto parsed = ParseLaneKey(LaneKey("stream_stats", version));
    CHECK(parsed.projection == "stream_stats");
    CHECK(parsed.version == version);
  }
  const auto dashed = ParseLaneKey(LaneKey("v2-orders", 7));
  CHECK(dashed.projection == "v2-orders");
  CHECK(dashed.version == 7);
}

TEST_CASE("a malformed version suffix makes the whole key version 1", "[versions]") {
  for (const auto* key : {"a@", "a@x", "a@1", "a@0", "a@01x", "a@-2", "a@2b", "a@99999999999"}) {
    INFO(key);
    const auto parsed = ParseLaneKey(key);
    CHECK(parsed.projection == key);
    CHECK(parsed.version == 1);
  }
  const auto plain = ParseLaneKey("orders");
  CHECK(plain.projection == "orders");
  CHECK(plain.version == 1);
}

// --- version schemas -------------------------------------------------------------------

TEST_CASE("a version's schema is named after the projection, prefixed by the stable schema unless that is public",
          "[versions]") {
  CHECK(VersionSchemaName("public", "orders", 2) == "orders_v2");
  CHECK(VersionSchemaName("projd", "orders", 2) == "projd_orders_v2");
  CHECK(VersionSchemaName("projd", "orders", 1) == "projd_orders_v1");
  CHECK(VersionSchemaName("public", "orders", 1) != VersionSchemaName("other", "orders", 1));
}

TEST_CASE("a version schema name longer than PostgreSQL allows is cut to 63 bytes with a stable hash suffix",
          "[versions]") {
  const std::string stable(40, 's');
  const std::string projection(40, 'p');
  const auto full = stable + "_" + projection + "_v2";
  REQUIRE(full.size() > 63);
  const auto name = VersionSchemaName(stable, projection, 2);
  CHECK(name.size() == 63);
  CHECK(name.substr(0, 54) == full.substr(0, 54));
  REQUIRE(name[54] == '_');
  for (std::size_t i = 55; i < name.size(); ++i) {
    INFO("character " << i << " of " << name);
    CHECK(std::string("0123456789abcdef").find(name[i]) != std::string::npos);
  }
  CHECK(VersionSchemaName(stable, projection, 2) == name);  // the same every time
  // The suffix is FNV-1a of the whole name: a schema made by one build is found by the next.
  CHECK(name.substr(54) == "_33571b8f");

  // Exactly 63 bytes is left alone.
  const std::string fits(63 - std::string("_v3").size(), 'f');
  CHECK(VersionSchemaName("public", fits, 3) == fits + "_v3");
}

TEST_CASE("two long projection names that differ only at the end get different schemas", "[versions]") {
  const std::string prefix(60, 'x');
  const auto a = VersionSchemaName("projd", prefix + "_alpha", 2);
  const auto b = VersionSchemaName("projd", prefix + "_omega", 2);
  CHECK(a.size() <= 63);
  CHECK(b.size() <= 63);
  CHECK(a != b);
  // Versions of one long name differ too.
  CHECK(VersionSchemaName("projd", prefix + "_alpha", 3) != a);
}

// --- states ------------------------------------------------------------------------------

TEST_CASE("building, ready and active versions run, retired and dropped ones do not", "[versions]") {
  CHECK(projd::VersionRuns(VersionState::kBuilding));
  CHECK(projd::VersionRuns(VersionState::kReady));
  CHECK(projd::VersionRuns(VersionState::kActive));
  CHECK_FALSE(projd::VersionRuns(VersionState::kRetired));
  CHECK_FALSE(projd::VersionRuns(VersionState::kDropped));
}

TEST_CASE("a version state parses from its own name and an unknown name is refused", "[versions]") {
  for (auto s : {VersionState::kBuilding, VersionState::kReady, VersionState::kActive, VersionState::kRetired,
                 VersionState::kDropped}) {
    INFO(projd::ToString(s));
    CHECK(projd::ParseVersionState(projd::ToString(s)) == s);
  }
  CHECK(std::string(projd::ToString(VersionState::kActive)) == "active");
  CHECK_THROWS_AS(projd::ParseVersionState("Active"), std::invalid_argument);
  CHECK_THROWS_AS(projd::ParseVersionState(""), std::invalid_argument);
  CHECK_THROWS_WITH(projd::ParseVersionState("paused"), Catch::Contains("paused"));
}

TEST_CASE("the lanes of a projection's versions run where their state says, in their own schemas", "[versions]") {
  const auto lanes = projd::LanesOf({V("orders", 1, VersionState::kRetired, "projd_orders_v1"),
                                     V("orders", 2, VersionState::kActive, "projd_orders_v2"),
                                     V("orders", 3, VersionState::kBuilding, "projd_orders_v3"),
                                     V("orders", 4, VersionState::kDropped, "projd_orders_v4"),
                                     V("stats", 1, VersionState::kActive, ""),
                                     V("stats", 2, VersionState::kReady, "projd_stats_v2")});
  REQUIRE(lanes.size() == 6);
  CHECK_FALSE(lanes.at("orders").runs);
  CHECK(lanes.at("orders").schema == "projd_orders_v1");
  CHECK(lanes.at("orders@2").runs);
  CHECK(lanes.at("orders@2").schema == "projd_orders_v2");
  CHECK(lanes.at("orders@3").runs);
  CHECK_FALSE(lanes.at("orders@4").runs);
  CHECK(lanes.at("stats").runs);
  CHECK(lanes.at("stats").schema.empty());  // version 1 in place
  CHECK(lanes.at("stats@2").runs);
  CHECK(projd::LanesOf({}).empty());
}

// --- switching ---------------------------------------------------------------------------

TEST_CASE("a switch is worth trying for a building or ready version that is caught up or covers the gap in the wait",
          "[versions]") {
  using projd::SwitchWorthTrying;
  CHECK(SwitchWorthTrying(V("p", 2, VersionState::kBuilding, "s", 0, 0), 0, 1000ms));
  CHECK(SwitchWorthTrying(V("p", 2, VersionState::kReady, "s", 0, 0), 0, 1000ms));
  // 1,000 positions behind: 500/s covers them in 3 s (and exactly in 2 s), not in 1 s.
  const auto behind = V("p", 2, VersionState::kBuilding, "s", 3, 1000);
  CHECK(SwitchWorthTrying(behind, 500, 3000ms));
  CHECK(SwitchWorthTrying(behind, 500, 2000ms));
  CHECK_FALSE(SwitchWorthTrying(behind, 500, 1000ms));
  CHECK_FALSE(SwitchWorthTrying(behind, 0, 60000ms));  // no progress: never
  // Only building and ready versions are switched to.
  CHECK_FALSE(SwitchWorthTrying(V("p", 2, VersionState::kActive, "s"), 1e9, 1000ms));
  CHECK_FALSE(SwitchWorthTrying(V("p", 2, VersionState::kRetired, "s"), 1e9, 1000ms));
  CHECK_FALSE(SwitchWorthTrying(V("p", 2, VersionState::kDropped, "s"), 1e9, 1000ms));
}

TEST_CASE("the catch-up estimate is the largest gap over the progress rate, zero when caught up", "[versions]") {
  using projd::CatchUpEstimate;
  CHECK(CatchUpEstimate(V("p", 2, VersionState::kBuilding, "s", 0, 0), 0) == 0.0);
  CHECK_FALSE(CatchUpEstimate(V("p", 2, VersionState::kBuilding, "s", 2, 1000), 0).has_value());
  const auto estimate = CatchUpEstimate(V("p", 2, VersionState::kBuilding, "s", 2, 1000), 250);
  REQUIRE(estimate.has_value());
  CHECK(*estimate == Approx(4.0));
}

TEST_CASE("progress rates are positions per second between observations, smoothed over rounds", "[versions]") {
  projd::ProgressRates rates;
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(5));
  CHECK(rates.PerSecond("p@2") == 0.0);  // never seen
  rates.Observe("p@2", 1000, t0);
  CHECK(rates.PerSecond("p@2") == 0.0);  // one observation has no rate
  rates.Observe("p@2", 1200, t0 + 2s);
  CHECK(rates.PerSecond("p@2") == Approx(100.0));
  rates.Observe("p@2", 1800, t0 + 4s);  // 300/s this round
  CHECK(rates.PerSecond("p@2") == Approx(200.0));
  rates.Observe("p@2", 5000, t0 + 4s);  // no time passed: ignored
  CHECK(rates.PerSecond("p@2") == Approx(200.0));
  rates.Observe("p@2", 1800, t0 + 5s);  // standing still halves the rate
  CHECK(rates.PerSecond("p@2") == Approx(100.0));
  rates.Observe("p@2", 0, t0 + 6s);  // a rebuild moved it back: no negative rate
  CHECK(rates.PerSecond("p@2") == Approx(50.0));
  CHECK(rates.PerSecond("p") == 0.0);  // lanes are apart
  rates.Observe("p", 10, t0);
  rates.Observe("p", 20, t0 + 1s);
  CHECK(rates.PerSecond("p") == Approx(10.0));
  CHECK(rates.PerSecond("p@2") == Approx(50.0));
}

TEST_CASE("a retired version's retention is over once it has been retired that long, never with retention 0",
          "[versions]") {
  using projd::RetentionOver;
  auto retired = V("p", 1, VersionState::kRetired, "s1");
  retired.state_age_seconds = 3600;
  CHECK(RetentionOver(retired, std::chrono::hours(1)));
  CHECK(RetentionOver(retired, 30min));
  CHECK_FALSE(RetentionOver(retired, std::chrono::hours(2)));
  CHECK_FALSE(RetentionOver(retired, 0ms));  // kept until dropped by hand
  for (auto state : {VersionState::kBuilding, VersionState::kReady, VersionState::kActive, VersionState::kDropped}) {
    INFO(projd::ToString(state));
    auto v = V("p", 2, state, "s2");
    v.state_age_seconds = 1e6;
    CHECK_FALSE(RetentionOver(v, 1000ms));
  }
}

TEST_CASE("promote picks the highest building or ready version of the projection", "[versions]") {
  const std::vector<ProjectionVersion> versions{
      V("p", 1, VersionState::kRetired, "s1"), V("p", 2, VersionState::kActive, "s2"),
      V("p", 3, VersionState::kReady, "s3"),   V("p", 4, VersionState::kBuilding, "s4"),
      V("p", 5, VersionState::kDropped, "s5"), V("q", 9, VersionState::kBuilding, "q9")};
  CHECK(projd::PromoteTarget(versions, "p") == 4);
  CHECK(projd::PromoteTarget(versions, "q") == 9);
  CHECK_FALSE(projd::PromoteTarget(versions, "r").has_value());
  const std::vector<ProjectionVersion> settled{V("p", 1, VersionState::kRetired, "s1"),
                                               V("p", 2, VersionState::kActive, "s2"),
                                               V("p", 3, VersionState::kDropped, "s3")};
  CHECK_FALSE(projd::PromoteTarget(settled, "p").has_value());
  const std::vector<ProjectionVersion> ready_only{V("p", 1, VersionState::kActive), V("p", 2, VersionState::kReady, "s")};
  CHECK(projd::PromoteTarget(ready_only, "p") == 2);
}

TEST_CASE("rollback picks the version of the projection retired most recently", "[versions]") {
  auto v1 = V("p", 1, VersionState::kRetired, "s1");
  v1.state_age_seconds = 3600;
  auto v2 = V("p", 2, VersionState::kRetired, "s2");
  v2.state_age_seconds = 60;
  auto v3 = V("p", 3, VersionState::kActive, "s3");
  v3.state_age_seconds = 59;
  auto q = V("q", 1, VersionState::kRetired, "q1");
  q.state_age_seconds = 1;
  CHECK(projd::RollbackTarget({v1, v2, v3, q}, "p") == 2);
  CHECK(projd::RollbackTarget({v2, v1, v3, q}, "p") == 2);  // not by order
  v1.state_age_seconds = 10;
  CHECK(projd::RollbackTarget({v1, v2, v3, q}, "p") == 1);
  CHECK(projd::RollbackTarget({v1, v2, v3, q}, "q") == 1);
  auto dropped = V("p", 4, VersionState::kDropped, "s4");
  dropped.state_age_seconds = 0;
  CHECK_FALSE(projd::RollbackTarget({v3, dropped}, "p").has_value());
}

// --- the steward ---------------------------------------------------------------------------

namespace {

// A VersionStore over a list of versions the test edits; records what the steward asks.
class FakeVersionStore final : public projd::VersionStore {
 public:
  std::vector<ProjectionVersion> versions;
  bool fail = false;
  projd::SwitchOutcome switch_outcome = projd::SwitchOutcome::kSwitched;
  std::vector<std::pair<std::string, projd::SwitchRequest>> switches;
  std::vector<std::string> marked_ready;  // lane keys
  std::vector<std::string> dropped;       // lane keys
  int lists = 0;

  std::vector<ProjectionVersion> Register(const std::string&, const std::string& projection,
                                          const std::vector<int>&) override {
    std::vector<ProjectionVersion> out;
    for (const auto& v : versions) {
      if (v.projection == projection) out.push_back(v);
    }
    return out;
  }
  std::vector<ProjectionVersion> List(const std::string&) override {
    ++lists;
    if (fail) throw projd::TransientError("list projection versions: connection refused");
    return versions;
  }
  bool PointStableNames(const std::string&, const std::string&, int) override { return false; }
  bool MarkReady(const std::string&, const std::string& projection, int version) override {
    marked_ready.push_back(LaneKey(projection, version));
    auto* v = Find(projection, version);
    if (!v || v->state != VersionState::kBuilding) return false;
    v->state = VersionState::kReady;
    return true;
  }
  projd::SwitchResult Switch(const std::string& replica_set, const projd::SwitchRequest& request) override {
    switches.emplace_back(replica_set, request);
    projd::SwitchResult out;
    out.outcome = switch_outcome;
    auto* target = Find(request.projection, request.to_version);
    for (auto& v : versions) {
      if (v.projection == request.projection && v.state == VersionState::kActive) out.from_version = v.version;
    }
    if (switch_outcome != projd::SwitchOutcome::kSwitched || !target) return out;
    for (auto& v : versions) {
      if (v.projection == request.projection && v.state == VersionState::kActive) v.state = VersionState::kRetired;
    }
    target->state = VersionState::kActive;
    target->partitions_behind = 0;
    target->max_behind = 0;
    out.generation = 7;
    out.stable_names = 1;
    return out;
  }
  bool Resume(const std::string&, const std::string& projection, int version) override {
    auto* v = Find(projection, version);
    if (!v || v->state != VersionState::kRetired) return false;
    v->state = VersionState::kBuilding;
    return true;
  }
  projd::DropResult Drop(const std::string&, const std::string& projection, int version) override {
    dropped.push_back(LaneKey(projection, version));
    auto* v = Find(projection, version);
    if (!v || v->state == VersionState::kActive || v->state == VersionState::kDropped) return {false, "no"};
    v->state = VersionState::kDropped;
    return {true, ""};
  }

  ProjectionVersion* Find(const std::string& projection, int version) {
    for (auto& v : versions) {
      if (v.projection == projection && v.version == version) return &v;
    }
    return nullptr;
  }
};

projd::Logger Quiet() { return projd::Logger("test", "off", projd::LogFormat::kText); }

projd::VersionStewardOptions Options(bool switch_auto) {
  projd::VersionStewardOptions o;
  o.replica_set = "rs";
  o.switch_auto = switch_auto;
  o.catch_up_wait = 1000ms;
  o.building_interval = 1000ms;
  o.idle_interval = 10000ms;
  return o;
}

// Version 1 serving in place, version 2 building beside it.
std::vector<ProjectionVersion> Building(int partitions_behind, std::int64_t max_behind, std::int64_t v2_min) {
  auto v1 = V("p", 1, VersionState::kActive, "");
  v1.min_position = 5000;
  auto v2 = V("p", 2, VersionState::kBuilding, "projd_p_v2", partitions_behind, max_behind);
  v2.min_position = v2_min;
  return {v1, v2};
}

}  // namespace

TEST_CASE("in auto mode the steward switches a version this worker builds once it has caught up",
          "[versions][steward]") {
  FakeVersionStore store;
  projd::testing::FakeClock clock;
  store.versions = Building(2, 4000, 1000);
  projd::VersionSteward steward(store, clock, Quiet(), Options(true), {"p", "p@2"});

  // Behind, and no progress seen yet: nothing to try.
  CHECK(steward.Round() == 1000ms);  // it builds a version: the short interval
  CHECK(store.switches.empty());
  auto status = steward.Status();
  CHECK(status.known);
  REQUIRE(status.versions.size() == 2);
  CHECK(status.versions[1].runs_here);
  CHECK_FALSE(status.versions[1].catch_up_seconds.has_value());  // no rate yet

  clock.Advance(1000ms);
  store.versions = Building(0, 0, 5000);  // caught up on every partition
  CHECK(steward.Round() == 1000ms);
  REQUIRE(store.switches.size() == 1);
  CHECK(store.switches[0].first == "rs");
  CHECK(store.switches[0].second.projection == "p");
  CHECK(store.switches[0].second.to_version == 2);
  CHECK(store.switches[0].second.require == projd::SwitchRequest::Require::kCaughtUp);
  CHECK(store.switches[0].second.catch_up_wait == 1000ms);
  status = steward.Status();
  CHECK(status.switches == 1);
  CHECK(status.switch_attempts == 1);
  CHECK(status.last_error.empty());

  // The next round reads the switch: version 2 active in its schema, version 1 stopped.
  clock.Advance(1000ms);
  CHECK(steward.Round() == 10000ms);  // nothing left to build: the long interval
  CHECK(store.switches.size() == 1);
  const auto lanes = steward.Lanes();
  CHECK_FALSE(lanes.at("p").runs);
  CHECK(lanes.at("p@2").runs);
  CHECK(lanes.at("p@2").schema == "projd_p_v2");
}

TEST_CASE("the steward tries a switch when the progress rate covers the gap within the wait, and counts a miss",
          "[versions][steward]") {
  FakeVersionStore store;
  store.switch_outcome = projd::SwitchOutcome::kNotCaughtUp;
  projd::testing::FakeClock clock;
  store.versions = Building(2, 20000, 0);
  projd::VersionSteward steward(store, clock, Quiet(), Options(true), {"p", "p@2"});
  steward.Round();
  CHECK(store.switches.empty());

  clock.Advance(2000ms);
  store.versions = Building(2, 10000, 10000);  // 5,000/s: the remaining gap is 2 s away
  steward.Round();
  CHECK(store.switches.empty());  // 10,000 behind, 5,000 in a 1 s wait
  auto status = steward.Status();
  REQUIRE(status.versions.size() == 2);
  CHECK(status.versions[1].positions_per_second == Approx(5000));
  REQUIRE(status.versions[1].catch_up_seconds.has_value());
  CHECK(*status.versions[1].catch_up_seconds == Approx(2.0));

  clock.Advance(1000ms);
  store.versions = Building(1, 3000, 15000);  // 5,000/s again: 3,000 fits in the wait
  steward.Round();
  REQUIRE(store.switches.size() == 1);
  status = steward.Status();
  CHECK(status.switch_attempts == 1);
  CHECK(status.switches == 0);
  CHECK(steward.Lanes().at("p").runs);  // still version 1's
}

TEST_CASE("the steward does not switch to a version this worker does not have", "[versions][steward]") {
  FakeVersionStore store;
  projd::testing::FakeClock clock;
  store.versions = Building(0, 0, 5000);
  projd::VersionSteward steward(store, clock, Quiet(), Options(true), {"p"});  // an old binary: version 1 only
  CHECK(steward.Round() == 10000ms);  // builds nothing itself
  clock.Advance(1000ms);
  steward.Round();
  CHECK(store.switches.empty());
  CHECK(store.marked_ready.empty());
  const auto status = steward.Status();
  REQUIRE(status.versions.size() == 2);
  CHECK(status.versions[0].runs_here);
  CHECK_FALSE(status.versions[1].runs_here);
  // It still learns the lanes (version 2 runs elsewhere, in its schema).
  CHECK(steward.Lanes().at("p@2").runs);
  CHECK(steward.Lanes().at("p").runs);
}

TEST_CASE("in manual mode the steward marks a caught-up version ready instead of switching", "[versions][steward]") {
  FakeVersionStore store;
  projd::testing::FakeClock clock;
  store.versions = Building(1, 100, 4900);
  projd::VersionSteward steward(store, clock, Quiet(), Options(false), {"p", "p@2"});
  steward.Round();
  clock.Advance(1000ms);
  store.versions = Building(1, 50, 4950);  // nearly there, but not on every partition: not ready
  steward.Round();
  CHECK(store.marked_ready.empty());

  clock.Advance(1000ms);
  store.versions = Building(0, 0, 5000);
  steward.Round();
  CHECK(store.marked_ready == std::vector<std::string>{"p@2"});
  CHECK(store.switches.empty());
  CHECK(store.versions[1].state == VersionState::kReady);

  clock.Advance(1000ms);
  steward.Round();  // ready already: neither marked again nor switched
  CHECK(store.marked_ready.size() == 1);
  CHECK(store.switches.empty());
  CHECK(steward.Status().switch_attempts == 0);
  CHECK(steward.Lanes().at("p@2").runs);  // a ready version keeps running
}

TEST_CASE("after a store error the steward keeps the last known lane states and reports the error",
          "[versions][steward]") {
  FakeVersionStore store;
  projd::testing::FakeClock clock;
  store.versions = Building(2, 4000, 1000);
  projd::VersionSteward steward(store, clock, Quiet(), Options(true), {"p", "p@2"});
  steward.Round();
  const auto before = steward.Lanes();
  REQUIRE(before.size() == 2);

  store.fail = true;
  clock.Advance(1000ms);
  CHECK(steward.Round() == 1000ms);  // retried at the short interval
  auto status = steward.Status();
  CHECK_THAT(status.last_error, Catch::Contains("connection refused"));
  CHECK(status.known);
  CHECK(status.versions.size() == 2);  // what the last good round saw
  const auto kept = steward.Lanes();
  CHECK(kept.size() == before.size());
  CHECK(kept.at("p").runs);
  CHECK(kept.at("p@2").runs);
  CHECK(kept.at("p@2").schema == "projd_p_v2");
  const auto refreshed = steward.Refresh();
  CHECK(refreshed.at("p@2").schema == "projd_p_v2");
  CHECK(refreshed.size() == 2);
  CHECK_FALSE(steward.Status().last_error.empty());

  store.fail = false;
  clock.Advance(1000ms);
  steward.Round();
  CHECK(steward.Status().last_error.empty());
}

TEST_CASE("a refresh returns the lanes as the store has them, starting from the initial ones, and switches nothing",
          "[versions][steward]") {
  FakeVersionStore store;
  projd::testing::FakeClock clock;
  projd::VersionSteward steward(store, clock, Quiet(), Options(true), {"p", "p@2", "other"});
  steward.SetInitial({{"p", {true, ""}}, {"p@2", {true, "projd_p_v2"}}, {"other", {true, ""}}});
  CHECK_FALSE(steward.Status().known);

  store.fail = true;
  auto lanes = steward.Refresh();  // nothing read yet: the initial states
  CHECK(lanes.size() == 3);
  CHECK(lanes.at("p@2").schema == "projd_p_v2");
  CHECK_FALSE(steward.Status().known);

  store.fail = false;
  store.versions = Building(0, 0, 5000);
  store.versions[0].state = VersionState::kRetired;  // another worker switched
  store.versions[0].schema = "projd_p_v1";
  store.versions[1].state = VersionState::kActive;
  lanes = steward.Refresh();
  CHECK(lanes.size() == 3);
  CHECK_FALSE(lanes.at("p").runs);
  CHECK(lanes.at("p").schema == "projd_p_v1");
  CHECK(lanes.at("p@2").runs);
  CHECK(lanes.at("other").runs);  // not in the store: kept as it started
  CHECK(steward.Status().known);
  CHECK(steward.Lanes().at("p").schema == "projd_p_v1");

  // A building version caught up: a refresh only reads.
  store.versions = Building(0, 0, 5000);
  steward.Refresh();
  CHECK(store.switches.empty());
  CHECK(store.marked_ready.empty());
}

TEST_CASE("the steward drops a retired version kept longer than the retention, and none with retention 0",
          "[versions][steward]") {
  FakeVersionStore store;
  projd::testing::FakeClock clock;
  auto old = V("p", 1, VersionState::kRetired, "projd_p_v1");
  old.state_age_seconds = 7200;
  auto recent = V("p", 2, VersionState::kRetired, "projd_p_v2");
  recent.state_age_seconds = 60;
  const auto active = V("p", 3, VersionState::kActive, "projd_p_v3");
  auto gone = V("p", 4, VersionState::kDropped, "projd_p_v4");
  gone.state_age_seconds = 1e6;

  SECTION("retention 0: kept until dropped by hand") {
    store.versions = {old, recent, active, gone};
    projd::VersionSteward steward(store, clock, Quiet(), Options(true), {"p@3"});
    steward.Round();
    CHECK(store.dropped.empty());
  }
  SECTION("retention of an hour: only the version retired two hours ago") {
    store.versions = {old, recent, active, gone};
    auto options = Options(true);
    options.retention = std::chrono::hours(1);
    projd::VersionSteward steward(store, clock, Quiet(), options, {"p@3"});  // no code of version 1 needed
    steward.Round();
    CHECK(store.dropped == std::vector<std::string>{"p"});
    CHECK(store.versions[0].state == VersionState::kDropped);
    CHECK(store.switches.empty());
    clock.Advance(10s);
    steward.Round();
    CHECK(store.dropped.size() == 1);  // dropped once
  }
}
