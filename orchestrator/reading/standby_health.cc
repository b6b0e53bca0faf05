#include "orchestrator/reading/standby_health.h"

namespace projd {

const char* ConditionName(StandbyCondition c) {
  switch (c) {
    case StandbyCondition::kUnknown: return "unknown";
    case StandbyCondition::kUsable: return "usable";
    case StandbyCondition::kDown: return "down";
    case StandbyCondition::kLagging: return "lagging";
    case StandbyCondition::kPromoted: return "promoted";
    case StandbyCondition::kOtherHistory: return "other_history";
    case StandbyCondition::kPrimaryUnknown: return "primary_unknown";
  }
  return "unknown";
}

StandbyCondition AssessStandby(const std::optional<StandbyFacts>& facts, const std::optional<WalPosition>& primary,
                               std::chrono::milliseconds lag, std::chrono::milliseconds max_lag) {
  if (!facts) return StandbyCondition::kDown;
  if (!facts->in_recovery) return StandbyCondition::kPromoted;
  if (!primary) return StandbyCondition::kPrimaryUnknown;
  if (!facts->replayed.SameHistory(*primary)) return StandbyCondition::kOtherHistory;
  if (lag > max_lag) return StandbyCondition::kLagging;
  return StandbyCondition::kUsable;
}

}  // namespace projd
