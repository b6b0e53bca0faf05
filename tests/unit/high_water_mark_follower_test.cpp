#include <catch2/catch.hpp>

#include <deque>
#include <utility>

#include "orchestrator/reading/backlog_barrier.h"
#include "orchestrator/common/errors.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::PositionObservation;
using projd::WithWriters;
using projd::WriteLockHolder;

namespace {
// Scripted observations (the last one repeats); an empty entry throws TransientError.
// Writers are filled in from `holders` when the follower asks for them.
class ScriptedSource final : public projd::PositionSource {
 public:
  std::deque<std::optional<PositionObservation>> script;
  std::vector<WriteLockHolder> holders;
  int observes = 0;
  int with_writers = 0;
  std::int64_t stored = 0;
  std::vector<std::int64_t> saves;
  bool save_fails = false;
  bool save_denied = false;
  bool observe_permanent_error = false;
  std::string history = "h1";  // the events history every observation reports

  PositionObservation Observe(std::int64_t, std::int64_t, WithWriters writers) override {
    ++observes;
    if (observe_permanent_error) throw projd::PermanentError("cannot execute SELECT in a read-only transaction");
    auto next = script.front();
    if (script.size() > 1) script.pop_front();
    if (!next) throw projd::TransientError("connection lost");
    next->history = history;
    if (writers == WithWriters::kYes) {
      ++with_writers;
      next->writers = holders;
    }
    return *next;
  }
  std::int64_t last_position = 0;  // the sequence's last value (0: no backlog barrier)
  int censuses = 0;
  projd::LastPosition ReadLastPosition() override { return {last_position, history, false}; }
  projd::WriterCensus ReadWriters() override {
    ++censuses;
    return {holders, history};
  }
  std::optional<projd::HoldingTransaction> OldestWriter(const std::vector<WriteLockHolder>& writers) override {
    if (writers.empty()) return std::nullopt;
    projd::HoldingTransaction h;
    h.pid = 42;
    h.state = "active";
    h.wait_event = "Lock/transactionid";
    return h;
  }
  projd::StoredMark LoadProvenMark() override { return {history == stored_history ? stored : 0, history}; }
  std::string stored_history = "h1";
  void SaveProvenMark(std::int64_t mark, const std::string& h) override {
    if (h != history) return;
    stored_history = h;
    if (save_fails) throw projd::InDoubtError("connection lost while committing");
    if (save_denied) throw projd::PermanentError("permission denied for table projd_proven_marks");
    saves.push_back(mark);
    stored = mark;
  }
};

PositionObservation Obs(std::int64_t upper, std::vector<std::int64_t> missing) {
  return {upper, std::move(missing), std::nullopt};
}
}  // namespace

TEST_CASE("a failing observation is counted and the follower continues from its state", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {Obs(10, {}), std::nullopt, Obs(20, {})};
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

TEST_CASE("a permanent database error is a failed round, not the end of the follower", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {Obs(10, {})};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  source.observe_permanent_error = true;
  CHECK_FALSE(follower.Advance());
  CHECK_THAT(follower.last_error(), Catch::Contains("read-only"));
  source.observe_permanent_error = false;
  CHECK(follower.Advance());
  CHECK(follower.mark() == 10);
}

TEST_CASE("the follower asks for writers only past the grace, names the holder, and proves at once when they end",
          "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {Obs(10, {5})};
  source.holders = {{"3/7", false}};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 4);
  CHECK(source.with_writers == 0);
  CHECK_FALSE(follower.Status().held);
  clock.Advance(2s);
  CHECK(follower.Advance());  // records W = {3/7}
  CHECK(source.with_writers == 1);
  const auto status = follower.Status();
  CHECK(status.mark == 4);
  CHECK(status.open_gaps == 1);
  CHECK(status.oldest_gap_age == 2s);
  CHECK(status.held);
  REQUIRE(status.held_by.has_value());
  CHECK(status.held_by->wait_event == "Lock/transactionid");
  source.holders = {{"6/1", false}};  // 3/7 rolled back; 6/1 is a newer writer
  const int before = source.observes;
  CHECK(follower.Advance());
  CHECK(follower.mark() == 10);  // the next snapshot, taken in the same Advance, proved 5
  CHECK(source.observes == before + 2);
  CHECK_FALSE(follower.Status().held);
}

TEST_CASE("a long stream is followed window after window in one Advance", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {Obs(100, {}), Obs(200, {}), Obs(250, {})};
  projd::HighWaterMarkFollower follower(source, clock, 1s, 0, 100);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 250);
  CHECK(source.observes == 3);
}

TEST_CASE("the follower starts at the stored proven mark and stores what it proves", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.stored = 1000;
  source.script = {Obs(1010, {1005})};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 1004);  // old gaps below 1000 are neither seen nor waited for
  CHECK(source.saves.empty());     // 1004 moved less than kStoreEvery ago
  clock.Advance(2s);
  CHECK(follower.Advance());  // W = {} (no writer of events): proven in the same Advance
  CHECK(follower.mark() == 1010);
  CHECK(source.saves == std::vector<std::int64_t>{1010});  // a proven gap is stored at once
  CHECK(follower.Status().stored_mark == 1010);
  source.script = {Obs(1020, {})};
  CHECK(follower.Advance());
  CHECK(source.saves.size() == 1);
  clock.Advance(projd::HighWaterMarkFollower::kStoreEvery);
  CHECK(follower.Advance());
  CHECK(source.saves == std::vector<std::int64_t>{1010, 1020});
}

