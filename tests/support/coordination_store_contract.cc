#include "tests/support/coordination_store_contract.h"

#include <algorithm>
#include <map>

#include "orchestrator/coordination/assignment.h"
#include "orchestrator/common/errors.h"

namespace projd::testing::contract {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Ids = std::vector<std::string>;

constexpr milliseconds kStale = 30s;
constexpr milliseconds kDead = 40s;  // past kStale
// PostgreSQL measures ages on its own clock, so real time adds to every Elapse; the fake adds
// nothing. An age is "about d" when it lies in [d, d + kSlack).
constexpr milliseconds kSlack = 5s;

WorkerInfo Worker(const std::string& id, const std::string& name) { return {id, name, "host", 1, "test"}; }

// Registers "id-<name>" under <name> for each name.
void RegisterAll(CoordinationStore& s, std::initializer_list<const char*> names) {
  for (const char* n : names) s.Register("rs", Worker(std::string("id-") + n, n));
}

bool About(milliseconds age, milliseconds d) { return age >= d && age < d + kSlack; }

Ids Sorted(Ids v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::map<std::string, int> CountsById(const AssignmentView& v) {
  std::map<std::string, int> counts;
  for (const auto& id : v.owner_ids) ++counts[id];
  return counts;
}

Ids MemberIds(CoordinationStore& s) {
  Ids ids;
  for (const auto& m : s.ListMembers("rs")) ids.push_back(m.worker_id);
  return ids;
}

// Every partition owned by one of `ids`, each owning floor(P/n) or ceil(P/n).
void CheckBalancedOver(const AssignmentView& v, const Ids& ids) {
  auto counts = CountsById(v);
  const int base = v.partitions / static_cast<int>(ids.size());
  for (const auto& id : ids) {
    const int n = counts[id];
    CHECK((n == base || n == base + 1));
  }
  CHECK(counts.size() == ids.size());  // no owner outside `ids`
}

}  // namespace

void EnsureReplicaSetKeepsTheFirstCount(CoordinationStoreFixture& f) {
  auto& s = f.store();
  CHECK(s.EnsureReplicaSet("rs", 16) == 16);
  CHECK(s.EnsureReplicaSet("rs", 32) == 16);  // the caller reports the mismatch
  CHECK(s.EnsureReplicaSet("other", 4) == 4);  // replica sets are independent
  const auto v = s.ReadAssignment("rs");
  CHECK(v.generation == 0);
  CHECK(v.partitions == 16);
  CHECK(v.owner_ids == Ids(16, ""));
  CHECK(v.owner_names == Ids(16, ""));
  CHECK(s.ReadAssignment("other").partitions == 4);
}

void AnUnknownReplicaSetHasNoAssignment(CoordinationStoreFixture& f) {
  auto& s = f.store();
  const auto v = s.ReadAssignment("nope");
  CHECK(v.generation == 0);
  CHECK(v.partitions == 0);
  CHECK(v.owner_ids.empty());
  const auto hb = s.Heartbeat("nope", "id-a", kStale);
  CHECK_FALSE(hb.found);
  CHECK(hb.partitions == 0);
  CHECK_THROWS_AS(s.Register("nope", Worker("id-a", "a")), PermanentError);
  CHECK_THROWS_AS(s.FormGeneration("nope"), PermanentError);
  CHECK_THROWS_AS(s.SplitPartitions("nope"), PermanentError);
}

void RegisteringTwiceKeepsOneMemberAndRefreshesIt(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a"});
  f.Elapse(kDead);
  RegisterAll(s, {"a"});  // a retried registration counts as a heartbeat
  CHECK(MemberIds(s) == Ids{"id-a"});
  CHECK(s.EvictStale("rs", kStale).empty());
  // ... but it is the same registration: the join grace is not restarted.
  CHECK(s.Heartbeat("rs", "id-a", kStale).youngest_member_age >= kDead);
}

void MembersAreListedByNameWithAgesAndAcks(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  s.Register("rs", Worker("id-z", "a"));
  s.Register("rs", Worker("id-b", "b"));
  s.Register("rs", Worker("id-a", "a"));
  f.Elapse(5s);
  s.Heartbeat("rs", "id-b", kStale);
  s.Acknowledge("rs", "id-z", 3);
  const auto members = s.ListMembers("rs");
  REQUIRE(members.size() == 3);
  CHECK(MemberIds(s) == Ids{"id-a", "id-z", "id-b"});  // by name, then id
  CHECK(members[1].worker_name == "a");
  CHECK(About(members[0].heartbeat_age, 5s));
  CHECK(About(members[2].heartbeat_age, 0s));
  CHECK(members[0].acked_generation == 0);
  CHECK(members[1].acked_generation == 3);
}

void AHeartbeatFindsTheWorkerUntilItIsGone(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 8);
  RegisterAll(s, {"a", "b"});
  auto hb = s.Heartbeat("rs", "id-a", kStale);
  CHECK(hb.found);
  CHECK(hb.generation == 0);
  CHECK(hb.partitions == 8);
  CHECK(hb.live_members == 2);
  CHECK(hb.evicted.empty());
  f.Elapse(kDead);
  CHECK(s.Heartbeat("rs", "id-b", kStale).evicted == Ids{"id-a"});
  hb = s.Heartbeat("rs", "id-a", kStale);  // evicted by a peer: stop and rejoin
  CHECK_FALSE(hb.found);
  CHECK(hb.live_members == 1);
  s.Deregister("rs", "id-b");
  hb = s.Heartbeat("rs", "id-b", kStale);
  CHECK_FALSE(hb.found);
  CHECK(hb.live_members == 0);
}

