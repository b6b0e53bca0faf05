// VersionSteward: a worker's part in the life of projection versions (docs/projections.md,
// "Versions"). Each round it reads the replica set's versions, tells the worker which of its
// lanes run and where their read models live, and for every version this worker builds
// that has (nearly) caught up: switches to it (VERSION_SWITCH=auto) or marks it ready
// (manual). Any worker that builds a version may switch it; the store's transaction makes
// the switch happen once. Retired versions kept longer than VERSION_RETENTION are dropped
// by whichever worker sees it first.
//
// Thread-safe: Round (the worker's steward thread), Refresh (the coordinator's thread, at a
// take) and Status (HTTP) may run at once; store calls are serialised.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/versions/version_rules.h"
#include "orchestrator/versions/version_store.h"

namespace projd {

struct VersionStewardOptions {
  std::string replica_set;
  bool switch_auto = true;                            // VERSION_SWITCH
  std::chrono::milliseconds catch_up_wait{1000};      // a switch holds the active version at most this long
  std::chrono::milliseconds building_interval{1000};  // rounds while this worker builds a version
  std::chrono::milliseconds idle_interval{10000};     // rounds otherwise (status, retention)
  std::chrono::milliseconds retention{0};             // VERSION_RETENTION (0: until dropped by hand)
};

// One version as /status shows it.
struct VersionStatus {
  ProjectionVersion version;
  bool runs_here = false;                 // this worker has its code and runs it
  double positions_per_second = 0;        // progress of its lowest checkpoint
  std::optional<double> catch_up_seconds; // building and ready: the estimate
};

struct VersionsStatus {
  std::vector<VersionStatus> versions;
  std::int64_t switches = 0;          // switches this worker made
  std::int64_t switch_attempts = 0;   // of which some found the version behind after the wait
  std::string last_error;             // the last failed round ("" after a good one)
  bool known = false;                 // a round or a refresh has read the versions
};

class VersionSteward {
 public:
  // `lanes`: the lane keys of the projections this worker has.
  VersionSteward(VersionStore& store, const Clock& clock, Logger logger, VersionStewardOptions options,
                 std::vector<std::string> lanes);

  // Reads the versions and returns the lanes' states; after a database error, the last ones
  // known (initially: every lane runs in `initial`'s schema).
  LaneStates Refresh();
  // Refresh, then the switches or ready marks due. Returns the time until the next round.
  std::chrono::milliseconds Round();
  VersionsStatus Status() const;
  // The lanes' states as the last round or refresh read them (no query).
  LaneStates Lanes() const;
  // The states the worker started with (from the registration at start-up).
  void SetInitial(LaneStates lanes);

 private:
  std::vector<ProjectionVersion> ReadLocked();  // under store_mu_; throws projd::Error
  void AdvanceLocked(const std::vector<ProjectionVersion>& versions);
  void TrySwitchLocked(const ProjectionVersion& v);
  bool BuildsHere(const std::vector<ProjectionVersion>& versions) const;

  VersionStore& store_;
  const Clock& clock_;
  Logger logger_;
  const VersionStewardOptions options_;
  const std::set<std::string> lanes_;

  std::mutex store_mu_;  // one store call at a time; guards rates_
  ProgressRates rates_;
  mutable std::mutex mu_;  // guards what Status() and Refresh() hand out
  LaneStates states_;
  VersionsStatus status_;
};

}  // namespace projd
