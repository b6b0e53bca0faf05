// FakeCoordinationStore: CoordinationStore in memory, with the "database clock" taken
// from a FakeClock, for unit tests of the coordinator's decisions. It ports the Postgres
// store's rules (eviction by heartbeat age, when a generation is due, sticky balanced
// generations keyed by worker name, or name#id while two rows share a name), and the
// contract suite (tests/support/coordination_store_contract.h) runs the same cases against
// both. Thread-safe; `down` makes every call throw TransientError.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/coordination/coordination_store.h"
#include "tests/support/fake_clock.h"

namespace projd::testing {

class FakeCoordinationStore final : public CoordinationStore {
 public:
  explicit FakeCoordinationStore(const FakeClock& clock) : clock_(clock) {}

  int EnsureReplicaSet(const std::string& replica_set, int partitions) override;
  void Register(const std::string& replica_set, const WorkerInfo& worker) override;
  HeartbeatResult Heartbeat(const std::string& replica_set, const std::string& worker_id,
                            std::chrono::milliseconds stale_timeout) override;
  std::vector<Member> ListMembers(const std::string& replica_set) override;
  std::vector<std::string> EvictStale(const std::string& replica_set, std::chrono::milliseconds stale_timeout) override;
  std::optional<std::int64_t> FormGeneration(const std::string& replica_set) override;
  void Acknowledge(const std::string& replica_set, const std::string& worker_id, std::int64_t generation) override;
  std::vector<std::string> EvictUnacknowledged(const std::string& replica_set, const std::vector<std::string>& worker_ids,
                                               std::int64_t generation) override;
  std::int64_t SplitPartitions(const std::string& replica_set) override;
  AssignmentView ReadAssignment(const std::string& replica_set) override;
  void Deregister(const std::string& replica_set, const std::string& worker_id) override;

  void SetDown(bool down);
  bool HasMember(const std::string& worker_id) const;  // in any replica set
  std::int64_t generation(const std::string& replica_set) const;

 private:
  struct Row {  // projd_workers
    WorkerInfo info;
    Clock::Monotonic::time_point registered_at;
    Clock::Monotonic::time_point last_heartbeat;
    std::int64_t acked = 0;
  };
  struct ReplicaSet {  // projd_replica_sets with its workers and assignments
    int partitions = 0;
    std::int64_t generation = 0;
    Clock::Monotonic::time_point formed_at;
    // Assignment rows: none until the first generation writes one per partition ("" = unowned).
    std::vector<std::string> owner_ids;
    std::vector<std::string> owner_names;
    std::map<std::string, Row> rows;  // by worker_id
  };
  void Check() const;                                       // mu_ held
  ReplicaSet* Find(const std::string& replica_set);         // mu_ held; nullptr when unknown
  ReplicaSet& Existing(const std::string& replica_set);     // mu_ held; PermanentError when unknown
  std::vector<std::string> Evict(ReplicaSet& set, const std::string& except, std::chrono::milliseconds stale);
  std::chrono::milliseconds Age(Clock::Monotonic::time_point since) const;

  const FakeClock& clock_;
  mutable std::mutex mu_;
  bool down_ = false;
  std::map<std::string, ReplicaSet> sets_;
};

}  // namespace projd::testing