void AHeartbeatEvictsStalePeersButNotItself(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 8);
  RegisterAll(s, {"a", "b", "c"});
  f.Elapse(kDead);  // everyone is stale, the heartbeating worker included
  const auto hb = s.Heartbeat("rs", "id-a", kStale);
  CHECK(hb.found);
  CHECK(Sorted(hb.evicted) == Ids{"id-b", "id-c"});
  CHECK(hb.live_members == 1);
  CHECK(MemberIds(s) == Ids{"id-a"});
  CHECK(s.Heartbeat("rs", "id-a", kStale).evicted.empty());
}

void AHeartbeatReportsTheYoungestRegistration(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 8);
  RegisterAll(s, {"a"});
  f.Elapse(10s);
  RegisterAll(s, {"b"});
  f.Elapse(2s);
  CHECK(About(s.Heartbeat("rs", "id-a", kStale).youngest_member_age, 2s));
  s.Deregister("rs", "id-b");
  CHECK(About(s.Heartbeat("rs", "id-a", kStale).youngest_member_age, 12s));
}

void AGenerationIsDueWhenOwnersAndMembersDiffer(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 8);
  const auto due = [&] { return s.Heartbeat("rs", "id-a", kStale).membership_changed; };
  RegisterAll(s, {"a"});
  CHECK(due());  // a member and no assignment yet
  REQUIRE(s.FormGeneration("rs") == 1);
  CHECK_FALSE(due());
  RegisterAll(s, {"b"});
  CHECK(due());  // b owns nothing while a owns 8
  REQUIRE(s.FormGeneration("rs") == 2);
  CHECK_FALSE(due());
  s.Deregister("rs", "id-b");
  CHECK(due());  // an owner left
  REQUIRE(s.FormGeneration("rs") == 3);
  RegisterAll(s, {"c"});
  REQUIRE(s.FormGeneration("rs") == 4);
  f.Elapse(kDead);
  const auto hb = s.Heartbeat("rs", "id-a", kStale);  // an owner died: this heartbeat says both
  CHECK(hb.evicted == Ids{"id-c"});
  CHECK(hb.membership_changed);
  CHECK(hb.generation == 4);
}

void NoGenerationIsDueWhenEveryoneOwnsTheirShare(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 2);
  RegisterAll(s, {"a", "b", "c"});
  REQUIRE(s.FormGeneration("rs") == 1);
  // One member owns nothing, but nobody owns two: there is nothing to give it.
  CHECK(CountsById(s.ReadAssignment("rs")).size() == 2);
  CHECK_FALSE(s.Heartbeat("rs", "id-c", kStale).membership_changed);
  CHECK_FALSE(s.FormGeneration("rs").has_value());
}

void EvictStaleDeletesOnlyStaleMembers(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a", "b"});
  f.Elapse(kDead);
  RegisterAll(s, {"b"});  // refreshes b without evicting anyone (a heartbeat would)
  CHECK(s.ListMembers("rs")[0].heartbeat_age >= kDead);
  CHECK(s.EvictStale("rs", kStale) == Ids{"id-a"});
  CHECK(s.EvictStale("rs", kStale).empty());
  CHECK(MemberIds(s) == Ids{"id-b"});
}

void FormGenerationDoesNothingWhenNothingChanged(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 8);
  CHECK_FALSE(s.FormGeneration("rs").has_value());  // no members, nothing assigned
  RegisterAll(s, {"a"});
  REQUIRE(s.FormGeneration("rs") == 1);
  f.Elapse(10s);
  RegisterAll(s, {"a"});
  CHECK_FALSE(s.FormGeneration("rs").has_value());
  const auto v = s.ReadAssignment("rs");
  CHECK(v.generation == 1);
  CHECK(v.generation_age >= 10s);  // not re-formed
  CHECK(v.owner_ids == Ids(8, "id-a"));
  CHECK(v.owner_names == Ids(8, "a"));
}

