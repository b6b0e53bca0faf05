// StandbyProbe: one statement on a hot standby that reports whether it is in recovery and
// how far it has replayed the primary's WAL (the Postgres implementation is
// orchestrator/reading/pg/pg_standby_probe.h). Not thread-safe: one owner (the watch).
#pragma once

#include "orchestrator/reading/standby_health.h"

namespace projd {

class StandbyProbe {
 public:
  virtual ~StandbyProbe() = default;
  // Throws projd::Error (TransientError when the standby is unreachable).
  virtual StandbyFacts Probe() = 0;
};

}  // namespace projd
