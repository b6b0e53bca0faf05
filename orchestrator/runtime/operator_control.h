// OperatorControl: a worker's side of `projd projections pause|resume` and of the
// per-partition states `projd status` shows. Once per heartbeat interval (Worker's control
// thread) a Round reads the replica set's pauses, hands each runner its projection's
// pauses, and writes the states of the owned partitions that changed since the last write.
//
// Runners read nothing until their first pauses arrive (ProjectionRunner::SetPaused), so a
// restarted worker never reads a paused partition; the first round runs as the worker
// starts. A failed read keeps the last known pauses (an outage is no reason to resume or
// pause anything).
// Not thread-safe: the control thread owns it; Status() is guarded.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "orchestrator/common/logging.h"
#include "orchestrator/control/control_store.h"
#include "orchestrator/runtime/projection_runner.h"

namespace projd {

struct OperatorControlStatus {
  bool pauses_known = false;   // a read of the pauses succeeded once
  std::vector<Pause> pauses;   // the replica set's pauses as last read
  std::int64_t errors = 0;     // failed rounds (each retried next round)
  std::string last_error;
};

// What one partition shows in projd_partition_states, from its runner's status.
std::vector<PartitionState> PartitionStatesOf(const std::vector<RunnerStatus>& runners);

class OperatorControl {
 public:
  using ApplyPauses = std::function<void(const std::string& lane, const PausedPartitions& paused)>;

  OperatorControl(ControlStore& store, std::string replica_set, std::string worker_id, Logger logger);

  // Reads the pauses and applies them to every lane of `lanes` (the runners' projections),
  // then writes the changed states of `runners`. Database errors are counted, logged once
  // per new text and retried next round. Returns whether the pauses were read.
  bool Round(const std::vector<std::string>& lanes, const ApplyPauses& apply, const std::vector<RunnerStatus>& runners);

  OperatorControlStatus Status() const;

 private:
  void Failed(const std::string& step, const std::exception& e);

  ControlStore& store_;
  const std::string replica_set_;
  const std::string worker_id_;
  Logger logger_;
  PartitionReports reports_;
  mutable std::mutex mu_;
  OperatorControlStatus status_;
};

}  // namespace projd
