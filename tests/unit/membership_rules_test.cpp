#include <catch2/catch.hpp>

#include "orchestrator/coordination/membership_rules.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using namespace projd;

TEST_CASE("self-fencing starts one heartbeat interval before peers may evict", "[membership]") {
  testing::FakeClock clock;
  const MembershipTimings t{5s, 30s, 60s};
  CHECK(t.SelfFenceAfter() == 25s);
  const auto last = clock.Now();
  clock.Advance(25s);
  CHECK_FALSE(ShouldSelfFence(last, clock.Now(), t));
  clock.Advance(1ms);
  CHECK(ShouldSelfFence(last, clock.Now(), t));
  // A short stale timeout keeps half of it as the working window.
  CHECK(MembershipTimings{200ms, 300ms, 1s}.SelfFenceAfter() == 150ms);
}

TEST_CASE("joins are debounced by the join grace and leaves form at once", "[membership]") {
  const MembershipTimings t{5s, 30s, 60s};
  CHECK(t.JoinGrace() == 1s);
  CHECK(MembershipTimings{200ms, 1s, 3s}.JoinGrace() == 200ms);
  HeartbeatResult hb;
  hb.found = true;
  hb.membership_changed = true;
  hb.youngest_member_age = 300ms;
  auto d = DecideGeneration(hb, t);
  CHECK_FALSE(d.form);
  CHECK(d.wait == 700ms);
  hb.youngest_member_age = 1s;
  CHECK(DecideGeneration(hb, t).form);
  hb.membership_changed = false;
  CHECK_FALSE(DecideGeneration(hb, t).form);
  hb.membership_changed = true;
  hb.found = false;  // evicted: rejoin first
  CHECK_FALSE(DecideGeneration(hb, t).form);
}

TEST_CASE("gained partitions start when every member acknowledged, laggards are late after the timeout",
          "[membership]") {
  const MembershipTimings t{5s, 30s, 60s};
  AssignmentView view;
  view.generation = 7;
  view.generation_age = 10s;
  std::vector<Member> members{{"a", "a", 0ms, 7}, {"b", "b", 0ms, 6}, {"me", "me", 0ms, 5}};
  auto d = DecideHandover(view, members, "me", t);
  CHECK_FALSE(d.ready);
  CHECK(d.waiting_for == std::vector<std::string>{"b"});
  CHECK(d.late.empty());
  view.generation_age = 60s;
  d = DecideHandover(view, members, "me", t);
  CHECK(d.late == std::vector<std::string>{"b"});
  members[1].acked_generation = 8;
  CHECK(DecideHandover(view, members, "me", t).ready);
}