TEST_CASE("a follower started above the stored mark never stores it", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.stored = 100;
  source.script = {Obs(600, {})};
  projd::HighWaterMarkFollower follower(source, clock, 1s, 500);  // projd read --from 500
  CHECK(follower.Advance());
  clock.Advance(1h);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 600);
  CHECK(source.saves.empty());
}

TEST_CASE("a store whose commit is in doubt is a failed round and is repeated", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {Obs(10, {})};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  source.script = {Obs(20, {})};
  clock.Advance(projd::HighWaterMarkFollower::kStoreEvery);
  source.save_fails = true;
  CHECK_FALSE(follower.Advance());
  CHECK(follower.errors() == 1);
  CHECK_THAT(follower.last_error(), Catch::Contains("committing"));
  CHECK(follower.mark() == 20);
  source.save_fails = false;
  CHECK(follower.Advance());
  CHECK(source.saves == std::vector<std::int64_t>{20});
}

TEST_CASE("a follower that may not store the mark reports it once and goes on without storing", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.script = {Obs(10, {})};
  source.save_denied = true;
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  source.script = {Obs(20, {})};
  clock.Advance(projd::HighWaterMarkFollower::kStoreEvery);
  CHECK_FALSE(follower.Advance());
  CHECK_THAT(follower.last_error(), Catch::Contains("permission denied"));
  CHECK(follower.mark() == 20);
  source.script = {Obs(30, {})};
  clock.Advance(projd::HighWaterMarkFollower::kStoreEvery);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 30);
  CHECK(follower.errors() == 1);
}

TEST_CASE("a follower whose events table was emptied under it starts over in the new history", "[hwm][follower]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.stored = 500;
  source.script = {Obs(510, {})};
  projd::HighWaterMarkFollower follower(source, clock, 1s);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 510);
  // TRUNCATE ... RESTART IDENTITY: position 1 is open, 2 and 3 committed.
  source.history = "h2";
  source.script = {Obs(3, {1})};
  CHECK(follower.Advance());
  CHECK(follower.mark() == 0);  // neither 510 nor the stored 500 belong to this history
  CHECK(follower.Status().history_changes == 1);
  source.script = {Obs(3, {})};
  CHECK(follower.Advance());
  CHECK(follower.mark() == 3);
  clock.Advance(projd::HighWaterMarkFollower::kStoreEvery);
  CHECK(follower.Advance());
  CHECK(source.saves.back() == 3);
  CHECK(source.stored_history == "h2");
}

TEST_CASE("a backlog beyond one window is proven at once when no writer holds the lock", "[hwm][follower][barrier]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.last_position = 100'000;
  source.script = {Obs(100'000, {})};
  projd::HighWaterMarkFollower follower(source, clock, 1s, 0, 100);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 100'000);
  CHECK(source.observes == 1);  // not a thousand windows
  CHECK(source.censuses == 1);
  CHECK(follower.Status().barrier_raises == 1);
  CHECK(source.saves == std::vector<std::int64_t>{100'000});  // stored at once, like a proven gap
  // Followed by windows again once close: no more barrier statements.
  source.script = {Obs(100'050, {})};
  CHECK(follower.Advance());
  CHECK(follower.mark() == 100'050);
  CHECK(source.censuses == 1);
}

TEST_CASE("a backlog barrier waits for every writer that held the lock when it began", "[hwm][follower][barrier]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.last_position = 1000;
  source.holders = {{"3/7", false}, {"-1/9", true}};
  // Meanwhile the windows go on: 120 is missing (its writer may be 3/7).
  source.script = {Obs(100, {}), Obs(150, {120})};
  projd::HighWaterMarkFollower follower(source, clock, 1s, 0, 100);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 119);
  CHECK(follower.Status().barrier_raises == 0);
  // 3/7 ended, 6/1 started after the barrier began; the prepared holder is still there.
  source.holders = {{"6/1", false}, {"-1/9", true}};
  CHECK(follower.Advance());
  CHECK(follower.mark() == 119);
  // The prepared transaction ended too: only 6/1, which cannot hold a position <= 1000.
  source.holders = {{"6/1", false}};
  source.script = {Obs(1000, {})};
  CHECK(follower.Advance());
  CHECK(follower.mark() == 1000);
  CHECK(follower.Status().barrier_raises == 1);
}

TEST_CASE("a backlog barrier of an earlier history is dropped", "[hwm][follower][barrier]") {
  projd::testing::FakeClock clock;
  ScriptedSource source;
  source.last_position = 1000;
  source.holders = {{"3/7", false}};
  source.script = {Obs(100, {}), Obs(150, {120})};
  projd::HighWaterMarkFollower follower(source, clock, 1s, 0, 100);
  CHECK(follower.Advance());
  CHECK(follower.mark() == 119);
  // TRUNCATE ... RESTART IDENTITY, then 30 new events; the old writer is gone.
  source.history = "h2";
  source.last_position = 30;
  source.holders = {};
  source.script = {Obs(30, {})};
  CHECK(follower.Advance());
  CHECK(follower.mark() == 30);  // not 1000: that barrier belonged to the old history
  CHECK(follower.Status().barrier_raises == 0);
}

TEST_CASE("BacklogBarrier: a census of another history ends it without a raise", "[hwm][barrier]") {
  projd::BacklogBarrier barrier;
  barrier.Begin({500, "h1", false});
  CHECK(barrier.pending());
  CHECK_FALSE(barrier.Apply({{{"3/7", false}}, "h1"}).has_value());
  CHECK_FALSE(barrier.Apply({{}, "h2"}).has_value());
  CHECK_FALSE(barrier.pending());
  barrier.Begin({500, "h1", false});
  CHECK(barrier.Apply({{}, "h1"}) == std::optional<std::int64_t>(500));
  CHECK_FALSE(barrier.pending());
}
