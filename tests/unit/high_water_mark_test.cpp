#include <catch2/catch.hpp>

#include "orchestrator/reading/high_water_mark.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::HighWaterMark;
using projd::PositionObservation;
using projd::WriteLockHolder;

namespace {
PositionObservation Obs(std::int64_t upper, std::vector<std::int64_t> missing) {
  return {upper, std::move(missing), std::nullopt};
}
PositionObservation Obs(std::int64_t upper, std::vector<std::int64_t> missing, std::vector<WriteLockHolder> writers) {
  return {upper, std::move(missing), std::move(writers)};
}
WriteLockHolder W(std::string vxid) { return {std::move(vxid), false}; }
WriteLockHolder Prepared(std::string vxid) { return {std::move(vxid), true}; }
}  // namespace

TEST_CASE("with no gaps the mark follows the highest position", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {}), clock.Now()) == 10);
  CHECK(h.Observe(Obs(25, {}), clock.Now()) == 25);
  CHECK(h.Observe(Obs(20, {}), clock.Now()) == 25);  // never moves back
  CHECK(h.open_gaps() == 0);
  CHECK_FALSE(h.NeedsWriters(clock.Now()));
}

TEST_CASE("a gap holds the mark below it while its writer runs, however long, and then is read", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {4}), clock.Now()) == 3);
  clock.Advance(10s);  // long past the grace
  REQUIRE(h.NeedsWriters(clock.Now()));
  // 4's writer (3/7) is still inside its INSERT, e.g. waiting on an ON CONFLICT arbiter.
  CHECK(h.Observe(Obs(12, {4}, {W("3/7"), W("5/1")}), clock.Now()) == 3);
  clock.Advance(1h);
  CHECK(h.Observe(Obs(12, {4}, {W("3/7")}), clock.Now()) == 3);
  CHECK(h.Observe(Obs(12, {4}, {W("3/7")}), clock.Now()) == 3);
  REQUIRE(h.blocking_gap()->writers.has_value());
  CHECK(h.blocking_gap()->writers->size() == 1);
  CHECK_FALSE(h.ProofDue());
  CHECK(h.Observe(Obs(12, {}), clock.Now()) == 12);  // the writer committed
  CHECK(h.open_gaps() == 0);
  CHECK(h.passed_proven() == 0);
}

TEST_CASE("a rolled-back position is passed only after the grace, its writers' end and one more snapshot", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  CHECK(h.Observe(Obs(10, {7}), clock.Now()) == 6);
  clock.Advance(1s);
  CHECK_FALSE(h.NeedsWriters(clock.Now()));  // inside the grace nothing is asked
  CHECK(h.Observe(Obs(10, {7}, {}), clock.Now()) == 6);
  CHECK_FALSE(h.blocking_gap()->writers.has_value());
  clock.Advance(1500ms);
  REQUIRE(h.NeedsWriters(clock.Now()));
  CHECK(h.Observe(Obs(10, {7}, {W("3/1"), W("4/2")}), clock.Now()) == 6);
  // 3/1 ended; 5/9 started writing after the proof began and is not waited for.
  CHECK(h.Observe(Obs(10, {7}, {W("4/2"), W("5/9")}), clock.Now()) == 6);
  CHECK_FALSE(h.ProofDue());
  CHECK(h.Observe(Obs(10, {7}, {W("5/9")}), clock.Now()) == 6);
  // Every writer ended, but this statement's snapshot was taken before it read the locks.
  REQUIRE(h.ProofDue());
  CHECK_FALSE(h.NeedsWriters(clock.Now()));
  CHECK(h.Observe(Obs(11, {7}), clock.Now()) == 11);
  CHECK(h.open_gaps() == 0);
  CHECK(h.passed_proven() == 1);
}

TEST_CASE("a gap whose writers ended is read when the next snapshot shows it", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 1s);
  h.Observe(Obs(10, {7}), clock.Now());
  clock.Advance(2s);
  h.Observe(Obs(10, {7}, {W("3/1")}), clock.Now());
  // 3/1 committed between this statement's snapshot and its read of the locks.
  CHECK(h.Observe(Obs(10, {7}, {}), clock.Now()) == 6);
  CHECK(h.Observe(Obs(10, {}), clock.Now()) == 10);
  CHECK(h.passed_proven() == 0);
}

