#include "orchestrator/waits/progress_wait.h"

#include <algorithm>

#include "orchestrator/common/backoff.h"
#include "orchestrator/common/errors.h"

namespace projd {

std::chrono::milliseconds PollPause(int polls) {
  const int doublings = std::clamp(polls, 0, 4);
  return std::min(std::chrono::milliseconds(10 << doublings), std::chrono::milliseconds(100));
}

WaitOutcome WaitUntilProcessed(ProgressStore& store, const WaitTarget& target, std::chrono::milliseconds timeout,
                               const Clock& clock, const SleepFor& sleep, const Logger& logger) {
  const auto deadline = clock.Now() + timeout;
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::milliseconds(2000));
  WaitOutcome outcome;
  int polls = 0;
  while (true) {
    std::chrono::milliseconds pause;
    try {
      outcome.last = store.Check(target);
      outcome.any_read = true;
      outcome.last_error.clear();
      if (outcome.last.processed()) {
        outcome.processed = true;
        return outcome;
      }
      backoff.Reset();
      pause = PollPause(polls++);
    } catch (const TransientError& e) {
      // A restart or an outage: the wait goes on until its own deadline.
      outcome.last_error = e.what();
      pause = backoff.Next();
      logger.Warn("database unavailable while waiting; retrying",
                  {{"error", e.what()}, {"retry_in_ms", std::to_string(pause.count())},
                   {"attempt", std::to_string(backoff.attempts())}});
    }
    const auto now = clock.Now();
    if (now >= deadline) return outcome;
    sleep(std::min(pause, std::chrono::ceil<std::chrono::milliseconds>(deadline - now)));
  }
}

}  // namespace projd
