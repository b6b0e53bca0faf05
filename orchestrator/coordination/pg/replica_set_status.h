// ReplicaSetStatus: what `projd status` shows, read from the database alone (works with
// no worker running): generation, partition count, members with heartbeat age and owned
// partitions, unassigned partitions, and per projection the checkpoint range and lag
// behind the newest event.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "orchestrator/pg/connection.h"

namespace projd::pg {

struct MemberStatus {
  std::string worker_id;
  std::string worker_name;
  std::int64_t heartbeat_age_ms = 0;
  std::int64_t acked_generation = 0;
  int partitions = 0;
};

struct ProjectionStatus {
  std::string name;
  int partitions = 0;  // partitions with a checkpoint row
  std::int64_t min_position = 0;
  std::int64_t max_position = 0;
  std::int64_t lag_events = 0;  // latest position - min_position
};

struct ReplicaSetStatus {
  bool exists = false;
  std::string replica_set;
  std::int64_t generation = 0;
  int partitions = 0;
  std::int64_t generation_age_ms = 0;
  std::int64_t latest_position = 0;
  std::vector<MemberStatus> members;
  std::vector<int> unassigned;  // no owner, or an owner that is no longer a member
  std::vector<ProjectionStatus> projections;
};

ReplicaSetStatus ReadReplicaSetStatus(const ConnectionOptions& options, const std::string& replica_set);

}  // namespace projd::pg
