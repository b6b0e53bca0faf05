// ControlStore: a worker's side of operator control. Once per heartbeat interval a worker
// reads the replica set's pauses and writes the states of the partitions it owns that
// changed. Implementations: pg/pg_control_store.h (the CLI's side is there too).
// Not thread-safe: one worker thread uses it.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/control/partition_state.h"
#include "orchestrator/control/pauses.h"

namespace projd {

class ControlStore {
 public:
  virtual ~ControlStore() = default;
  // Every pause of the replica set. Throws projd::Error (TransientError when retryable).
  virtual std::vector<Pause> ReadPauses(const std::string& replica_set) = 0;
  // Upserts `states` as reported by `worker_id`. Throws projd::Error.
  virtual void WritePartitionStates(const std::string& replica_set, const std::string& worker_id,
                                    const std::vector<PartitionState>& states) = 0;
};

}  // namespace projd
