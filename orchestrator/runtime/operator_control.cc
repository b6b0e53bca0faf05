#include "orchestrator/runtime/operator_control.h"

#include <algorithm>

namespace projd {
namespace {

// The state one owned partition shows: its pause or its stop first, else the runner's
// (a runner held by a pause of other partitions is at the mark on this one).
std::string StateOf(const RunnerStatus& r, int partition) {
  if (r.paused.Covers(partition)) return ToString(RunnerState::kPaused);
  const auto stopped = std::find_if(r.stopped.begin(), r.stopped.end(),
                                    [&](const StoppedPartition& s) { return s.partition == partition; });
  if (stopped != r.stopped.end()) return ToString(RunnerState::kStopped);
  if (r.state == RunnerState::kPaused || r.state == RunnerState::kStopped) return ToString(RunnerState::kCaughtUp);
  return ToString(r.state);
}

std::string ErrorOf(const RunnerStatus& r, int partition) {
  for (const auto& s : r.stopped) {
    if (s.partition == partition) return s.error;
  }
  return r.last_error;
}

}  // namespace

std::vector<PartitionState> PartitionStatesOf(const std::vector<RunnerStatus>& runners) {
  std::vector<PartitionState> out;
  for (const auto& r : runners) {
    for (int p : r.owned) out.push_back({r.projection, p, StateOf(r, p), ErrorOf(r, p)});
  }
  return out;
}

OperatorControl::OperatorControl(ControlStore& store, std::string replica_set, std::string worker_id, Logger logger)
    : store_(store), replica_set_(std::move(replica_set)), worker_id_(std::move(worker_id)), logger_(std::move(logger)) {}

bool OperatorControl::Round(const std::vector<std::string>& lanes, const ApplyPauses& apply,
                            const std::vector<RunnerStatus>& runners) {
  bool read = false;
  try {
    auto pauses = store_.ReadPauses(replica_set_);
    for (const auto& lane : lanes) apply(lane, PausesOf(pauses, lane));
    std::lock_guard lock(mu_);
    status_.pauses_known = true;
    status_.pauses = std::move(pauses);
    read = true;
  } catch (const std::exception& e) {
    Failed("reading the pauses", e);
    return false;
  }
  const auto current = PartitionStatesOf(runners);
  reports_.Retain(current);
  const auto changed = reports_.Changed(current);
  try {
    store_.WritePartitionStates(replica_set_, worker_id_, changed);
    reports_.Written(changed);
  } catch (const std::exception& e) {
    Failed("writing the partition states", e);
  }
  return read;
}

void OperatorControl::Failed(const std::string& step, const std::exception& e) {
  const std::string error = step + ": " + e.what();
  std::lock_guard lock(mu_);
  ++status_.errors;
  if (error != status_.last_error) logger_.Warn("operator control failed; retrying", {{"error", error}});
  status_.last_error = error;
}

OperatorControlStatus OperatorControl::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

}  // namespace projd
