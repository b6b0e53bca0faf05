#include <catch2/catch.hpp>

#include "orchestrator/high_water_mark.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::HighWaterMark;
using projd::PositionObservation;

namespace {
PositionObservation Obs(std::int64_t upper, std::vector<std::int64_t> missing, std::uint64_t xmin) {
  return {upper, std::move(missing), xmin};
}
}  // namespace

TEST_CASE("with no gaps the mark follows the highest position", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {}, 100), clock.Now()) == 10);
  CHECK(h.Observe(Obs(25, {}, 100), clock.Now()) == 25);
  CHECK(h.Observe(Obs(20, {}, 100), clock.Now()) == 25);  // never moves back
  CHECK(h.open_gaps() == 0);
  CHECK_FALSE(h.NeedsXidBound(clock.Now()));
}

TEST_CASE("a gap holds the mark below it until it fills, and then is read", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {4}, 90), clock.Now()) == 3);
  CHECK(h.open_gaps() == 1);
  clock.Advance(10s);  // long past the grace: a live writer still holds position 4
  REQUIRE(h.NeedsXidBound(clock.Now()));
  h.RecordXidBound(97, clock.Now());
  CHECK_FALSE(h.NeedsXidBound(clock.Now()));
  CHECK(h.Observe(Obs(12, {4}, 91), clock.Now()) == 3);  // xmin 91 < x2 97: still held
  CHECK(h.blocking_gap()->proof_xid == 97u);
  CHECK(h.Observe(Obs(12, {}, 91), clock.Now()) == 12);  // the writer committed
  CHECK(h.open_gaps() == 0);
}

TEST_CASE("a rolled-back position is passed only after the grace and the xmin proof", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {7}, 50), clock.Now()) == 6);
  clock.Advance(1s);
  // Inside the grace no bound is wanted, whatever xmin says.
  CHECK_FALSE(h.NeedsXidBound(clock.Now()));
  h.RecordXidBound(60, clock.Now());
  CHECK(h.Observe(Obs(10, {7}, 70), clock.Now()) == 6);
  CHECK_FALSE(h.blocking_gap()->proof_xid.has_value());
  clock.Advance(1500ms);
  REQUIRE(h.NeedsXidBound(clock.Now()));
  h.RecordXidBound(75, clock.Now());
  CHECK(h.Observe(Obs(10, {7}, 74), clock.Now()) == 6);  // one older transaction still runs
  // A later snapshot with xmin >= x2 while 7 is still absent proves it permanent.
  CHECK(h.Observe(Obs(11, {7}, 75), clock.Now()) == 11);
  CHECK(h.open_gaps() == 0);
}

TEST_CASE("a hole at the very top (H+1, nothing visible above) is tracked too", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(8, 2s);
  // The sequence handed out 9 but nothing is visible above 8.
  CHECK(h.Observe(Obs(9, {9}, 10), clock.Now()) == 8);
  REQUIRE(h.open_gaps() == 1);
  CHECK(h.blocking_gap()->position == 9);
  clock.Advance(3s);
  h.RecordXidBound(13, clock.Now());
  CHECK(h.Observe(Obs(9, {9}, 12), clock.Now()) == 8);
  CHECK(h.Observe(Obs(9, {9}, 13), clock.Now()) == 9);
}

TEST_CASE("later gaps get their proofs while an earlier one blocks", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 1s);
  h.Observe(Obs(10, {3, 6}, 10), clock.Now());
  clock.Advance(2s);
  h.RecordXidBound(20, clock.Now());  // x2 = 20 for both
  CHECK(h.Observe(Obs(10, {3, 6}, 10), clock.Now()) == 2);
  // 3's writer commits; 6 rolled back; xmin passes 20 in the same snapshot.
  CHECK(h.Observe(Obs(10, {6}, 21), clock.Now()) == 10);
  CHECK(h.OldestGapAge(clock.Now()) == 0ms);
}

TEST_CASE("a gap first seen later gets its own grace", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  h.Observe(Obs(10, {4}, 1), clock.Now());
  clock.Advance(1500ms);
  h.Observe(Obs(12, {4, 11}, 1), clock.Now());
  CHECK(h.open_gaps() == 2);
  CHECK(h.OldestGapAge(clock.Now()) == 1500ms);
  clock.Advance(600ms);
  h.RecordXidBound(5, clock.Now());  // only 4 has passed its grace
  const auto gaps = h.gaps();
  CHECK(gaps[0].proof_xid == 5u);
  CHECK_FALSE(gaps[1].proof_xid.has_value());
}
