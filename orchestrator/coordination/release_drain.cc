#include "orchestrator/coordination/release_drain.h"

#include <algorithm>

namespace projd {

using std::chrono::milliseconds;

milliseconds ReleaseDrain::Budget(milliseconds drain_timeout, const MembershipTimings& timings) {
  return std::min(drain_timeout, timings.coordination_timeout / 2);
}

void ReleaseDrain::Add(const std::vector<int>& partitions, Clock::Monotonic::time_point now) {
  if (!pending_) pending_ = Pending{{}, now};
  pending_->partitions.insert(pending_->partitions.end(), partitions.begin(), partitions.end());
}

const std::vector<int>& ReleaseDrain::partitions() const {
  static const std::vector<int> kNone;
  return pending_ ? pending_->partitions : kNone;
}

bool ReleaseDrain::Overdue(Clock::Monotonic::time_point now) const {
  if (!pending_) return false;
  return std::chrono::duration_cast<milliseconds>(now - pending_->since) >= budget_;
}

milliseconds ReleaseDrain::RevokeSlice(Clock::Monotonic::time_point now, const MembershipTimings& timings) const {
  const auto elapsed = pending_ ? std::chrono::duration_cast<milliseconds>(now - pending_->since) : milliseconds(0);
  return std::min(budget_ - elapsed, timings.HandoverPoll());
}

bool ReleaseDrain::KeepWaiting(ForceResult result, Clock::Monotonic::time_point now) const {
  return pending_ && result == ForceResult::kTimeout && now - pending_->since < budget_;
}

std::vector<CheckpointKey> ReleaseKeys(const std::string& replica_set, const std::vector<std::string>& projections,
                                       const std::vector<int>& partitions) {
  std::vector<CheckpointKey> keys;
  for (const auto& projection : projections) {
    for (int p : partitions) keys.push_back({replica_set, projection, p});
  }
  return keys;
}

}  // namespace projd
