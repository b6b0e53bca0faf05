// Checkpoints: how far a projection has durably processed one partition.
// Plain data; copyable.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace projd {

struct CheckpointKey {
  std::string replica_set;
  std::string projection;
  int partition = 0;
  auto operator<=>(const CheckpointKey&) const = default;
};

struct Checkpoint {
  CheckpointKey key;
  std::int64_t position = 0;    // every event of the partition <= position is processed
  std::int64_t generation = 0;  // the generation under which the writer owns the partition
  std::string writer;           // worker id, for operators
  // Events <= replay_until were handled before a rebuild reset the position: re-reading
  // them is a replay (AsyncContext::replaying). Read from the row when a partition is taken.
  std::int64_t replay_until = 0;
};

inline std::string ToString(const CheckpointKey& k) {
  return k.replica_set + "/" + k.projection + "/" + std::to_string(k.partition);
}

}  // namespace projd
