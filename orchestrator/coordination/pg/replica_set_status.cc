#include "orchestrator/coordination/pg/replica_set_status.h"

#include <map>
#include <set>

#include "orchestrator/persistence/pg/pg_checkpoint_store.h"
#include "orchestrator/coordination/pg/pg_coordination_store.h"
#include "orchestrator/reading/pg/pg_event_store.h"

namespace projd::pg {

ReplicaSetStatus ReadReplicaSetStatus(const ConnectionOptions& options, const std::string& replica_set) {
  ReplicaSetStatus s;
  s.replica_set = replica_set;
  PgCoordinationStore coordination(options);
  const auto view = coordination.ReadAssignment(replica_set);
  s.exists = view.partitions > 0;
  s.generation = view.generation;
  s.partitions = view.partitions;
  s.generation_age_ms = view.generation_age.count();
  std::map<std::string, int> owned;
  for (const auto& id : view.owner_ids) ++owned[id];
  std::set<std::string> live;
  for (const auto& m : coordination.ListMembers(replica_set)) {
    live.insert(m.worker_id);
    s.members.push_back({m.worker_id, m.worker_name, m.heartbeat_age.count(), m.acked_generation,
                         owned.count(m.worker_id) ? owned[m.worker_id] : 0});
  }
  for (int p = 0; p < view.partitions; ++p) {
    if (view.owner_ids[p].empty() || !live.count(view.owner_ids[p])) s.unassigned.push_back(p);
  }
  s.latest_position = PgEventStore(options).LatestPosition();
  for (const auto& p : PgCheckpointStore(options).Summaries(replica_set)) {
    s.projections.push_back({p.projection, p.partitions, p.min_position, p.max_position,
                             std::max<std::int64_t>(0, s.latest_position - p.min_position)});
  }
  return s;
}

}  // namespace projd::pg
