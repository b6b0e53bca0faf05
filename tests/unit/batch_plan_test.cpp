// PlanBatch and ToBatch: what a runner reads in a round, and what the read becomes (the
// replay flag, the checkpoints that move and where from), without threads or stores.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "orchestrator/runtime/batch_plan.h"

using namespace std::chrono_literals;
using projd::BatchPlan;
using projd::OwnedPartition;
using projd::PausedPartitions;
using projd::PlanBatch;
using projd::PoisonIsolation;
using projd::ReadResult;
using projd::ToBatch;

namespace {

PoisonIsolation NotIsolating() { return PoisonIsolation({1, 1ms, 1ms, true}); }

// An isolation bound at `until` (a failed batch of several events, max_attempts 1).
PoisonIsolation IsolatingUntil(std::int64_t until) {
  PoisonIsolation iso({1, 1ms, 1ms, true});
  REQUIRE(iso.OnHandlerFailure(false, 2, until) == PoisonIsolation::Next::kIsolate);
  return iso;
}

BatchPlan Plan(const std::map<int, OwnedPartition>& owned, std::int64_t mark, const PoisonIsolation& iso,
               const std::set<int>& stopped = {}, const PausedPartitions& paused = {}) {
  return PlanBatch({.owned = owned, .stopped = stopped, .paused = paused, .partition_count = 8, .mark = mark,
                    .isolation = iso, .batch_size = 5});
}

ReadResult Result(std::vector<std::pair<int, std::int64_t>> events, std::int64_t scanned_to) {
  ReadResult r;
  for (const auto& [partition, position] : events) {
    projd::EventWithPartition e;
    e.partition = partition;
    e.event.global_position = position;
    e.event.aggregate_id = "agg-" + std::to_string(position);
    r.events.push_back(std::move(e));
  }
  r.scanned_to = scanned_to;
  return r;
}

}  // namespace

TEST_CASE("a plan reads every owned partition after its position, up to the mark, in batches of batch_size",
          "[runner][plan]") {
  const auto iso = NotIsolating();
  const auto plan = Plan({{0, {1, 5, 0}}, {3, {2, 9, 0}}}, 20, iso);
  CHECK_FALSE(plan.caught_up);
  CHECK_FALSE(plan.isolating);
  CHECK(plan.request.after == std::map<int, std::int64_t>{{0, 5}, {3, 9}});
  CHECK(plan.request.partition_count == 8);
  CHECK(plan.request.high_water_mark == 20);
  CHECK(plan.request.limit == 5);
  CHECK(plan.partitions.size() == 2);
  CHECK(plan.partitions.at(3).generation == 2);
}

TEST_CASE("a plan skips stopped partitions", "[runner][plan]") {
  const auto iso = NotIsolating();
  const std::map<int, OwnedPartition> owned{{0, {1, 5, 0}}, {1, {1, 3, 0}}, {2, {1, 7, 0}}};
  SECTION("one stopped: the others are read, and the lowest position is theirs") {
    const auto plan = Plan(owned, 10, iso, {1});
    CHECK_FALSE(plan.caught_up);
    CHECK(plan.request.after == std::map<int, std::int64_t>{{0, 5}, {2, 7}});
    CHECK(plan.partitions.count(1) == 0);
  }
  SECTION("the stopped partition was the only one behind the mark: caught up") {
    const auto plan = Plan({{0, {1, 10, 0}}, {1, {1, 3, 0}}}, 10, iso, {1});
    CHECK(plan.caught_up);
    CHECK(plan.partitions.size() == 1);  // still the round's partitions (marked in flight)
  }
  SECTION("every one stopped: nothing to read") {
    const auto plan = Plan(owned, 10, iso, {0, 1, 2});
    CHECK(plan.caught_up);
    CHECK(plan.partitions.empty());
  }
  SECTION("a stopped partition the runner does not own changes nothing") {
    const auto plan = Plan(owned, 10, iso, {6});
    CHECK(plan.partitions.size() == 3);
  }
}

TEST_CASE("a plan skips paused partitions and says when only a pause holds it back", "[runner][plan][pause]") {
  const auto iso = NotIsolating();
  const std::map<int, OwnedPartition> owned{{0, {1, 5, 0}}, {1, {1, 3, 0}}, {2, {1, 10, 0}}};
  SECTION("one paused: the others are read") {
    const auto plan = Plan(owned, 10, iso, {}, {false, {1}});
    CHECK_FALSE(plan.caught_up);
    CHECK_FALSE(plan.paused);
    CHECK(plan.request.after == std::map<int, std::int64_t>{{0, 5}, {2, 10}});
  }
  SECTION("the paused partitions are the only ones behind: caught up, held by the pause") {
    const auto plan = Plan(owned, 10, iso, {}, {false, {0, 1}});
    CHECK(plan.caught_up);
    CHECK(plan.paused);
  }
  SECTION("paused as a whole: nothing is read") {
    const auto plan = Plan(owned, 10, iso, {}, {true, {}});
    CHECK(plan.caught_up);
    CHECK(plan.paused);
    CHECK(plan.partitions.empty());
  }
  SECTION("every owned partition paused at the mark: still paused") {
    const auto plan = Plan({{2, {1, 10, 0}}}, 10, iso, {}, {false, {2}});
    CHECK(plan.caught_up);
    CHECK(plan.paused);
  }
  SECTION("a paused partition at the mark beside one that is read: not held by the pause") {
    const auto plan = Plan(owned, 10, iso, {}, {false, {2}});
    CHECK_FALSE(plan.caught_up);
    CHECK_FALSE(plan.paused);
  }
  SECTION("a pause of a partition the runner does not own changes nothing") {
    const auto plan = Plan(owned, 10, iso, {}, {false, {7}});
    CHECK(plan.partitions.size() == 3);
    CHECK_FALSE(plan.paused);
  }
}

