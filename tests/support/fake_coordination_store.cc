#include "tests/support/fake_coordination_store.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "orchestrator/coordination/assignment.h"
#include "orchestrator/common/errors.h"

namespace projd::testing {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using Ids = std::vector<std::string>;

constexpr int kMaxPartitions = 4096;

// The verdict of kHeartbeatSql (pg_coordination_store.cc), clause by clause: a generation
// is due when an owner is not live (or a partition is unowned), when members exist but
// nothing was ever assigned, when a member owns nothing while another owns two or more, or
// when live owners' counts differ by more than one (after a split).
bool GenerationDue(const Ids& owner_ids, const std::set<std::string>& live) {
  std::map<std::string, int> owned;
  for (const auto& id : owner_ids) ++owned[id];
  if (owned.empty()) return !live.empty();
  int lo = kMaxPartitions, hi = 0;
  for (const auto& [id, n] : owned) {
    if (!live.count(id)) return true;
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  const bool idle = std::any_of(live.begin(), live.end(), [&](const auto& id) { return !owned.count(id); });
  return (idle && hi >= 2) || hi - lo > 1;
}

// Members as FormGeneration keys them: by name, so a restarted pod (new id, same name)
// claims its partitions back; by name#id while two rows share a name, so both are members.
struct MemberKeys {
  std::map<std::string, int> name_uses;
  std::map<std::string, std::pair<std::string, std::string>> by_key;  // key -> (id, name)
  std::map<std::string, std::string> key_of_id;

  template <typename Rows>
  explicit MemberKeys(const Rows& rows) {
    for (const auto& [id, row] : rows) ++name_uses[row.info.worker_name];
    for (const auto& [id, row] : rows) {
      const auto& name = row.info.worker_name;
      const auto key = name_uses[name] > 1 ? name + "#" + id : name;
      by_key[key] = {id, name};
      key_of_id[id] = key;
    }
  }
  // The key that claims a partition: its owner's own row if live, else its owner's name if
  // exactly one live row has it (the restarted pod), else none.
  std::string Claim(const std::string& owner_id, const std::string& owner_name) const {
    if (auto k = key_of_id.find(owner_id); k != key_of_id.end()) return k->second;
    auto uses = name_uses.find(owner_name);
    return uses != name_uses.end() && uses->second == 1 ? owner_name : "";
  }
  Ids Keys() const {
    Ids keys;
    for (const auto& [key, v] : by_key) keys.push_back(key);
    return keys;
  }
};

Ids Padded(Ids v, int partitions) {
  v.resize(partitions);
  return v;
}

}  // namespace

void FakeCoordinationStore::Check() const {
  if (down_) throw TransientError("fake store is down");
}

FakeCoordinationStore::ReplicaSet* FakeCoordinationStore::Find(const std::string& replica_set) {
  auto it = sets_.find(replica_set);
  return it == sets_.end() ? nullptr : &it->second;
}

FakeCoordinationStore::ReplicaSet& FakeCoordinationStore::Existing(const std::string& replica_set) {
  if (auto* set = Find(replica_set)) return *set;
  throw PermanentError("replica set '" + replica_set + "' does not exist");
}

milliseconds FakeCoordinationStore::Age(Clock::Monotonic::time_point since) const {
  return duration_cast<milliseconds>(clock_.Now() - since);
}

void FakeCoordinationStore::SetDown(bool down) {
  std::lock_guard lock(mu_);
  down_ = down;
}

bool FakeCoordinationStore::HasMember(const std::string& worker_id) const {
  std::lock_guard lock(mu_);
  return std::any_of(sets_.begin(), sets_.end(), [&](const auto& s) { return s.second.rows.count(worker_id) > 0; });
}

std::int64_t FakeCoordinationStore::generation(const std::string& replica_set) const {
  std::lock_guard lock(mu_);
  auto it = sets_.find(replica_set);
  return it == sets_.end() ? 0 : it->second.generation;
}

int FakeCoordinationStore::EnsureReplicaSet(const std::string& replica_set, int partitions) {
  std::lock_guard lock(mu_);
  Check();
  auto [it, created] = sets_.try_emplace(replica_set);
  if (created) {
    it->second.partitions = partitions;
    it->second.formed_at = clock_.Now();
  }
  return it->second.partitions;
}

void FakeCoordinationStore::Register(const std::string& replica_set, const WorkerInfo& worker) {
  std::lock_guard lock(mu_);
  Check();
  auto& rows = Existing(replica_set).rows;  // the foreign key refuses an unknown set
  if (auto it = rows.find(worker.worker_id); it != rows.end()) {
    it->second.last_heartbeat = clock_.Now();  // a retried registration: the same row
    return;
  }
  rows[worker.worker_id] = Row{worker, clock_.Now(), clock_.Now(), 0};
}

std::vector<std::string> FakeCoordinationStore::Evict(ReplicaSet& set, const std::string& except,
                                                      milliseconds stale) {
  std::vector<std::string> out;
  for (auto it = set.rows.begin(); it != set.rows.end();) {
    if (it->first != except && Age(it->second.last_heartbeat) > stale) {
      out.push_back(it->first);
      it = set.rows.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

HeartbeatResult FakeCoordinationStore::Heartbeat(const std::string& replica_set, const std::string& worker_id,
                                                 milliseconds stale_timeout) {
  std::lock_guard lock(mu_);
  Check();
  HeartbeatResult r;
  auto* set = Find(replica_set);
  if (!set) return r;  // the statement returns no row
  auto it = set->rows.find(worker_id);
  r.found = it != set->rows.end();
  if (r.found) it->second.last_heartbeat = clock_.Now();
  r.evicted = Evict(*set, worker_id, stale_timeout);
  r.generation = set->generation;
  r.partitions = set->partitions;
  std::set<std::string> live;
  auto youngest = Clock::Monotonic::time_point::min();
  for (const auto& [id, row] : set->rows) {
    live.insert(id);
    youngest = std::max(youngest, row.registered_at);
  }
  r.live_members = static_cast<int>(live.size());
  r.membership_changed = GenerationDue(set->owner_ids, live);
  if (!live.empty()) r.youngest_member_age = Age(youngest);
  return r;
}

std::vector<Member> FakeCoordinationStore::ListMembers(const std::string& replica_set) {
  std::lock_guard lock(mu_);
  Check();
  std::vector<Member> out;
  if (auto* set = Find(replica_set)) {
    for (const auto& [id, row] : set->rows) {
      out.push_back({id, row.info.worker_name, Age(row.last_heartbeat), row.acked});
    }
  }
  std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) {
    return std::tie(a.worker_name, a.worker_id) < std::tie(b.worker_name, b.worker_id);
  });
  return out;
}

std::vector<std::string> FakeCoordinationStore::EvictStale(const std::string& replica_set,
                                                           milliseconds stale_timeout) {
  std::lock_guard lock(mu_);
  Check();
  auto* set = Find(replica_set);
  return set ? Evict(*set, "", stale_timeout) : std::vector<std::string>{};
}

std::optional<std::int64_t> FakeCoordinationStore::FormGeneration(const std::string& replica_set) {
  std::lock_guard lock(mu_);
  Check();
  auto& set = Existing(replica_set);
  const MemberKeys members(set.rows);
  const Ids previous_ids = Padded(set.owner_ids, set.partitions);
  const Ids previous_names = Padded(set.owner_names, set.partitions);
  Ids previous_keys(set.partitions);
  for (int p = 0; p < set.partitions; ++p) previous_keys[p] = members.Claim(previous_ids[p], previous_names[p]);

  Ids next_keys(set.partitions);
  if (!members.by_key.empty()) next_keys = AssignPartitions(set.partitions, previous_keys, members.Keys());
  Ids next_ids(set.partitions), next_names(set.partitions);
  for (int p = 0; p < set.partitions; ++p) {
    if (!next_keys[p].empty()) std::tie(next_ids[p], next_names[p]) = members.by_key.at(next_keys[p]);
  }
  if (next_ids == previous_ids) return std::nullopt;
  set.owner_ids = next_ids;
  set.owner_names = next_names;
  set.formed_at = clock_.Now();
  return ++set.generation;
}

void FakeCoordinationStore::Acknowledge(const std::string& replica_set, const std::string& worker_id,
                                        std::int64_t generation) {
  std::lock_guard lock(mu_);
  Check();
  auto* set = Find(replica_set);
  if (!set) return;
  if (auto it = set->rows.find(worker_id); it != set->rows.end()) {
    it->second.acked = std::max(it->second.acked, generation);
  }
}

std::vector<std::string> FakeCoordinationStore::EvictUnacknowledged(const std::string& replica_set,
                                                                    const std::vector<std::string>& worker_ids,
                                                                    std::int64_t generation) {
  std::lock_guard lock(mu_);
  Check();
  std::vector<std::string> out;
  auto* set = Find(replica_set);
  if (!set) return out;
  for (const auto& id : worker_ids) {
    if (auto it = set->rows.find(id); it != set->rows.end() && it->second.acked < generation) {
      set->rows.erase(it);
      out.push_back(id);
    }
  }
  return out;
}

std::int64_t FakeCoordinationStore::SplitPartitions(const std::string& replica_set) {
  std::lock_guard lock(mu_);
  Check();
  auto& set = Existing(replica_set);
  const int p = set.partitions;
  if (p * 2 > kMaxPartitions) {
    throw PermanentError("replica set '" + replica_set + "' has " + std::to_string(p) +
                         " partitions; a split would exceed the maximum of 4096");
  }
  if (!set.owner_ids.empty()) {  // k + P inherits k's owner; no rows, nothing to copy
    set.owner_ids.resize(2 * p);
    set.owner_names.resize(2 * p);
    std::copy_n(set.owner_ids.begin(), p, set.owner_ids.begin() + p);
    std::copy_n(set.owner_names.begin(), p, set.owner_names.begin() + p);
  }
  set.partitions = 2 * p;
  set.formed_at = clock_.Now();
  return ++set.generation;
}

AssignmentView FakeCoordinationStore::ReadAssignment(const std::string& replica_set) {
  std::lock_guard lock(mu_);
  Check();
  AssignmentView view;
  const auto* set = Find(replica_set);
  if (!set) return view;
  view.generation = set->generation;
  view.partitions = set->partitions;
  view.generation_age = Age(set->formed_at);
  view.owner_ids = Padded(set->owner_ids, set->partitions);
  view.owner_names = Padded(set->owner_names, set->partitions);
  return view;
}

void FakeCoordinationStore::Deregister(const std::string& replica_set, const std::string& worker_id) {
  std::lock_guard lock(mu_);
  Check();
  if (auto* set = Find(replica_set)) set->rows.erase(worker_id);
}

}  // namespace projd::testing
