// VersionSetup: what a worker's start-up does for each projection version before it runs:
// register the binary's versions of the projection (VersionStore::Register), and for a
// version that runs, its Setup in the version's schema, then, for the active version of a
// schema of its own, the stable names (a first deployment). Retired and dropped versions
// are not set up: their runners take no partitions.
//
// Not thread-safe (the start-up's one thread). Throws what the store and Setup throw.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/pg/connection.h"
#include "orchestrator/versions/version_rules.h"
#include "orchestrator/versions/version_store.h"
#include <projd/projection.h>

namespace projd {

class VersionSetup {
 public:
  VersionSetup(VersionStore& store, std::string replica_set, pg::ConnectionOptions setup_options);

  // `versions`: every version of projection.Name() this binary has, ascending.
  LaneState SetUp(Projection& projection, const std::vector<int>& versions);
  // The lanes set up so far, by lane key.
  const LaneStates& lanes() const { return lanes_; }

 private:
  VersionStore& store_;
  const std::string replica_set_;
  const pg::ConnectionOptions setup_options_;
  LaneStates lanes_;
};

}  // namespace projd
