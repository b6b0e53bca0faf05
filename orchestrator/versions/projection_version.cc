#include "orchestrator/versions/projection_version.h"

#include <stdexcept>

namespace projd {

const char* ToString(VersionState state) {
  switch (state) {
    case VersionState::kBuilding: return "building";
    case VersionState::kReady: return "ready";
    case VersionState::kActive: return "active";
    case VersionState::kRetired: return "retired";
    case VersionState::kDropped: return "dropped";
  }
  return "unknown";
}

VersionState ParseVersionState(const std::string& text) {
  for (auto s : {VersionState::kBuilding, VersionState::kReady, VersionState::kActive, VersionState::kRetired,
                 VersionState::kDropped}) {
    if (text == ToString(s)) return s;
  }
  throw std::invalid_argument("unknown projection version state '" + text + "'");
}

bool VersionRuns(VersionState state) {
  return state == VersionState::kBuilding || state == VersionState::kReady || state == VersionState::kActive;
}

}  // namespace projd
