#include <catch2/catch.hpp>

#include <deque>
#include <utility>

#include "orchestrator/errors.h"
#include "orchestrator/high_water_mark_follower.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;

namespace {
// Scripted observations; an empty script entry throws TransientError.
class ScriptedSource final : public projd::PositionSource {
 public:
  std::deque<std::optional<projd::PositionObservation>> script;
  std::uint64_t next_xid = 100;
  int observes = 0;

  projd::PositionObservation Observe(std::int64_t, std::int64_t) override {
    ++observes;
    auto next = script.front();
    if (script.size() > 1) script.pop_front();
    if (!next) throw projd::TransientError("connection lost");
    return *next;
  }
  bool next_xid_in_doubt = false;  // the x2 transaction's commit loses the connection once
  std::uint64_t NextXidBound() override {
    if (std::exchange(next_xid_in_doubt, false)) throw projd::InDoubtError("connection lost while committing");
    return next_xid;
  }
  std::optional<projd::HoldingTransaction> OldestTransaction() override {
    projd::HoldingTransaction h;
    h.pid = 42;
    h.xid = "99";
    h.state = "idle in transaction";
    return h;
  }
};
}  // namespace

TEST_CASE("a failing observation is counted and the follower continues from its state", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {projd::PositionObservation{10, {}, 50}, std::nullopt, projd::PositionObservation{20, {}, 50}};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 10);
  CHECK_FALSE(follower.Advance());
  CHECK(follower.errors() == 1);
  CHECK_THAT(follower.last_error(), Catch::Contains("connection lost"));
  CHECK(follower.mark() == 10);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 20);
}

TEST_CASE("the follower takes x2 for gaps past the grace and reports the holder", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {projd::PositionObservation{10, {5}, 50}};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 4);
  CHECK_FALSE(follower.Status().held_by.has_value());  // no proof pending yet
  clock.Advance(2s);
  CHECK(follower.Advance());  // x2 = 100 recorded; xmin 50 holds it
  const auto status = follower.Status();
  CHECK(status.mark == 4);
  CHECK(status.open_gaps == 1);
  CHECK(status.oldest_gap_age == 2s);
  REQUIRE(status.held_by.has_value());
  CHECK(status.held_by->pid == 42);
  source.script = {projd::PositionObservation{10, {5}, 100}};  // the holder ended
  CHECK(follower.Advance());
  CHECK(follower.mark() == 10);
}

TEST_CASE("an x2 read whose commit is in doubt is a failed round, not the end of the follower", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {projd::PositionObservation{10, {5}, 50}};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  clock.Advance(2s);
  source.next_xid_in_doubt = true;
  CHECK_FALSE(follower.Advance());
  CHECK(follower.errors() == 1);
  CHECK_THAT(follower.last_error(), Catch::Contains("committing"));
  CHECK(follower.mark() == 4);
  CHECK(follower.Advance());  // x2 taken now; xmin 50 still holds the gap
  source.script = {projd::PositionObservation{10, {5}, 100}};
  CHECK(follower.Advance());
  CHECK(follower.mark() == 10);
}

TEST_CASE("a long stream is followed window after window in one Advance", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {projd::PositionObservation{100, {}, 1}, projd::PositionObservation{200, {}, 1},
                   projd::PositionObservation{250, {}, 1}};
  projd::HighWaterMarkFollower follower(source, clock, 1s, 0, 100);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 250);
  CHECK(source.observes == 3);
}
