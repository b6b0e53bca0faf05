// ProgressStore: reads, once, whether a projection has processed a position and which
// partitions are behind (the rule of migrations/0011_projd_wait.sql). Implementations are
// used by one thread at a time.
#pragma once

#include "orchestrator/waits/wait_progress.h"

namespace projd {

class ProgressStore {
 public:
  virtual ~ProgressStore() = default;
  // Throws TransientError (database unreachable, restarting: retry later) or PermanentError
  // (the target is invalid, two replica sets have the projection, migrations missing).
  virtual WaitProgress Check(const WaitTarget& target) = 0;
};

}  // namespace projd
