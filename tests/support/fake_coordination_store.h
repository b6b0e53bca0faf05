// FakeCoordinationStore: CoordinationStore in memory, with the "database clock" taken
// from a FakeClock, for unit tests of the coordinator's decisions. Mirrors the Postgres
// store's rules (eviction by heartbeat age, membership_changed, sticky balanced
// generations by worker name). Thread-safe; `down` makes every call throw TransientError.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/coordination_store.h"
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
  bool HasMember(const std::string& worker_id) const;
  std::int64_t generation() const;

 private:
  struct Row {
    WorkerInfo info;
    Clock::Monotonic::time_point registered_at;
    Clock::Monotonic::time_point last_heartbeat;
    std::int64_t acked = 0;
  };
  void Check() const;  // mu_ held
  std::vector<std::string> Evict(const std::string& except, std::chrono::milliseconds stale);  // mu_ held

  const FakeClock& clock_;
  mutable std::mutex mu_;
  bool down_ = false;
  int partitions_ = 0;
  std::int64_t generation_ = 0;
  Clock::Monotonic::time_point formed_at_{};
  std::vector<std::string> owner_ids_;
  std::vector<std::string> owner_names_;
  std::map<std::string, Row> rows_;
};

}  // namespace projd::testing