TEST_CASE("a plan is caught up when the lowest position has reached the mark", "[runner][plan]") {
  const auto iso = NotIsolating();
  CHECK(Plan({}, 10, iso).caught_up);                                  // owns nothing readable
  CHECK(Plan({{0, {1, 10, 0}}, {1, {1, 12, 0}}}, 10, iso).caught_up);  // each at or past the mark
  CHECK(Plan({{0, {1, 0, 0}}}, 0, iso).caught_up);
  const auto behind = Plan({{0, {1, 10, 0}}, {1, {1, 9, 0}}}, 10, iso);
  CHECK_FALSE(behind.caught_up);
  CHECK(behind.request.after == std::map<int, std::int64_t>{{0, 10}, {1, 9}});  // the one at the mark is read too
}

TEST_CASE("a plan reads one event per batch while isolating a poison event", "[runner][plan]") {
  const auto iso = IsolatingUntil(30);
  SECTION("the lowest position is below the bound") {
    const auto plan = Plan({{0, {1, 25, 0}}, {1, {1, 12, 0}}}, 40, iso);
    CHECK(plan.isolating);
    CHECK(plan.request.limit == 1);
  }
  SECTION("every partition has passed the bound: whole batches again") {
    const auto plan = Plan({{0, {1, 30, 0}}, {1, {1, 31, 0}}}, 40, iso);
    CHECK_FALSE(plan.isolating);
    CHECK(plan.request.limit == 5);
  }
  SECTION("a stopped partition below the bound does not keep the runner isolating") {
    const auto plan = Plan({{0, {1, 30, 0}}, {1, {1, 12, 0}}}, 40, iso, {1});
    CHECK_FALSE(plan.isolating);
    CHECK(plan.request.limit == 5);
  }
}

TEST_CASE("a batch hands its events over in order, with the partition of each", "[runner][plan]") {
  const auto iso = NotIsolating();
  const auto plan = Plan({{0, {1, 0, 0}}, {1, {1, 0, 0}}}, 20, iso);
  SECTION("a partial batch") {
    const auto batch = ToBatch(plan, Result({{1, 2}, {0, 3}, {1, 7}}, 20), "rs", "p", "w1");
    REQUIRE(batch.events.size() == 3);
    CHECK(batch.events[0].global_position == 2);
    CHECK(batch.events[2].aggregate_id == "agg-7");
    CHECK(batch.partitions == std::vector<int>{1, 0, 1});
    CHECK(batch.read == 3);
    CHECK(batch.last_position == 7);
    CHECK_FALSE(batch.full);
    CHECK(batch.only.global_position == 0);  // not a batch of one
  }
  SECTION("a full batch: a backlog") {
    const auto batch = ToBatch(plan, Result({{0, 1}, {0, 2}, {1, 3}, {1, 4}, {0, 5}}, 5), "rs", "p", "w1");
    CHECK(batch.full);
  }
  SECTION("a batch of one keeps its event aside (the poison, when it fails)") {
    const auto batch = ToBatch(plan, Result({{1, 4}}, 20), "rs", "p", "w1");
    CHECK(batch.only.global_position == 4);
    CHECK(batch.only.aggregate_id == "agg-4");
    CHECK(batch.last_position == 4);
  }
  SECTION("nothing read") {
    const auto batch = ToBatch(plan, Result({}, 20), "rs", "p", "w1");
    CHECK(batch.events.empty());
    CHECK(batch.read == 0);
    CHECK(batch.last_position == 0);
    CHECK_FALSE(batch.full);
  }
}

TEST_CASE("a batch of one event is full while isolating", "[runner][plan]") {
  const auto iso = IsolatingUntil(30);
  const auto plan = Plan({{0, {1, 10, 0}}}, 40, iso);
  REQUIRE(plan.request.limit == 1);
  CHECK(ToBatch(plan, Result({{0, 11}}, 11), "rs", "p", "w1").full);
}

