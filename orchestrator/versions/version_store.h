// VersionStore: projd_projection_versions and what changes it (register, switch, drop).
// The PostgreSQL implementation is pg/pg_version_store.h; docs/projections.md, "Versions",
// describes the life of a version.
//
// Every call runs in one transaction. Throws projd::TransientError (retry later) or
// PermanentError like every store (orchestrator/common/errors.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "orchestrator/versions/lane_key.h"
#include "orchestrator/versions/projection_version.h"

namespace projd {

struct SwitchRequest {
  std::string projection;
  int to_version = 0;
  enum class Require {
    kCaughtUp,  // every partition of `to_version` at or past the active version's checkpoint
    kNothing,   // a switch back: the version shows what it has (its workers catch it up)
  };
  Require require = Require::kCaughtUp;
  // How long the switch may hold the active version's checkpoints (its batches wait) for the
  // new version to reach them.
  std::chrono::milliseconds catch_up_wait{3000};
};

enum class SwitchOutcome {
  kSwitched,
  kNotCaughtUp,  // `to_version` still behind after catch_up_wait: nothing changed
  kRefused,      // not a version that can be switched to now (see reason)
};

struct SwitchResult {
  SwitchOutcome outcome = SwitchOutcome::kRefused;
  int from_version = 0;
  std::int64_t generation = 0;  // the generation the switch formed (fences the old version)
  int stable_names = 0;         // views pointed at the new version
  int partitions_behind = 0;    // kNotCaughtUp: how many
  std::string reason;           // kRefused, kNotCaughtUp: why, for the operator
};

struct DropResult {
  bool dropped = false;
  std::string reason;  // why not
};

class VersionStore {
 public:
  virtual ~VersionStore() = default;

  // Records the versions of `projection` this binary has (ascending), creating the schemas
  // of those that run; returns every version of the projection. A version new to the
  // replica set becomes active when none is (the first deployment), building when it is
  // above every known version, retired otherwise (an old number arriving late). Checkpoints
  // written before versions existed make an implicit version 1 the active one.
  virtual std::vector<ProjectionVersion> Register(const std::string& replica_set, const std::string& projection,
                                                  const std::vector<int>& versions) = 0;

  // Every version of every projection of the replica set, with progress.
  virtual std::vector<ProjectionVersion> List(const std::string& replica_set) = 0;

  // Makes the stable names show `version` when it is the active one and they do not show it
  // yet (a first deployment into a version schema). False: nothing to do.
  virtual bool PointStableNames(const std::string& replica_set, const std::string& projection, int version) = 0;

  // building -> ready (caught up, VERSION_SWITCH=manual). False when it was not building.
  virtual bool MarkReady(const std::string& replica_set, const std::string& projection, int version) = 0;

  // Switches the stable names to `request.to_version` and retires the active version, as a
  // generation change that fences the old version's batches in flight.
  virtual SwitchResult Switch(const std::string& replica_set, const SwitchRequest& request) = 0;

  // retired -> building again (a version switched away from, to be promoted once caught up),
  // as a generation change so that workers with its code run it again. False when it was
  // not retired.
  virtual bool Resume(const std::string& replica_set, const std::string& projection, int version) = 0;

  // Drops a version that is not active: fences its batches, drops its schema, forgets its
  // dead letters, keeps its number as dropped.
  virtual DropResult Drop(const std::string& replica_set, const std::string& projection, int version) = 0;
};

}  // namespace projd
