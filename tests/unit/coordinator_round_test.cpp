// A coordination round's decisions: self-fencing, what a heartbeat means, the delay before
// the next round; and the status board the round reports to.
#include <catch2/catch.hpp>

#include "orchestrator/coordination/coordinator_status.h"
#include "orchestrator/coordination/membership_rules.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using namespace projd;
using projd::testing::FakeClock;

namespace {
const MembershipTimings kTimings{200ms, 1s, 3s};
}

TEST_CASE("a worker self-fences only while it owns partitions", "[coordinator][membership]") {
  FakeClock clock;
  const auto last = clock.Now();
  clock.Advance(kTimings.SelfFenceAfter());
  CHECK_FALSE(SelfFenceDue(true, last, clock.Now(), kTimings));
  clock.Advance(1ms);
  CHECK(SelfFenceDue(true, last, clock.Now(), kTimings));
  CHECK_FALSE(SelfFenceDue(false, last, clock.Now(), kTimings));
}

TEST_CASE("a heartbeat that finds the row gone evicts, one after a self-fence resumes", "[coordinator][membership]") {
  HeartbeatResult hb;
  hb.found = false;
  CHECK(ClassifyHeartbeat(hb, false) == HeartbeatVerdict::kEvicted);
  CHECK(ClassifyHeartbeat(hb, true) == HeartbeatVerdict::kEvicted);
  hb.found = true;
  CHECK(ClassifyHeartbeat(hb, true) == HeartbeatVerdict::kResumed);
  CHECK(ClassifyHeartbeat(hb, false) == HeartbeatVerdict::kAlive);
}

TEST_CASE("the next round comes after one heartbeat interval unless something is due sooner",
          "[coordinator][membership]") {
  CHECK(kTimings.HandoverPoll() == 50ms);
  CHECK(MembershipTimings{40ms, 1s, 3s}.HandoverPoll() == 20ms);
  CHECK(NextRoundDelay({}, kTimings) == 200ms);
  SECTION("just after the join grace ends") {
    CHECK(NextRoundDelay({120ms, false, false}, kTimings) == 130ms);
    CHECK(NextRoundDelay({195ms, false, false}, kTimings) == 200ms);  // never past the interval
  }
  SECTION("a pending handover is polled") {
    CHECK(NextRoundDelay({0ms, true, false}, kTimings) == 50ms);
    CHECK(NextRoundDelay({20ms, true, false}, kTimings) == 30ms);  // the grace still wins when sooner
  }
  SECTION("a draining release or busy rows are retried within 250 ms") {
    CHECK(NextRoundDelay({0ms, false, true}, MembershipTimings{5s, 30s, 60s}) == 250ms);
    CHECK(NextRoundDelay({0ms, false, true}, kTimings) == 200ms);
    CHECK(NextRoundDelay({0ms, true, true}, kTimings) == 50ms);
  }
}

TEST_CASE("the status board counts heartbeats, failures and self-fencing", "[coordinator]") {
  CoordinatorStatusBoard board;
  board.Registered();
  CHECK(board.Snapshot().registered);
  CHECK(board.Snapshot().healthy);
  board.Failed("connection refused");
  board.SelfFenced();
  auto s = board.Snapshot();
  CHECK_FALSE(s.healthy);
  CHECK(s.self_fenced);
  CHECK(s.last_error == "connection refused");
  CHECK(s.counters.heartbeat_failures == 1);
  CHECK(s.counters.self_fenced == 1);

  CHECK(board.HeartbeatSucceeded(12ms, 3));  // it was self-fenced: resumes
  CHECK_FALSE(board.HeartbeatSucceeded(4ms, 3));
  s = board.Snapshot();
  CHECK(s.healthy);
  CHECK_FALSE(s.self_fenced);
  CHECK(s.last_error.empty());
  CHECK(s.heartbeat_latency == 4ms);
  CHECK(s.heartbeat_latencies.count == 2);
  CHECK(s.live_members == 3);
  CHECK(s.counters.heartbeats == 2);

  board.Evicted();
  s = board.Snapshot();
  CHECK_FALSE(s.registered);
  CHECK(s.counters.evicted == 1);
  CHECK(s.counters.registrations == 1);
}

TEST_CASE("the status board publishes the partitions with their counters", "[coordinator]") {
  CoordinatorStatusBoard board;
  board.AssignmentSeen(4, 8, {});
  board.Taken({1, 2, 3}, {5}, 3);
  board.Released({1}, {2, 3}, 2);
  board.Acknowledged(4);
  board.GenerationFormed();
  board.StaleWorkersCleaned(2);
  board.CoordinationTimeouts(1);
  board.ObserveRound(3ms);
  auto s = board.Snapshot();
  CHECK(s.generation == 4);
  CHECK(s.partition_count == 8);
  CHECK(s.acked_generation == 4);
  CHECK(s.owned == std::vector<int>{1});
  CHECK(s.waiting == std::vector<int>{5});
  CHECK(s.releasing == std::vector<int>{2, 3});
  CHECK(s.counters.partitions_taken == 3);
  CHECK(s.counters.partitions_released == 2);
  CHECK(s.counters.reconfigurations == 1);
  CHECK(s.counters.generations_formed == 1);
  CHECK(s.counters.stale_workers_cleaned == 2);
  CHECK(s.counters.coordination_timeouts == 1);
  CHECK(s.round_durations.count == 1);
  board.SetWaiting({});
  board.SetReleasing({});
  s = board.Snapshot();
  CHECK(s.waiting.empty());
  CHECK(s.releasing.empty());
}

TEST_CASE("the members of an assignment are grouped by owner, ordered by name, unassigned left out",
          "[coordinator]") {
  const auto members = MembersOf({"id-b", "id-a", "", "id-b"}, {"b", "a", "", "b"});
  REQUIRE(members.size() == 2);
  CHECK(members[0].worker_id == "id-a");
  CHECK(members[0].worker_name == "a");
  CHECK(members[0].partitions == std::vector<int>{1});
  CHECK(members[1].worker_name == "b");
  CHECK(members[1].partitions == std::vector<int>{0, 3});
  CHECK(MembersOf({}, {}).empty());
}