TEST_CASE("a batch is a replay when an event is at or below its partition's replay_until", "[runner][plan]") {
  const auto iso = NotIsolating();
  const auto plan = Plan({{0, {1, 0, 5}}, {1, {1, 0, 0}}}, 20, iso);
  CHECK(ToBatch(plan, Result({{0, 3}}, 20), "rs", "p", "w1").replaying);
  CHECK(ToBatch(plan, Result({{1, 2}, {0, 5}}, 20), "rs", "p", "w1").replaying);  // at the replay mark
  CHECK_FALSE(ToBatch(plan, Result({{0, 6}, {0, 7}}, 20), "rs", "p", "w1").replaying);
  // Partition 1's events are never replays, whatever partition 0's replay mark.
  CHECK_FALSE(ToBatch(plan, Result({{1, 2}, {1, 4}}, 20), "rs", "p", "w1").replaying);
}

TEST_CASE("a batch's progress moves only the partitions behind scanned_to, from their positions", "[runner][plan]") {
  const auto iso = NotIsolating();
  const auto plan = Plan({{0, {3, 5, 0}}, {1, {4, 12, 0}}, {2, {1, 8, 0}}, {4, {2, 10, 0}}}, 20, iso);
  const auto batch = ToBatch(plan, Result({{0, 6}, {2, 9}}, 10), "rs", "proj", "w1");
  const auto& progress = batch.progress;
  REQUIRE(progress.checkpoints.size() == 2);  // 1 is ahead of scanned_to, 4 at it
  REQUIRE(progress.from.size() == 2);
  CHECK(progress.checkpoints[0].key == projd::CheckpointKey{"rs", "proj", 0});
  CHECK(progress.checkpoints[0].position == 10);
  CHECK(progress.checkpoints[0].generation == 3);
  CHECK(progress.checkpoints[0].writer == "w1");
  CHECK(progress.from[0] == 5);
  CHECK(progress.checkpoints[1].key == projd::CheckpointKey{"rs", "proj", 2});
  CHECK(progress.checkpoints[1].position == 10);
  CHECK(progress.checkpoints[1].generation == 1);
  CHECK(progress.from[1] == 8);
  // A partition without any event in the batch moves too: it had nothing up to scanned_to.
  const auto empty = ToBatch(plan, Result({}, 20), "rs", "proj", "w1");
  CHECK(empty.progress.checkpoints.size() == 4);
  CHECK(empty.progress.from == std::vector<std::int64_t>{5, 12, 8, 10});
}

namespace {

// The runner's rounds over one partition's events 1..n, a handler that fails on `poison`,
// PlanBatch, ToBatch and PoisonIsolation as the runner uses them: which batches are handed
// over, in order.
std::vector<std::vector<std::int64_t>> Rounds(std::int64_t n, std::int64_t poison, int max_attempts,
                                              std::vector<std::int64_t>* dead_letters) {
  PoisonIsolation iso({max_attempts, 1ms, 1ms, /*skip=*/true});
  std::map<int, OwnedPartition> owned{{0, {1, 0, 0}}};
  std::vector<std::vector<std::int64_t>> handed;
  for (int round = 0; round < 100; ++round) {
    const auto plan = PlanBatch({.owned = owned, .stopped = {}, .paused = {}, .partition_count = 1, .mark = n,
                                 .isolation = iso, .batch_size = 4});
    if (plan.caught_up) break;
    std::vector<std::pair<int, std::int64_t>> read;
    for (auto p = plan.request.after.at(0) + 1; p <= n && static_cast<int>(read.size()) < plan.request.limit; ++p) {
      read.emplace_back(0, p);
    }
    const bool full = static_cast<int>(read.size()) >= plan.request.limit;
    auto batch = ToBatch(plan, Result(read, full ? read.back().second : n), "rs", "p", "w1");
    std::vector<std::int64_t> positions;
    for (const auto& e : batch.events) positions.push_back(e.global_position);
    handed.push_back(positions);
    const bool fails = std::count(positions.begin(), positions.end(), poison) > 0;
    if (fails) {
      const auto next = iso.OnHandlerFailure(plan.isolating, batch.read, batch.last_position);
      if (next != PoisonIsolation::Next::kApplyPolicy) continue;
      dead_letters->push_back(batch.only.global_position);  // skip: the batch's progress commits
    } else {
      iso.OnSuccess();
    }
    for (const auto& cp : batch.progress.checkpoints) owned[cp.key.partition].position = cp.position;
  }
  return handed;
}

}  // namespace

TEST_CASE("planning and isolation find a poison event one event at a time, then read whole batches again",
          "[runner][plan][isolation]") {
  using V = std::vector<std::int64_t>;
  std::vector<std::int64_t> dead;
  SECTION("max_attempts 1") {
    const auto handed = Rounds(10, 3, 1, &dead);
    CHECK(handed == std::vector<V>{{1, 2, 3, 4}, {1}, {2}, {3}, {4}, {5, 6, 7, 8}, {9, 10}});
  }
  SECTION("max_attempts 2") {
    const auto handed = Rounds(10, 3, 2, &dead);
    CHECK(handed == std::vector<V>{{1, 2, 3, 4}, {1, 2, 3, 4}, {1}, {2}, {3}, {3}, {4}, {5, 6, 7, 8}, {9, 10}});
  }
  CHECK(dead == V{3});
}
