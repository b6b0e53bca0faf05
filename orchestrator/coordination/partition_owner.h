// PartitionOwner: what the coordinator drives: the runners of this worker, as one.
// Thread-safe: the coordinator calls it from its own thread while runners run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orchestrator/persistence/checkpoint.h"

namespace projd {

class PartitionOwner {
 public:
  virtual ~PartitionOwner() = default;
  virtual std::vector<std::string> Projections() const = 0;
  // Starts processing from the stamped checkpoints (each carries projection, partition,
  // position and the generation that took it) of a stream split into `partition_count`.
  virtual void Take(int partition_count, const std::vector<Checkpoint>& taken) = 0;
  // Stops reading `partitions` (all projections) and returns at once. A batch already in
  // flight may still finish them (see Busy); its checkpoints go to the persistence core
  // (drain them) and carry the old generation, so a newer stamp fences a late one.
  virtual void Release(const std::vector<int>& partitions) = 0;
  // True while a batch read before Release still holds one of `partitions`.
  virtual bool Busy(const std::vector<int>& partitions) const = 0;
};

}  // namespace projd
