#include <catch2/catch.hpp>

#include "orchestrator/high_water_mark.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::HighWaterMark;
using projd::PositionObservation;

namespace {
PositionObservation Obs(std::int64_t upper, std::vector<std::int64_t> missing, std::uint64_t xmin,
                        std::uint64_t xmax) {
  return {upper, std::move(missing), xmin, xmax};
}
}  // namespace

TEST_CASE("with no gaps the mark follows the highest position", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {}, 100, 100), clock.Now()) == 10);
  CHECK(h.Observe(Obs(25, {}, 100, 100), clock.Now()) == 25);
  CHECK(h.Observe(Obs(20, {}, 100, 100), clock.Now()) == 25);  // never moves back
  CHECK(h.open_gaps() == 0);
}

TEST_CASE("a gap holds the mark below it until it fills, and then is read", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {4}, 90, 95), clock.Now()) == 3);
  CHECK(h.open_gaps() == 1);
  clock.Advance(10s);  // long past the grace: a live writer still holds position 4
  CHECK(h.Observe(Obs(12, {4}, 90, 97), clock.Now()) == 3);  // x2 = 97 recorded
  clock.Advance(10s);
  CHECK(h.Observe(Obs(12, {4}, 91, 98), clock.Now()) == 3);  // xmin 91 < x2: still held
  CHECK(h.blocking_gap()->proof_xmax == 97u);
  CHECK(h.Observe(Obs(12, {}, 91, 98), clock.Now()) == 12);  // the writer committed
  CHECK(h.open_gaps() == 0);
}

TEST_CASE("a rolled-back position is passed only after the grace and the xmin proof", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {7}, 50, 60), clock.Now()) == 6);
  clock.Advance(1s);
  // Inside the grace nothing is recorded, whatever xmin says.
  CHECK(h.Observe(Obs(10, {7}, 70, 70), clock.Now()) == 6);
  CHECK_FALSE(h.blocking_gap()->proof_xmax.has_value());
  clock.Advance(1500ms);
  // Past the grace: x2 = 75 is recorded; xmin 60 < 75 so not yet proven.
  CHECK(h.Observe(Obs(10, {7}, 60, 75), clock.Now()) == 6);
  // A later snapshot with xmin >= x2 while 7 is still absent proves it permanent.
  CHECK(h.Observe(Obs(11, {7}, 75, 80), clock.Now()) == 11);
  CHECK(h.open_gaps() == 0);
}

TEST_CASE("with no transaction running the gap is proven by the snapshot that records x2", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  h.Observe(Obs(5, {5}, 40, 41), clock.Now());
  clock.Advance(2s);
  CHECK(h.Observe(Obs(5, {5}, 41, 41), clock.Now()) == 5);
}

TEST_CASE("a hole at the very top (H+1, nothing visible above) is tracked too", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(8, 2s);
  // The sequence handed out 9 but nothing is visible above 8.
  CHECK(h.Observe(Obs(9, {9}, 10, 12), clock.Now()) == 8);
  REQUIRE(h.open_gaps() == 1);
  CHECK(h.blocking_gap()->position == 9);
  clock.Advance(3s);
  CHECK(h.Observe(Obs(9, {9}, 10, 12), clock.Now()) == 8);
  CHECK(h.Observe(Obs(9, {9}, 12, 13), clock.Now()) == 9);
}

TEST_CASE("later gaps get their proofs while an earlier one blocks", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 1s);
  h.Observe(Obs(10, {3, 6}, 10, 20), clock.Now());
  clock.Advance(2s);
  h.Observe(Obs(10, {3, 6}, 10, 20), clock.Now());  // x2 = 20 for both
  // 3's writer is alive (it commits later); 6 rolled back. xmin passes 20 only once 3 is done,
  // so simulate: 3 becomes visible in the same snapshot where xmin >= 20.
  CHECK(h.Observe(Obs(10, {6}, 21, 22), clock.Now()) == 10);
  CHECK(h.OldestGapAge(clock.Now()) == 0ms);
}

TEST_CASE("gap age reports the oldest open gap", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 5s);
  h.Observe(Obs(10, {4}, 1, 2), clock.Now());
  clock.Advance(1500ms);
  h.Observe(Obs(12, {4, 11}, 1, 2), clock.Now());
  CHECK(h.open_gaps() == 2);
  CHECK(h.OldestGapAge(clock.Now()) == 1500ms);
}
