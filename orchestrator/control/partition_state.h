// What one partition of one projection lane is doing, as its owning worker reports it to
// the database (projd_partition_states) for `projd status`. A report is written when it
// changed since the worker last wrote it (PartitionReports), so an unchanged worker writes
// nothing.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace projd {

struct PartitionState {
  std::string lane;  // the lane key (NAME, NAME@N)
  int partition = 0;
  std::string state;       // a runner state (running, caught_up, paused, stopped, ...)
  std::string last_error;  // '' when none
  bool operator==(const PartitionState&) const = default;
};

// The reports a worker wrote last, to write only what changed. Not thread-safe (one
// thread reports).
class PartitionReports {
 public:
  // The states of `current` that differ from what was last written.
  std::vector<PartitionState> Changed(const std::vector<PartitionState>& current) const;
  // Records `written` as stored.
  void Written(const std::vector<PartitionState>& written);
  // Forgets the partitions `current` lacks: one released and taken back later is written
  // again (its row may show another owner meanwhile).
  void Retain(const std::vector<PartitionState>& current);

 private:
  std::map<std::pair<std::string, int>, PartitionState> last_;
};

}  // namespace projd
