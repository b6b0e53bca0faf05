#include "orchestrator/coordination/coordinator_status.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

namespace projd {

std::vector<AssignedMember> MembersOf(const std::vector<std::string>& owner_ids,
                                      const std::vector<std::string>& owner_names) {
  std::map<std::string, AssignedMember> by_id;
  for (std::size_t p = 0; p < owner_ids.size(); ++p) {
    if (owner_ids[p].empty()) continue;
    auto& m = by_id[owner_ids[p]];
    m.worker_id = owner_ids[p];
    if (p < owner_names.size()) m.worker_name = owner_names[p];
    m.partitions.push_back(static_cast<int>(p));
  }
  std::vector<AssignedMember> out;
  for (auto& [id, m] : by_id) out.push_back(std::move(m));
  std::sort(out.begin(), out.end(), [](const AssignedMember& a, const AssignedMember& b) {
    return std::tie(a.worker_name, a.worker_id) < std::tie(b.worker_name, b.worker_id);
  });
  return out;
}

CoordinatorStatus CoordinatorStatusBoard::Snapshot() const {
  std::lock_guard lock(mu_);
  CoordinatorStatus s = status_;
  s.round_durations = round_durations_.Snapshot();
  s.heartbeat_latencies = heartbeat_latencies_.Snapshot();
  return s;
}

void CoordinatorStatusBoard::Registered() {
  std::lock_guard lock(mu_);
  status_.registered = true;
  status_.healthy = true;
  ++status_.counters.registrations;
}

void CoordinatorStatusBoard::Failed(const std::string& error) {
  std::lock_guard lock(mu_);
  status_.healthy = false;
  status_.last_error = error;
  ++status_.counters.heartbeat_failures;
}

bool CoordinatorStatusBoard::HeartbeatSucceeded(std::chrono::nanoseconds latency, int live_members) {
  std::lock_guard lock(mu_);
  ++status_.counters.heartbeats;
  status_.healthy = true;
  status_.last_error.clear();
  status_.heartbeat_latency = std::chrono::duration_cast<std::chrono::milliseconds>(latency);
  heartbeat_latencies_.Observe(latency);
  status_.live_members = live_members;
  const bool was_fenced = status_.self_fenced;
  status_.self_fenced = false;
  return was_fenced;
}

void CoordinatorStatusBoard::Evicted() {
  std::lock_guard lock(mu_);
  ++status_.counters.evicted;
  status_.registered = false;
}

void CoordinatorStatusBoard::SelfFenced() {
  std::lock_guard lock(mu_);
  status_.self_fenced = true;
  ++status_.counters.self_fenced;
}

void CoordinatorStatusBoard::StaleWorkersCleaned(std::size_t count) {
  std::lock_guard lock(mu_);
  status_.counters.stale_workers_cleaned += static_cast<std::int64_t>(count);
}

void CoordinatorStatusBoard::CoordinationTimeouts(std::size_t count) {
  std::lock_guard lock(mu_);
  status_.counters.coordination_timeouts += static_cast<std::int64_t>(count);
}

void CoordinatorStatusBoard::GenerationFormed() {
  std::lock_guard lock(mu_);
  ++status_.counters.generations_formed;
}

void CoordinatorStatusBoard::AssignmentSeen(std::int64_t generation, int partition_count,
                                            std::vector<AssignedMember> members) {
  std::lock_guard lock(mu_);
  status_.generation = generation;
  status_.partition_count = partition_count;
  status_.assignment = std::move(members);
}

void CoordinatorStatusBoard::Acknowledged(std::int64_t generation) {
  std::lock_guard lock(mu_);
  status_.acked_generation = generation;
  ++status_.counters.reconfigurations;
}

void CoordinatorStatusBoard::Released(const std::set<int>& owned, const std::vector<int>& releasing,
                                      std::size_t count) {
  std::lock_guard lock(mu_);
  status_.owned.assign(owned.begin(), owned.end());
  status_.releasing = releasing;
  status_.counters.partitions_released += static_cast<std::int64_t>(count);
}

void CoordinatorStatusBoard::Taken(const std::set<int>& owned, const std::vector<int>& waiting, std::size_t count) {
  std::lock_guard lock(mu_);
  status_.owned.assign(owned.begin(), owned.end());
  status_.waiting = waiting;
  status_.counters.partitions_taken += static_cast<std::int64_t>(count);
}

void CoordinatorStatusBoard::SetWaiting(const std::vector<int>& waiting) {
  std::lock_guard lock(mu_);
  status_.waiting = waiting;
}

void CoordinatorStatusBoard::SetReleasing(const std::vector<int>& releasing) {
  std::lock_guard lock(mu_);
  status_.releasing = releasing;
}

}  // namespace projd
