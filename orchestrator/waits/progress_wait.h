// WaitUntilProcessed: the blocking read-your-writes wait of `projd wait`. Polls a
// ProgressStore until the projection has processed the position or the timeout passes;
// database errors (unreachable, restarting) are logged and retried with backoff until then,
// never fatal at once. Each poll is one short statement, so a statement_timeout shorter than
// the wait does not cut it. Thread-safe as far as `store` is (one call per store at a time).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "orchestrator/common/clock.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/waits/progress_store.h"

namespace projd {

struct WaitOutcome {
  bool processed = false;
  WaitProgress last;       // the latest progress read (empty when no read succeeded)
  bool any_read = false;   // whether any read succeeded
  std::string last_error;  // the latest database error, "" when the latest read succeeded
};

using SleepFor = std::function<void(std::chrono::milliseconds)>;

// The pause after the `polls`-th unsuccessful poll: 10 ms, doubling, at most 100 ms (a wait
// usually ends within one flush of the persistence core; later polls can be rarer).
std::chrono::milliseconds PollPause(int polls);

// Checks at least once (also with timeout 0) and once more at the deadline. Throws
// PermanentError from the store (an invalid target, migrations missing).
WaitOutcome WaitUntilProcessed(ProgressStore& store, const WaitTarget& target, std::chrono::milliseconds timeout,
                               const Clock& clock, const SleepFor& sleep, const Logger& logger);

}  // namespace projd
