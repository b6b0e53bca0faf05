// The pure rules of a projection reset: directions, refusals, the operator's lines, and which
// --to-time values count as RFC 3339 timestamps.
#include <catch2/catch.hpp>

#include "orchestrator/coordination/projection_reset.h"

using projd::PartitionMove;
using projd::ResetDirection;
using projd::ResetRefusal;
using projd::SkipPolicy;

TEST_CASE("a reset's direction per partition and what it refuses", "[reset]") {
  const std::vector<PartitionMove> back{{0, 80, 50, 12}, {1, 50, 50, 0}};
  const std::vector<PartitionMove> mixed{{0, 80, 50, 12}, {1, 30, 50, 7}};
  CHECK(projd::DirectionOf(back[0]) == ResetDirection::kBack);
  CHECK(projd::DirectionOf(back[1]) == ResetDirection::kNone);
  CHECK(projd::DirectionOf(mixed[1]) == ResetDirection::kForward);
  CHECK(projd::CheckReset(50, 100, back, SkipPolicy::kRefuse) == ResetRefusal::kNone);
  CHECK(projd::CheckReset(50, 100, mixed, SkipPolicy::kRefuse) == ResetRefusal::kSkipNotConfirmed);
  CHECK(projd::CheckReset(50, 100, mixed, SkipPolicy::kAllow) == ResetRefusal::kNone);
  CHECK(projd::CheckReset(-1, 100, back, SkipPolicy::kAllow) == ResetRefusal::kNegativeTarget);
  CHECK(projd::CheckReset(101, 100, back, SkipPolicy::kAllow) == ResetRefusal::kBeyondLatest);
  CHECK(projd::CheckReset(100, 100, mixed, SkipPolicy::kAllow) == ResetRefusal::kNone);
  CHECK(projd::CheckReset(10, 100, {}, SkipPolicy::kAllow) == ResetRefusal::kNoCheckpoints);
  CHECK(projd::EventsMoving(mixed, ResetDirection::kBack) == 12);
  CHECK(projd::EventsMoving(mixed, ResetDirection::kForward) == 7);
  CHECK(projd::DescribeMove(mixed[0], true) == "partition 0: 80 -> 50, back (replay), 12 events");
  CHECK(projd::DescribeMove(mixed[1], false) == "partition 1: 30 -> 50, forward (skip)");
  CHECK(projd::DescribeMove(back[1], true) == "partition 1: 50 -> 50, unchanged");
  CHECK_THAT(projd::Describe(ResetRefusal::kSkipNotConfirmed, 50, 100), Catch::Contains("--skip"));
  CHECK_THAT(projd::Describe(ResetRefusal::kBeyondLatest, 101, 100), Catch::Contains("nothing to skip to"));
}

TEST_CASE("a reset's --to-time takes RFC 3339 date-times with a zone and nothing else", "[reset]") {
  for (const auto* ok : {"2026-12-01T10:00:00Z", "2026-12-01t10:00:00z", "2026-12-01T10:00:00.250+01:00",
                         "2024-02-29T23:59:60-05:30", "2026-12-31T00:00:00+00:00"}) {
    INFO(ok);
    CHECK(projd::IsRfc3339Timestamp(ok));
  }
  for (const auto* bad : {"2026-12-01", "2026-12-01T10:00:00", "2026-12-01 10:00:00Z", "2026-12-01T10:00Z",
                          "2026-13-01T10:00:00Z", "2026-02-29T10:00:00Z", "2026-12-01T24:00:00Z",
                          "2026-12-01T10:00:00+1:00", "yesterday", "now", "", "2026-12-01T10:00:00Z "}) {
    INFO(bad);
    CHECK_FALSE(projd::IsRfc3339Timestamp(bad));
  }
}
