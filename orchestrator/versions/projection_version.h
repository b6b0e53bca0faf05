// ProjectionVersion: one version of a projection as projd_projection_versions records it,
// its state, and how far it has come (docs/projections.md, "Versions").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace projd {

enum class VersionState {
  kBuilding,  // catching up beside the active version
  kReady,     // caught up; waits for `projd versions promote` (VERSION_SWITCH=manual)
  kActive,    // what the stable names show
  kRetired,   // switched away from; kept for a switch back
  kDropped,   // its schema is gone; the number is never built again
};

const char* ToString(VersionState state);
// Throws std::invalid_argument for a name that is none of the above.
VersionState ParseVersionState(const std::string& text);

// Whether a worker that has the version's code runs it: building, ready and active do.
bool VersionRuns(VersionState state);

struct ProjectionVersion {
  std::string projection;
  int version = 1;
  VersionState state = VersionState::kActive;
  // Where its tables live; empty: the stable schema itself (a version 1 never switched away).
  std::string schema;
  // Progress, from its checkpoints over the replica set's partitions.
  int partitions_with_checkpoints = 0;
  std::int64_t min_position = 0;
  std::int64_t max_position = 0;
  // Partitions behind the active version's checkpoint, and the largest distance (positions);
  // both 0 for the active version itself.
  int partitions_behind = 0;
  std::int64_t max_behind = 0;
  double state_age_seconds = 0;  // since the state last changed
};

}  // namespace projd