TEST_CASE("writers are recorded only for a gap an earlier statement saw", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 0ms);
  // The locks of this statement may have been read before 7 was allocated.
  CHECK(h.Observe(Obs(10, {7}, {}), clock.Now()) == 6);
  CHECK_FALSE(h.blocking_gap()->writers.has_value());
  CHECK(h.NeedsWriters(clock.Now()));
  CHECK(h.Observe(Obs(10, {7}, {W("3/1")}), clock.Now()) == 6);
  CHECK(h.blocking_gap()->writers->size() == 1);
}

TEST_CASE("a prepared writer of events holds every proof until it ends", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 1s);
  h.Observe(Obs(10, {7}), clock.Now());
  clock.Advance(2s);
  h.Observe(Obs(10, {7}, {W("3/1")}), clock.Now());
  // 3/1 prepared; on some servers its virtual id changes when it does.
  CHECK(h.Observe(Obs(10, {7}, {Prepared("-1/900")}), clock.Now()) == 6);
  CHECK_FALSE(h.ProofDue());
  CHECK(h.Observe(Obs(10, {7}, {Prepared("-1/900")}), clock.Now()) == 6);
  CHECK(h.Observe(Obs(10, {}), clock.Now()) == 10);  // COMMIT PREPARED
}

TEST_CASE("a hole at the very top (H+1, nothing visible above) is tracked too", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(8, 2s);
  // The sequence handed out 9 but nothing is visible above 8.
  CHECK(h.Observe(Obs(9, {9}), clock.Now()) == 8);
  REQUIRE(h.open_gaps() == 1);
  CHECK(h.blocking_gap()->position == 9);
  clock.Advance(3s);
  CHECK(h.Observe(Obs(9, {9}, {}), clock.Now()) == 8);
  CHECK(h.Observe(Obs(9, {9}), clock.Now()) == 9);
}

TEST_CASE("later gaps get their proofs while an earlier one blocks", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 1s);
  h.Observe(Obs(10, {3, 6}), clock.Now());
  clock.Advance(2s);
  CHECK(h.Observe(Obs(10, {3, 6}, {W("3/1"), W("4/1")}), clock.Now()) == 2);
  CHECK(h.Observe(Obs(10, {3, 6}, {W("3/1")}), clock.Now()) == 2);
  // 3's writer (3/1) commits; 6 was 4/1's and rolled back.
  CHECK(h.Observe(Obs(10, {6}, {}), clock.Now()) == 5);
  CHECK(h.Observe(Obs(10, {6}), clock.Now()) == 10);
  CHECK(h.OldestGapAge(clock.Now()) == 0ms);
}

TEST_CASE("a gap first seen later gets its own grace", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  h.Observe(Obs(10, {4}), clock.Now());
  clock.Advance(1500ms);
  h.Observe(Obs(12, {4, 11}), clock.Now());
  CHECK(h.open_gaps() == 2);
  CHECK(h.OldestGapAge(clock.Now()) == 1500ms);
  clock.Advance(600ms);
  h.Observe(Obs(12, {4, 11}, {W("3/1")}), clock.Now());  // only 4 has passed its grace
  const auto gaps = h.gaps();
  CHECK(gaps[0].writers.has_value());
  CHECK_FALSE(gaps[1].writers.has_value());
}

TEST_CASE("a proven mark from elsewhere raises H and drops the gaps below it", "[hwm]") {
  projd::testing::FakeClock clock;
  HighWaterMark h(0, 2s);
  h.Observe(Obs(10, {4, 12}), clock.Now());
  h.Raise(8);
  CHECK(h.mark() == 8);
  CHECK(h.open_gaps() == 1);
  h.Raise(5);  // never lower
  CHECK(h.mark() == 8);
  CHECK(h.Observe(Obs(14, {12}), clock.Now()) == 11);
}
