// PgCoordinationStore: CoordinationStore over projd_replica_sets, projd_workers and
// projd_assignments on one connection it owns. Not thread-safe.
#pragma once

#include <functional>
#include <memory>

#include <pqxx/connection>
#include <pqxx/transaction>

#include "orchestrator/coordination/coordination_store.h"
#include "orchestrator/coordination/projection_reset.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

class PgCoordinationStore final : public CoordinationStore {
 public:
  explicit PgCoordinationStore(ConnectionOptions options);
  ~PgCoordinationStore() override;

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

  // `projd rebuild`: one transaction under the replica-set row lock: `reset_hook` (the
  // projection's Setup and Reset), its checkpoints back to 0 stamped with generation G+1
  // (older writers are fenced), its dead letters removed, generation G+1 recorded as
  // rebuild_generation, NOTIFY. Running workers see rebuild_generation move and restart
  // every partition. Returns the generation (0 when the replica set does not exist yet) and
  // the number of checkpoint rows reset.
  struct RebuildResult {
    std::int64_t generation = 0;
    std::int64_t checkpoints = 0;
  };
  RebuildResult RebuildProjection(const std::string& replica_set, const std::string& projection,
                                  const std::function<void(pqxx::work&)>& reset_hook);

  // `projd projections reset`, before it resets (and all of a --dry-run): reads (changes
  // nothing, locks nothing) where each checkpoint of lane `projection` is, how many events of
  // its partition lie between there and `target`, the latest event, and what ResetProjection
  // would refuse under SkipPolicy::kRefuse.
  ResetPlan PlanReset(const std::string& replica_set, const std::string& projection, std::int64_t target);

  // `projd projections reset`: one transaction under the replica-set row lock, like a
  // rebuild without the Reset hook: every checkpoint of lane `projection` to `target`, stamped
  // with generation G+1 (older writers are fenced); a row moving back keeps
  // replay_until = greatest(replay_until, its position) (those events are a replay); the
  // lane's dead letters above `target` are deleted (their events are read again, or, for a
  // row that moves forward, there are none above it); generation G+1 recorded as
  // rebuild_generation, NOTIFY. Running workers restart every partition from the moved rows.
  // Pauses (projd_projection_pauses) are not touched. Refuses (result.refusal, nothing
  // changed) per CheckReset: the rows are locked first, so a refusal of skipping holds for
  // the positions the reset would really have moved.
  ResetResult ResetProjection(const std::string& replica_set, const std::string& projection, std::int64_t target,
                              SkipPolicy skip);

  // The position before the first event created at or after `rfc3339` (the latest position
  // when there is none): every event created at or after it lies above the result, although
  // created_at is the writer's transaction start and not commit order. A sequential scan of
  // events unless an index leads with created_at.
  std::int64_t PositionBefore(const std::string& rfc3339);

  // The NOTIFY channel of a replica set's generation changes.
  static std::string Channel(const std::string& schema);

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace projd::pg
