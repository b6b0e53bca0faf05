#include "tests/support/fake_coordination_store.h"

#include <algorithm>

#include "orchestrator/assignment.h"
#include "orchestrator/errors.h"

namespace projd::testing {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

void FakeCoordinationStore::Check() const {
  if (down_) throw TransientError("fake store is down");
}

void FakeCoordinationStore::SetDown(bool down) {
  std::lock_guard lock(mu_);
  down_ = down;
}

bool FakeCoordinationStore::HasMember(const std::string& worker_id) const {
  std::lock_guard lock(mu_);
  return rows_.count(worker_id) > 0;
}

std::int64_t FakeCoordinationStore::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

int FakeCoordinationStore::EnsureReplicaSet(const std::string&, int partitions) {
  std::lock_guard lock(mu_);
  Check();
  if (partitions_ == 0) {
    partitions_ = partitions;
    owner_ids_.assign(partitions, "");
    owner_names_.assign(partitions, "");
    formed_at_ = clock_.Now();
  }
  return partitions_;
}

void FakeCoordinationStore::Register(const std::string&, const WorkerInfo& worker) {
  std::lock_guard lock(mu_);
  Check();
  if (auto it = rows_.find(worker.worker_id); it != rows_.end()) {
    it->second.last_heartbeat = clock_.Now();
    return;
  }
  rows_[worker.worker_id] = Row{worker, clock_.Now(), clock_.Now(), 0};
}

std::vector<std::string> FakeCoordinationStore::Evict(const std::string& except, milliseconds stale) {
  std::vector<std::string> out;
  for (auto it = rows_.begin(); it != rows_.end();) {
    if (it->first != except && clock_.Now() - it->second.last_heartbeat > stale) {
      out.push_back(it->first);
      it = rows_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

HeartbeatResult FakeCoordinationStore::Heartbeat(const std::string&, const std::string& worker_id,
                                                 milliseconds stale_timeout) {
  std::lock_guard lock(mu_);
  Check();
  HeartbeatResult r;
  auto it = rows_.find(worker_id);
  r.found = it != rows_.end();
  if (r.found) it->second.last_heartbeat = clock_.Now();
  r.evicted = Evict(worker_id, stale_timeout);
  r.generation = generation_;
  r.partitions = partitions_;
  r.live_members = static_cast<int>(rows_.size());
  std::map<std::string, int> owned;
  bool orphan = false;
  for (const auto& id : owner_ids_) {
    if (id.empty() || !rows_.count(id)) orphan = true;
    ++owned[id];
  }
  int lo = partitions_, hi = 0;
  bool idle = false;
  for (const auto& [id, row] : rows_) {
    const int n = owned.count(id) ? owned[id] : 0;
    if (n == 0) idle = true;
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  r.membership_changed = !rows_.empty() && (orphan || (idle && hi >= 2) || hi - lo > 1);
  auto youngest = Clock::Monotonic::time_point::min();
  for (const auto& [id, row] : rows_) youngest = std::max(youngest, row.registered_at);
  if (!rows_.empty()) r.youngest_member_age = duration_cast<milliseconds>(clock_.Now() - youngest);
  return r;
}

std::vector<Member> FakeCoordinationStore::ListMembers(const std::string&) {
  std::lock_guard lock(mu_);
  Check();
  std::vector<Member> out;
  for (const auto& [id, row] : rows_) {
    out.push_back({id, row.info.worker_name, duration_cast<milliseconds>(clock_.Now() - row.last_heartbeat), row.acked});
  }
  return out;
}

std::vector<std::string> FakeCoordinationStore::EvictStale(const std::string&, milliseconds stale_timeout) {
  std::lock_guard lock(mu_);
  Check();
  return Evict("", stale_timeout);
}

std::optional<std::int64_t> FakeCoordinationStore::FormGeneration(const std::string&) {
  std::lock_guard lock(mu_);
  Check();
  std::vector<std::string> names;
  std::map<std::string, std::string> id_of;
  for (const auto& [id, row] : rows_) {
    names.push_back(row.info.worker_name);
    id_of[row.info.worker_name] = id;
  }
  std::vector<std::string> next_names(partitions_);
  if (!names.empty()) {
    std::vector<std::string> previous(partitions_);
    for (int p = 0; p < partitions_; ++p) previous[p] = id_of.count(owner_names_[p]) ? owner_names_[p] : "";
    next_names = AssignPartitions(partitions_, previous, names);
  }
  std::vector<std::string> next_ids(partitions_);
  for (int p = 0; p < partitions_; ++p) next_ids[p] = next_names[p].empty() ? "" : id_of[next_names[p]];
  if (next_ids == owner_ids_) return std::nullopt;
  owner_ids_ = next_ids;
  owner_names_ = next_names;
  formed_at_ = clock_.Now();
  return ++generation_;
}

void FakeCoordinationStore::Acknowledge(const std::string&, const std::string& worker_id, std::int64_t generation) {
  std::lock_guard lock(mu_);
  Check();
  if (auto it = rows_.find(worker_id); it != rows_.end()) it->second.acked = std::max(it->second.acked, generation);
}

std::vector<std::string> FakeCoordinationStore::EvictUnacknowledged(const std::string&,
                                                                    const std::vector<std::string>& worker_ids,
                                                                    std::int64_t generation) {
  std::lock_guard lock(mu_);
  Check();
  std::vector<std::string> out;
  for (const auto& id : worker_ids) {
    if (auto it = rows_.find(id); it != rows_.end() && it->second.acked < generation) {
      rows_.erase(it);
      out.push_back(id);
    }
  }
  return out;
}

std::int64_t FakeCoordinationStore::SplitPartitions(const std::string&) {
  std::lock_guard lock(mu_);
  Check();
  const int p = partitions_;
  owner_ids_.resize(2 * p);
  owner_names_.resize(2 * p);
  for (int k = 0; k < p; ++k) {
    owner_ids_[k + p] = owner_ids_[k];
    owner_names_[k + p] = owner_names_[k];
  }
  partitions_ = 2 * p;
  formed_at_ = clock_.Now();
  return ++generation_;
}

AssignmentView FakeCoordinationStore::ReadAssignment(const std::string&) {
  std::lock_guard lock(mu_);
  Check();
  AssignmentView view;
  view.generation = generation_;
  view.partitions = partitions_;
  view.generation_age = duration_cast<milliseconds>(clock_.Now() - formed_at_);
  view.owner_ids = owner_ids_;
  view.owner_names = owner_names_;
  return view;
}

void FakeCoordinationStore::Deregister(const std::string&, const std::string& worker_id) {
  std::lock_guard lock(mu_);
  Check();
  rows_.erase(worker_id);
}

}  // namespace projd::testing
