// The CoordinationStore contract: one set of cases that every implementation must pass,
// run against the in-memory fake (tests/unit, label unit) and PostgreSQL (tests/pg, label
// pg). The fake exists so coordinator unit tests can check membership rules without a
// server; these cases keep it honest: where the two disagree, the SQL store is the truth.
//
// Use: define a fixture (default-constructible, a fresh empty store per instance) and
// expand PROJD_COORDINATION_STORE_CONTRACT(Fixture, "[tags]") once in a test file.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>

#include "orchestrator/coordination/coordination_store.h"

namespace projd::testing {

class CoordinationStoreFixture {
 public:
  virtual ~CoordinationStoreFixture() = default;
  virtual CoordinationStore& store() = 0;
  // Time passes by `d` on the store's clock for everything it has recorded (heartbeats,
  // registrations, generations), without sleeping.
  virtual void Elapse(std::chrono::milliseconds d) = 0;
};

namespace contract {
void EnsureReplicaSetKeepsTheFirstCount(CoordinationStoreFixture& f);
void AnUnknownReplicaSetHasNoAssignment(CoordinationStoreFixture& f);
void RegisteringTwiceKeepsOneMemberAndRefreshesIt(CoordinationStoreFixture& f);
void MembersAreListedByNameWithAgesAndAcks(CoordinationStoreFixture& f);
void AHeartbeatFindsTheWorkerUntilItIsGone(CoordinationStoreFixture& f);
void AHeartbeatEvictsStalePeersButNotItself(CoordinationStoreFixture& f);
void AHeartbeatReportsTheYoungestRegistration(CoordinationStoreFixture& f);
void AGenerationIsDueWhenOwnersAndMembersDiffer(CoordinationStoreFixture& f);
void NoGenerationIsDueWhenEveryoneOwnsTheirShare(CoordinationStoreFixture& f);
void EvictStaleDeletesOnlyStaleMembers(CoordinationStoreFixture& f);
void FormGenerationDoesNothingWhenNothingChanged(CoordinationStoreFixture& f);
void GenerationsAreBalancedAndSticky(CoordinationStoreFixture& f);
void ARestartedWorkerGetsItsPartitionsBackByName(CoordinationStoreFixture& f);
void TwoLiveRowsWithOneNameAreTwoMembers(CoordinationStoreFixture& f);
void TheSurvivorOfOneNameInheritsTheStaleRowsPartitions(CoordinationStoreFixture& f);
void AcknowledgementsOnlyMoveForward(CoordinationStoreFixture& f);
void EvictUnacknowledgedSparesThoseWhoAcked(CoordinationStoreFixture& f);
void ASplitDoublesPartitionsAndKeepsOwners(CoordinationStoreFixture& f);
void ASplitThatUnbalancesOwnersMakesAGenerationDue(CoordinationStoreFixture& f);
void ASplitBeyond4096PartitionsIsRefused(CoordinationStoreFixture& f);
void DeregisterRemovesTheMemberButNotItsPartitions(CoordinationStoreFixture& f);
void WhenEveryOwnerIsGoneAGenerationIsDue(CoordinationStoreFixture& f);
}  // namespace contract

}  // namespace projd::testing

#define PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, name, fn)      \
  TEST_CASE("coordination store contract: " name, tags) {              \
    Fixture fixture;                                                   \
    ::projd::testing::contract::fn(fixture);                           \
  }

// One TEST_CASE per case (each with a fresh fixture), named "coordination store contract: ...".
#define PROJD_COORDINATION_STORE_CONTRACT(Fixture, tags)                                                        \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "the partition count is fixed per replica set",               \
                                   EnsureReplicaSetKeepsTheFirstCount)                                         \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "an unknown replica set has no assignment",                   \
                                   AnUnknownReplicaSetHasNoAssignment)                                         \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "registering twice keeps one member and refreshes it",       \
                                   RegisteringTwiceKeepsOneMemberAndRefreshesIt)                               \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "members are listed by name with ages and acks",              \
                                   MembersAreListedByNameWithAgesAndAcks)                                      \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a heartbeat finds the worker until it is gone",              \
                                   AHeartbeatFindsTheWorkerUntilItIsGone)                                      \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a heartbeat evicts stale peers but not itself",              \
                                   AHeartbeatEvictsStalePeersButNotItself)                                     \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a heartbeat reports the youngest registration",              \
                                   AHeartbeatReportsTheYoungestRegistration)                                   \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a generation is due when owners and members differ",         \
                                   AGenerationIsDueWhenOwnersAndMembersDiffer)                                 \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "no generation is due when everyone owns their share",        \
                                   NoGenerationIsDueWhenEveryoneOwnsTheirShare)                                \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "evict stale deletes only stale members",                     \
                                   EvictStaleDeletesOnlyStaleMembers)                                          \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "form generation does nothing when nothing changed",          \
                                   FormGenerationDoesNothingWhenNothingChanged)                                \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "generations are balanced and sticky",                        \
                                   GenerationsAreBalancedAndSticky)                                            \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a restarted worker gets its partitions back by name",        \
                                   ARestartedWorkerGetsItsPartitionsBackByName)                                \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "two live rows with one name are two members",                \
                                   TwoLiveRowsWithOneNameAreTwoMembers)                                        \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "the survivor of one name inherits the stale row's partitions", \
                                   TheSurvivorOfOneNameInheritsTheStaleRowsPartitions)                         \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "acknowledgements only move forward",                         \
                                   AcknowledgementsOnlyMoveForward)                                            \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "evict unacknowledged spares those who acked",                \
                                   EvictUnacknowledgedSparesThoseWhoAcked)                                     \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a split doubles the partitions and keeps owners",            \
                                   ASplitDoublesPartitionsAndKeepsOwners)                                      \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a split that unbalances owners makes a generation due",      \
                                   ASplitThatUnbalancesOwnersMakesAGenerationDue)                              \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "a split beyond 4096 partitions is refused",                  \
                                   ASplitBeyond4096PartitionsIsRefused)                                        \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "deregister removes the member but not its partitions",       \
                                   DeregisterRemovesTheMemberButNotItsPartitions)                              \
  PROJD_COORDINATION_CONTRACT_CASE(Fixture, tags, "when every owner is gone a generation is due",               \
                                   WhenEveryOwnerIsGoneAGenerationIsDue)
