#include "orchestrator/coordination/assignment.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace projd {

std::vector<std::string> AssignPartitions(int partitions, const std::vector<std::string>& previous,
                                          std::vector<std::string> members) {
  if (members.empty()) throw std::invalid_argument("AssignPartitions: no members");
  if (static_cast<int>(previous.size()) != partitions) {
    throw std::invalid_argument("AssignPartitions: previous owners do not match the partition count");
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  const int n = static_cast<int>(members.size());
  const int base = partitions / n;
  const int extra = partitions % n;

  // What each member owns now, ascending.
  std::map<std::string, std::vector<int>> owned;
  for (const auto& m : members) owned[m];
  for (int p = 0; p < partitions; ++p) {
    if (auto it = owned.find(previous[p]); it != owned.end()) it->second.push_back(p);
  }
  // The larger quotas go to the members that own most already (ties: by name).
  std::vector<std::string> by_load = members;
  std::stable_sort(by_load.begin(), by_load.end(), [&](const std::string& a, const std::string& b) {
    return owned[a].size() > owned[b].size();
  });
  std::map<std::string, int> quota;
  for (int i = 0; i < n; ++i) quota[by_load[i]] = base + (i < extra ? 1 : 0);

  std::vector<std::string> result(partitions);
  std::vector<int> free;
  std::map<std::string, int> count;
  for (int p = 0; p < partitions; ++p) {
    const auto& owner = previous[p];
    if (auto q = quota.find(owner); q != quota.end() && count[owner] < q->second) {
      result[p] = owner;
      ++count[owner];
    } else {
      free.push_back(p);
    }
  }
  // Hand the free partitions to members below quota, in name order.
  std::size_t next = 0;
  for (const auto& m : members) {
    while (count[m] < quota[m] && next < free.size()) {
      result[free[next++]] = m;
      ++count[m];
    }
  }
  return result;
}

int CountMoves(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  int moves = 0;
  for (std::size_t p = 0; p < before.size() && p < after.size(); ++p) moves += before[p] != after[p] ? 1 : 0;
  return moves;
}

}  // namespace projd
