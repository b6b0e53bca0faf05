// Readiness (`GET /readyz`): a worker is ready when it is registered, its last heartbeat
// reached the database, it is not self-fenced or stopping, it has taken every partition
// assigned to it, no projection is stopped by its error policy and none is retrying a
// database error (runner state `failing` on the database's account), and the persistence
// core's checkpoint transactions succeed (breaker closed, fewer than two failures in a
// row: one blip does not flap readiness). A standby of EVENTS_READ_URL that is not used
// (reads go to the primary or wait) makes it degraded, not unready; a projection an
// operator paused is listed as paused, and is not a reason either. Pure logic.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/runtime/worker_status.h"

namespace projd {

// Consecutive failed persistence transactions that make a worker unready.
inline constexpr int kFailedPersistenceUnready = 2;

struct Readiness {
  bool ready = false;
  std::vector<std::string> reasons;  // why not; empty when ready
  // Working, but not as configured (a standby of EVENTS_READ_URL not used): ready still.
  std::vector<std::string> degraded;
  // Projections an operator paused here (`projd projections pause`): ready still.
  std::vector<std::string> paused;
};

Readiness CheckReadiness(const WorkerStatus& status);

}  // namespace projd
