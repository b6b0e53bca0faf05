#include "orchestrator/versions/version_steward.h"

#include <algorithm>

#include "orchestrator/common/errors.h"
#include "orchestrator/versions/lane_key.h"

namespace projd {

VersionSteward::VersionSteward(VersionStore& store, const Clock& clock, Logger logger, VersionStewardOptions options,
                               std::vector<std::string> lanes)
    : store_(store),
      clock_(clock),
      logger_(std::move(logger)),
      options_(std::move(options)),
      lanes_(lanes.begin(), lanes.end()) {}

void VersionSteward::SetInitial(LaneStates lanes) {
  std::lock_guard lock(mu_);
  states_ = std::move(lanes);
}

std::vector<ProjectionVersion> VersionSteward::ReadLocked() {
  auto versions = store_.List(options_.replica_set);
  const auto now = clock_.Now();
  for (const auto& v : versions) rates_.Observe(LaneKey(v.projection, v.version), v.min_position, now);
  std::vector<VersionStatus> shown;
  for (const auto& v : versions) {
    const auto lane = LaneKey(v.projection, v.version);
    VersionStatus s{v, lanes_.count(lane) > 0 && VersionRuns(v.state), rates_.PerSecond(lane), std::nullopt};
    if (v.state == VersionState::kBuilding || v.state == VersionState::kReady) {
      s.catch_up_seconds = CatchUpEstimate(v, s.positions_per_second);
    }
    shown.push_back(std::move(s));
  }
  const auto lanes = LanesOf(versions);
  std::lock_guard lock(mu_);
  for (const auto& [lane, state] : lanes) states_[lane] = state;
  status_.versions = std::move(shown);
  status_.last_error.clear();
  status_.known = true;
  return versions;
}

LaneStates VersionSteward::Refresh() {
  std::lock_guard store_lock(store_mu_);
  try {
    ReadLocked();
  } catch (const Error& e) {
    logger_.Warn("reading the projection versions failed; keeping the last known", {{"error", e.what()}});
    std::lock_guard lock(mu_);
    status_.last_error = e.what();
  }
  std::lock_guard lock(mu_);
  return states_;
}

bool VersionSteward::BuildsHere(const std::vector<ProjectionVersion>& versions) const {
  return std::any_of(versions.begin(), versions.end(), [&](const auto& v) {
    return (v.state == VersionState::kBuilding || v.state == VersionState::kReady) &&
           lanes_.count(LaneKey(v.projection, v.version)) > 0;
  });
}

std::chrono::milliseconds VersionSteward::Round() {
  std::lock_guard store_lock(store_mu_);
  try {
    const auto versions = ReadLocked();
    AdvanceLocked(versions);
    return BuildsHere(versions) ? options_.building_interval : options_.idle_interval;
  } catch (const Error& e) {
    logger_.Warn("a projection version round failed; retrying", {{"error", e.what()}});
    std::lock_guard lock(mu_);
    status_.last_error = e.what();
    return options_.building_interval;
  }
}

void VersionSteward::AdvanceLocked(const std::vector<ProjectionVersion>& versions) {
  for (const auto& v : versions) {
    if (RetentionOver(v, options_.retention)) {
      if (store_.Drop(options_.replica_set, v.projection, v.version).dropped) {
        logger_.Info("dropped a retired projection version kept for VERSION_RETENTION",
                     {{"projection", v.projection}, {"version", std::to_string(v.version)}});
      }
      continue;
    }
    const auto lane = LaneKey(v.projection, v.version);
    if (!lanes_.count(lane) || !SwitchWorthTrying(v, rates_.PerSecond(lane), options_.catch_up_wait)) continue;
    if (options_.switch_auto) {
      TrySwitchLocked(v);
    } else if (v.state == VersionState::kBuilding && v.partitions_behind == 0 &&
               store_.MarkReady(options_.replica_set, v.projection, v.version)) {
      logger_.Info("projection version caught up; waiting for `projd versions promote`",
                   {{"projection", v.projection}, {"version", std::to_string(v.version)}});
    }
  }
}

void VersionSteward::TrySwitchLocked(const ProjectionVersion& v) {
  SwitchRequest request;
  request.projection = v.projection;
  request.to_version = v.version;
  request.catch_up_wait = options_.catch_up_wait;
  const auto started = clock_.Now();
  const auto result = store_.Switch(options_.replica_set, request);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - started);
  {
    std::lock_guard lock(mu_);
    ++status_.switch_attempts;
    if (result.outcome == SwitchOutcome::kSwitched) ++status_.switches;
  }
  const LogFields fields{{"projection", v.projection},
                         {"version", std::to_string(v.version)},
                         {"from_version", std::to_string(result.from_version)}};
  switch (result.outcome) {
    case SwitchOutcome::kSwitched: {
      auto f = fields;
      f.push_back({"generation", std::to_string(result.generation)});
      f.push_back({"stable_names", std::to_string(result.stable_names)});
      f.push_back({"took_ms", std::to_string(took.count())});
      logger_.Info("switched readers to the new projection version", f);
      break;
    }
    case SwitchOutcome::kNotCaughtUp:
      logger_.Debug("projection version not caught up yet", fields);
      break;
    case SwitchOutcome::kRefused:
      logger_.Debug("projection version switch not possible", {{"projection", v.projection}, {"reason", result.reason}});
      break;
  }
}

LaneStates VersionSteward::Lanes() const {
  std::lock_guard lock(mu_);
  return states_;
}

VersionsStatus VersionSteward::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

}  // namespace projd
