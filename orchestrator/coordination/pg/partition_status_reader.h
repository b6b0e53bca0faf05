// ReadPartitionStatus: the partition rows of `projd status`, read from the database alone
// (no worker needed): for each checkpoint row of the replica set (one per projection lane
// and partition), the checkpoint, the lag in events and in seconds, the owner from
// projd_assignments and whether it is still a member, the operator pause that covers it
// (projd_projection_pauses) and the owner's last state report (projd_partition_states),
// then DescribePartition decides what is shown. All SQL of it is in the .cc.
//
// The lag in seconds is the age of the oldest event of the partition after its checkpoint:
// one descent of the per-partition index of events (events_projd_partition_<P>, built by
// `projd migrate`) per row, so it stays cheap on a large events table; without that index
// the primary key is walked from the checkpoint until the partition's next event.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/coordination/partition_status.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

// Rows ordered by lane, then partition; only lanes of `projection` (its name, and NAME@N
// of its versions) when it is not empty. Empty when the replica set does not exist.
// Throws projd::TransientError / PermanentError (error_translation.h).
std::vector<PartitionStatus> ReadPartitionStatus(const ConnectionOptions& options, const std::string& replica_set,
                                                 const std::string& projection);

}  // namespace projd::pg
