// ReleaseDrain: the partitions this worker gave up to a new owner whose handover is not
// finished, and the clock of that handover. The generation is acknowledged once the
// runners let go of them and their checkpoints are durable, or once the release budget is
// spent: a batch stuck in flight is then left to the new generation's stamp, which fences
// it. The coordinator polls it round by round (never blocking on the runners); the
// decisions here are pure functions of the clock. Not thread-safe (the loop thread).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/coordination/membership_rules.h"
#include "orchestrator/persistence/checkpoint.h"
#include "orchestrator/persistence/persistence_core.h"

namespace projd {

class ReleaseDrain {
 public:
  // `budget`: how long one handover's release may take (see Budget).
  explicit ReleaseDrain(std::chrono::milliseconds budget) : budget_(budget) {}

  // FORCE_PERSISTENCE_TIMEOUT, at most half the COORDINATION_TIMEOUT, so that peers never
  // evict a worker for a slow drain.
  static std::chrono::milliseconds Budget(std::chrono::milliseconds drain_timeout, const MembershipTimings& timings);

  // Adds partitions released at `now`; the budget runs from the first of the handover.
  void Add(const std::vector<int>& partitions, Clock::Monotonic::time_point now);
  // The handover finished (or was abandoned).
  void Clear() { pending_.reset(); }

  bool active() const { return pending_.has_value(); }
  // The partitions still releasing; empty when none.
  const std::vector<int>& partitions() const;
  std::chrono::milliseconds budget() const { return budget_; }

  // Whether the budget is spent at `now` (whole milliseconds elapsed): acknowledge anyway.
  bool Overdue(Clock::Monotonic::time_point now) const;
  // How long this round may wait for the drain: what is left of the budget, at most one
  // handover poll, so that the next round's heartbeat is not held up.
  std::chrono::milliseconds RevokeSlice(Clock::Monotonic::time_point now, const MembershipTimings& timings) const;
  // Whether a drain that ended with `result` at `now` is tried again next round: it timed
  // out within the budget. Otherwise the handover is finished (kOk) or given up.
  bool KeepWaiting(ForceResult result, Clock::Monotonic::time_point now) const;

 private:
  struct Pending {
    std::vector<int> partitions;
    Clock::Monotonic::time_point since{};
  };
  std::chrono::milliseconds budget_;
  std::optional<Pending> pending_;
};

// The checkpoint rows of `partitions` for every projection, projection by projection.
std::vector<CheckpointKey> ReleaseKeys(const std::string& replica_set, const std::vector<std::string>& projections,
                                       const std::vector<int>& partitions);

}  // namespace projd
