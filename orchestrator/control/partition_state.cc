#include "orchestrator/control/partition_state.h"

namespace projd {

std::vector<PartitionState> PartitionReports::Changed(const std::vector<PartitionState>& current) const {
  std::vector<PartitionState> out;
  for (const auto& s : current) {
    const auto it = last_.find({s.lane, s.partition});
    if (it == last_.end() || !(it->second == s)) out.push_back(s);
  }
  return out;
}

void PartitionReports::Written(const std::vector<PartitionState>& written) {
  for (const auto& s : written) last_[{s.lane, s.partition}] = s;
}

void PartitionReports::Retain(const std::vector<PartitionState>& current) {
  std::map<std::pair<std::string, int>, PartitionState> kept;
  for (const auto& s : current) {
    if (const auto it = last_.find({s.lane, s.partition}); it != last_.end()) kept.insert(*it);
  }
  last_ = std::move(kept);
}

}  // namespace projd
