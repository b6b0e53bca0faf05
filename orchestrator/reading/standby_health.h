// Standby health: what a probe of a hot standby found, and the rule that decides whether
// runners may read events from it (docs/reading.md, "Reading from hot standbys"). Pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "orchestrator/reading/wal_marks.h"

namespace projd {

// One probe of a standby, by one statement.
struct StandbyFacts {
  bool in_recovery = false;
  WalPosition replayed;  // pg_last_wal_replay_lsn(), its timeline and system
};

enum class StandbyCondition {
  kUnknown,        // not probed yet
  kUsable,         // in recovery, the primary's history, lag within STANDBY_MAX_LAG
  kDown,           // the probe failed (connection refused, timeout, an error)
  kLagging,        // further behind than STANDBY_MAX_LAG
  kPromoted,       // not in recovery: no longer a standby of the primary
  kOtherHistory,   // another system or timeline than the primary's WAL
  kPrimaryUnknown  // the primary's WAL position is not known yet
};

const char* ConditionName(StandbyCondition c);

// The decision for one probe; `facts` is nullopt when the probe failed.
StandbyCondition AssessStandby(const std::optional<StandbyFacts>& facts, const std::optional<WalPosition>& primary,
                               std::chrono::milliseconds lag, std::chrono::milliseconds max_lag);

}  // namespace projd
