// Operator pauses (`projd projections pause|resume`): which partitions of which projection
// no worker reads. A pause names a projection (every version of it) and one partition, or
// every partition (kEveryPartition). Pure values; the rows live in projd_projection_pauses.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace projd {

inline constexpr int kEveryPartition = -1;

struct Pause {
  std::string projection;  // the projection's name (not a lane key: every version pauses)
  int partition = kEveryPartition;
  std::string paused_by;
  std::string reason;
};

// The paused partitions of one projection.
struct PausedPartitions {
  bool every = false;        // every partition, present and future
  std::set<int> partitions;  // otherwise these

  bool Covers(int partition) const { return every || partitions.count(partition) > 0; }
  bool Empty() const { return !every && partitions.empty(); }
  bool operator==(const PausedPartitions&) const = default;
};

// The pauses of `projection` (a projection name; a lane key NAME@N counts as NAME).
PausedPartitions PausesOf(const std::vector<Pause>& pauses, const std::string& lane_or_projection);

// "every partition" or "partitions 1, 4".
std::string Describe(const PausedPartitions& paused);

}  // namespace projd
