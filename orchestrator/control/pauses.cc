#include "orchestrator/control/pauses.h"

#include "orchestrator/versions/lane_key.h"

namespace projd {

PausedPartitions PausesOf(const std::vector<Pause>& pauses, const std::string& lane_or_projection) {
  const auto projection = ParseLaneKey(lane_or_projection).projection;
  PausedPartitions out;
  for (const auto& p : pauses) {
    if (p.projection != projection) continue;
    if (p.partition == kEveryPartition) out.every = true;
    else out.partitions.insert(p.partition);
  }
  if (out.every) out.partitions.clear();
  return out;
}

std::string Describe(const PausedPartitions& paused) {
  if (paused.every) return "every partition";
  if (paused.partitions.empty()) return "no partition";
  std::string out = paused.partitions.size() == 1 ? "partition " : "partitions ";
  bool first = true;
  for (int p : paused.partitions) {
    out += (first ? "" : ", ") + std::to_string(p);
    first = false;
  }
  return out;
}

}  // namespace projd
