// The decisions about projection versions, as pure functions of what the store reports
// (tests/unit/version_rules_test.cpp).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/versions/projection_version.h"

namespace projd {

// Whether a lane runs on this worker, and where its read model lives.
struct LaneState {
  bool runs = true;
  std::string schema;
};
using LaneStates = std::map<std::string, LaneState>;  // by lane key

// The lanes of `versions`: building, ready and active run; retired and dropped do not.
LaneStates LanesOf(const std::vector<ProjectionVersion>& versions);

// Whether a building (or ready) version is close enough to the active one that a switch,
// which holds the active version for up to `wait` while the new one closes the gap, is
// worth trying: no partition behind, or the largest gap is one the new version covers in
// `wait` at `positions_per_second`.
bool SwitchWorthTrying(const ProjectionVersion& v, double positions_per_second, std::chrono::milliseconds wait);

// Seconds until a building version reaches the active one at `positions_per_second`
// (0 when no partition is behind; nullopt while it makes no progress).
std::optional<double> CatchUpEstimate(const ProjectionVersion& v, double positions_per_second);

// Whether a retired version has been kept for `retention` (0: kept until dropped by hand).
bool RetentionOver(const ProjectionVersion& v, std::chrono::milliseconds retention);

// The version `projd versions promote NAME` switches to when none is named: the highest
// building or ready one (nullopt: none).
std::optional<int> PromoteTarget(const std::vector<ProjectionVersion>& versions, const std::string& projection);
// The version `projd versions rollback NAME` switches back to: the one retired most
// recently (nullopt: none).
std::optional<int> RollbackTarget(const std::vector<ProjectionVersion>& versions, const std::string& projection);

// The progress rate of each lane, from successive observations of its lowest checkpoint:
// positions per second, smoothed over rounds.
class ProgressRates {
 public:
  void Observe(const std::string& lane, std::int64_t min_position, std::chrono::steady_clock::time_point at);
  double PerSecond(const std::string& lane) const;

 private:
  struct Seen {
    std::int64_t position = 0;
    std::chrono::steady_clock::time_point at;
    double rate = 0;
    bool has_rate = false;
  };
  std::map<std::string, Seen> seen_;
};

}  // namespace projd
