// What a read-your-writes wait asks and what it finds: has projection NAME processed
// position P (every partition's checkpoint of the active version's lane at P or beyond;
// the rule itself is SQL, migrations/0011_projd_wait.sql), and if not, which partitions
// are behind. Plain data and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace projd {

struct WaitTarget {
  std::string projection;   // NAME (its active version) or NAME@N (version N)
  std::int64_t position = 0;  // an event's global_position
  std::string replica_set;  // "" = the only replica set that has the projection
};

// A partition that has not processed the position yet.
struct LaggingPartition {
  int partition = 0;
  std::optional<std::int64_t> checkpoint;  // none: the lane has no checkpoint row there yet
  std::string owner;                       // worker name of the assignment, "" when unassigned
  bool paused = false;                     // a pause row covers it (projd projections pause)
  std::string state;                       // the runner state its owner last reported, "" when none
};

struct WaitProgress {
  std::string replica_set;  // resolved; "" when no replica set has the projection yet
  std::string lane;         // the lane key the rule looked at (NAME or NAME@N)
  // False when the replica set is not registered (no partition count): not processed.
  bool replica_set_known = true;
  std::vector<LaggingPartition> behind;

  bool processed() const { return replica_set_known && behind.empty(); }
};

// Parses "NAME" or "NAME@N" (N >= 1); nullopt with `error` set otherwise.
std::optional<std::string> ValidWaitProjection(const std::string& text, std::string* error);

// One line per lagging partition ("partition 3: checkpoint 41 (owner w1, state stopped, paused)"), or why
// nothing is known; for the timeout messages of `projd wait` and GET /wait.
std::string DescribeBehind(const WaitTarget& target, const WaitProgress& progress);

}  // namespace projd
