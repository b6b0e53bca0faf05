// The release of partitions given up in a handover, driven by a fake clock.
#include <catch2/catch.hpp>

#include "orchestrator/coordination/release_drain.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using namespace projd;
using projd::testing::FakeClock;

namespace {
const MembershipTimings kTimings{200ms, 1s, 3s};
}

TEST_CASE("the release budget is the drain timeout, at most half the coordination timeout",
          "[coordinator][handover]") {
  CHECK(ReleaseDrain::Budget(1s, kTimings) == 1s);
  CHECK(ReleaseDrain::Budget(30s, kTimings) == 1500ms);
}

TEST_CASE("released partitions accumulate under the clock of the first release", "[coordinator][handover]") {
  FakeClock clock;
  ReleaseDrain drain(1s);
  CHECK_FALSE(drain.active());
  CHECK(drain.partitions().empty());
  drain.Add({1, 2}, clock.Now());
  clock.Advance(600ms);
  drain.Add({5}, clock.Now());
  CHECK(drain.active());
  CHECK(drain.partitions() == std::vector<int>{1, 2, 5});
  clock.Advance(400ms);
  CHECK(drain.Overdue(clock.Now()));  // 1 s since the first release, not 400 ms since the last
  drain.Clear();
  CHECK_FALSE(drain.active());
  CHECK(drain.partitions().empty());
}

TEST_CASE("the drain is revoked in slices and given up once the budget is spent", "[coordinator][handover]") {
  FakeClock clock;
  ReleaseDrain drain(1s);
  drain.Add({3}, clock.Now());
  SECTION("a slice is one handover poll while the budget lasts") {
    CHECK_FALSE(drain.Overdue(clock.Now()));
    CHECK(drain.RevokeSlice(clock.Now(), kTimings) == kTimings.HandoverPoll());
    CHECK(drain.RevokeSlice(clock.Now(), kTimings) == 50ms);
  }
  SECTION("the last slice is what is left of the budget") {
    clock.Advance(980ms);
    CHECK_FALSE(drain.Overdue(clock.Now()));
    CHECK(drain.RevokeSlice(clock.Now(), kTimings) == 20ms);
  }
  SECTION("a timed-out drain is tried again within the budget, not after it") {
    CHECK(drain.KeepWaiting(ForceResult::kTimeout, clock.Now()));
    clock.Advance(999ms);
    CHECK(drain.KeepWaiting(ForceResult::kTimeout, clock.Now()));
    clock.Advance(1ms);
    CHECK_FALSE(drain.KeepWaiting(ForceResult::kTimeout, clock.Now()));
    CHECK(drain.Overdue(clock.Now()));
  }
  SECTION("a finished or failed drain ends the release") {
    CHECK_FALSE(drain.KeepWaiting(ForceResult::kOk, clock.Now()));
    CHECK_FALSE(drain.KeepWaiting(ForceResult::kCircuitOpen, clock.Now()));
  }
}

TEST_CASE("the release drains every projection's row of the released partitions", "[coordinator][handover]") {
  const auto keys = ReleaseKeys("rs", {"a", "b"}, {4, 7});
  REQUIRE(keys.size() == 4);
  CHECK(keys[0] == CheckpointKey{"rs", "a", 4});
  CHECK(keys[1] == CheckpointKey{"rs", "a", 7});
  CHECK(keys[2] == CheckpointKey{"rs", "b", 4});
  CHECK(keys[3] == CheckpointKey{"rs", "b", 7});
  CHECK(ReleaseKeys("rs", {}, {1}).empty());
}