void GenerationsAreBalancedAndSticky(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 64);
  RegisterAll(s, {"a", "b", "c"});
  REQUIRE(s.FormGeneration("rs") == 1);
  const auto g1 = s.ReadAssignment("rs");
  CheckBalancedOver(g1, {"id-a", "id-b", "id-c"});
  CHECK(CountsById(g1).size() == 3);
  f.Elapse(10s);
  RegisterAll(s, {"d"});
  REQUIRE(s.FormGeneration("rs") == 2);
  const auto g2 = s.ReadAssignment("rs");
  CHECK(g2.generation == 2);
  CHECK(g2.generation_age < kSlack);
  CHECK(CountsById(g2).at("id-d") == 16);
  CHECK(CountMoves(g1.owner_ids, g2.owner_ids) == 16);  // only what d needs moves
  for (int p = 0; p < 64; ++p) {
    if (g2.owner_ids[p] != "id-d") CHECK(g2.owner_ids[p] == g1.owner_ids[p]);
    CHECK(g2.owner_ids[p] == "id-" + g2.owner_names[p]);
  }
}

void ARestartedWorkerGetsItsPartitionsBackByName(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 8);
  RegisterAll(s, {"a", "b"});
  REQUIRE(s.FormGeneration("rs") == 1);
  const auto g1 = s.ReadAssignment("rs");
  s.Deregister("rs", "id-b");
  s.Register("rs", Worker("id-b2", "b"));  // same WORKER_NAME, new process id
  CHECK(s.Heartbeat("rs", "id-a", kStale).membership_changed);  // the owner id-b is gone
  REQUIRE(s.FormGeneration("rs") == 2);
  const auto g2 = s.ReadAssignment("rs");
  CHECK(g2.owner_names == g1.owner_names);
  for (int p = 0; p < 8; ++p) CHECK(g2.owner_ids[p] == (g2.owner_names[p] == "b" ? "id-b2" : "id-a"));
}

void TwoLiveRowsWithOneNameAreTwoMembers(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  s.Register("rs", Worker("id-1", "w"));
  s.Register("rs", Worker("id-2", "w"));
  REQUIRE(s.FormGeneration("rs") == 1);
  const auto v = s.ReadAssignment("rs");
  CHECK(CountsById(v) == std::map<std::string, int>{{"id-1", 2}, {"id-2", 2}});
  CHECK(v.owner_names == Ids(4, "w"));
  CHECK_FALSE(s.Heartbeat("rs", "id-1", kStale).membership_changed);
}

// A restarted pod registers under its name while its old row lingers until it is stale:
// both rows are members (keyed name#id); once the old row is evicted the name is unique
// again and claims what the old row owned.
void TheSurvivorOfOneNameInheritsTheStaleRowsPartitions(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 8);
  s.Register("rs", Worker("id-a", "a"));
  s.Register("rs", Worker("id-b1", "b"));
  REQUIRE(s.FormGeneration("rs") == 1);
  const auto g1 = s.ReadAssignment("rs");
  s.Register("rs", Worker("id-b2", "b"));
  CHECK(s.Heartbeat("rs", "id-a", kStale).membership_changed);  // id-b2 owns nothing
  REQUIRE(s.FormGeneration("rs") == 2);
  const auto g2 = s.ReadAssignment("rs");
  CheckBalancedOver(g2, {"id-a", "id-b1", "id-b2"});
  for (int p = 0; p < 8; ++p) {
    if (g2.owner_ids[p] != "id-b2") CHECK(g2.owner_ids[p] == g1.owner_ids[p]);
  }
  f.Elapse(kDead);
  s.Register("rs", Worker("id-b2", "b"));  // only the old row goes stale
  const auto hb = s.Heartbeat("rs", "id-a", kStale);
  CHECK(hb.evicted == Ids{"id-b1"});
  CHECK(hb.membership_changed);
  REQUIRE(s.FormGeneration("rs") == 3);
  const auto g3 = s.ReadAssignment("rs");
  CheckBalancedOver(g3, {"id-a", "id-b2"});
  // "b" owned 5 of 8 through its two rows and keeps 4: one partition moves, to a.
  CHECK(CountMoves(g2.owner_names, g3.owner_names) == 1);
}

