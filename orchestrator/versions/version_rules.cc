#include "orchestrator/versions/version_rules.h"

#include "orchestrator/versions/lane_key.h"

namespace projd {

LaneStates LanesOf(const std::vector<ProjectionVersion>& versions) {
  LaneStates lanes;
  for (const auto& v : versions) lanes[LaneKey(v.projection, v.version)] = {VersionRuns(v.state), v.schema};
  return lanes;
}

bool SwitchWorthTrying(const ProjectionVersion& v, double positions_per_second, std::chrono::milliseconds wait) {
  if (v.state != VersionState::kBuilding && v.state != VersionState::kReady) return false;
  if (v.partitions_behind == 0) return true;
  const double coverable = positions_per_second * std::chrono::duration<double>(wait).count();
  return static_cast<double>(v.max_behind) <= coverable;
}

std::optional<double> CatchUpEstimate(const ProjectionVersion& v, double positions_per_second) {
  if (v.partitions_behind == 0) return 0.0;
  if (positions_per_second <= 0) return std::nullopt;
  return static_cast<double>(v.max_behind) / positions_per_second;
}

bool RetentionOver(const ProjectionVersion& v, std::chrono::milliseconds retention) {
  if (v.state != VersionState::kRetired || retention.count() <= 0) return false;
  return v.state_age_seconds * 1000.0 >= static_cast<double>(retention.count());
}

std::optional<int> PromoteTarget(const std::vector<ProjectionVersion>& versions, const std::string& projection) {
  std::optional<int> out;
  for (const auto& v : versions) {
    const bool candidate = v.state == VersionState::kBuilding || v.state == VersionState::kReady;
    if (v.projection == projection && candidate && (!out || v.version > *out)) out = v.version;
  }
  return out;
}

std::optional<int> RollbackTarget(const std::vector<ProjectionVersion>& versions, const std::string& projection) {
  const ProjectionVersion* latest = nullptr;
  for (const auto& v : versions) {
    if (v.projection != projection || v.state != VersionState::kRetired) continue;
    if (!latest || v.state_age_seconds < latest->state_age_seconds) latest = &v;
  }
  if (!latest) return std::nullopt;
  return latest->version;
}

void ProgressRates::Observe(const std::string& lane, std::int64_t min_position,
                            std::chrono::steady_clock::time_point at) {
  auto [it, fresh] = seen_.try_emplace(lane, Seen{min_position, at, 0, false});
  if (fresh) return;
  auto& s = it->second;
  const double seconds = std::chrono::duration<double>(at - s.at).count();
  if (seconds <= 0) return;
  const double rate = std::max(0.0, static_cast<double>(min_position - s.position) / seconds);
  s.rate = s.has_rate ? 0.5 * s.rate + 0.5 * rate : rate;  // smooths the steps of batch commits
  s.has_rate = true;
  s.position = min_position;
  s.at = at;
}

double ProgressRates::PerSecond(const std::string& lane) const {
  const auto it = seen_.find(lane);
  return it == seen_.end() ? 0.0 : it->second.rate;
}

}  // namespace projd