void AcknowledgementsOnlyMoveForward(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a"});
  s.Acknowledge("rs", "id-a", 2);
  s.Acknowledge("rs", "id-a", 1);  // a late, older acknowledgement
  CHECK(s.ListMembers("rs")[0].acked_generation == 2);
  s.Acknowledge("rs", "id-gone", 5);  // an evicted worker's: nothing to record
  CHECK(MemberIds(s) == Ids{"id-a"});
}

void EvictUnacknowledgedSparesThoseWhoAcked(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a", "b", "c", "d"});
  REQUIRE(s.FormGeneration("rs") == 1);
  s.Acknowledge("rs", "id-a", 1);
  s.Acknowledge("rs", "id-d", 2);  // ahead of the generation asked about
  const auto evicted = s.EvictUnacknowledged("rs", {"id-a", "id-b", "id-d", "id-gone"}, 1);
  CHECK(evicted == Ids{"id-b"});
  CHECK(MemberIds(s) == Ids{"id-a", "id-c", "id-d"});  // c was not asked about
}

void ASplitDoublesPartitionsAndKeepsOwners(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a", "b"});
  REQUIRE(s.FormGeneration("rs") == 1);
  const auto before = s.ReadAssignment("rs");
  f.Elapse(10s);
  CHECK(s.SplitPartitions("rs") == 2);
  const auto after = s.ReadAssignment("rs");
  CHECK(after.partitions == 8);
  CHECK(after.generation == 2);
  CHECK(after.generation_age < kSlack);
  for (int k = 0; k < 4; ++k) {
    CHECK(after.owner_ids[k] == before.owner_ids[k]);
    CHECK(after.owner_ids[k + 4] == before.owner_ids[k]);
    CHECK(after.owner_names[k + 4] == before.owner_names[k]);
  }
  const auto hb = s.Heartbeat("rs", "id-a", kStale);
  CHECK(hb.partitions == 8);
  CHECK(hb.generation == 2);
  CHECK_FALSE(hb.membership_changed);
  CHECK_FALSE(s.FormGeneration("rs").has_value());
  // A replica set nobody ever owned splits too, still unowned.
  s.EnsureReplicaSet("fresh", 2);
  CHECK(s.SplitPartitions("fresh") == 1);
  CHECK(s.ReadAssignment("fresh").owner_ids == Ids(4, ""));
}

void ASplitThatUnbalancesOwnersMakesAGenerationDue(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a", "b", "c"});
  REQUIRE(s.FormGeneration("rs") == 1);  // 2, 1, 1
  REQUIRE(s.SplitPartitions("rs") == 2);  // 4, 2, 2
  CHECK(s.Heartbeat("rs", "id-a", kStale).membership_changed);
  REQUIRE(s.FormGeneration("rs") == 3);
  CheckBalancedOver(s.ReadAssignment("rs"), {"id-a", "id-b", "id-c"});
}

void ASplitBeyond4096PartitionsIsRefused(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 2048);
  CHECK(s.SplitPartitions("rs") == 1);
  CHECK_THROWS_AS(s.SplitPartitions("rs"), PermanentError);
  const auto v = s.ReadAssignment("rs");
  CHECK(v.partitions == 4096);
  CHECK(v.generation == 1);
}

void DeregisterRemovesTheMemberButNotItsPartitions(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a", "b"});
  REQUIRE(s.FormGeneration("rs") == 1);
  s.Deregister("rs", "id-b");
  s.Deregister("rs", "id-gone");  // nothing to delete
  CHECK(MemberIds(s) == Ids{"id-a"});
  CHECK(CountsById(s.ReadAssignment("rs")).at("id-b") == 2);  // until the next generation
  CHECK(s.Heartbeat("rs", "id-a", kStale).membership_changed);
  REQUIRE(s.FormGeneration("rs") == 2);
  CHECK(s.ReadAssignment("rs").owner_ids == Ids(4, "id-a"));
}

void WhenEveryOwnerIsGoneAGenerationIsDue(CoordinationStoreFixture& f) {
  auto& s = f.store();
  s.EnsureReplicaSet("rs", 4);
  RegisterAll(s, {"a"});
  REQUIRE(s.FormGeneration("rs") == 1);
  s.Deregister("rs", "id-a");
  const auto hb = s.Heartbeat("rs", "id-a", kStale);
  CHECK_FALSE(hb.found);
  CHECK(hb.live_members == 0);
  CHECK(hb.youngest_member_age == 0ms);
  CHECK(hb.membership_changed);  // the owner is not a live member
  REQUIRE(s.FormGeneration("rs") == 2);  // nobody left to own anything
  CHECK(s.ReadAssignment("rs").owner_ids == Ids(4, ""));
}

}  // namespace projd::testing::contract
