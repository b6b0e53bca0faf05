// A worker's graceful stop (SIGTERM), bounded by SHUTDOWN_TIMEOUT: when each step must end
// (ShutdownPlan), how far the stop got (ShutdownState) and the process exit code that
// reports it. Pure functions and plain data; thread-safe.
//
// The steps, in order: stop the coordinator, the runners, the high-water-mark follower and
// the generation listener (bounded joins until stop_by: a thread blocked in a statement
// the database does not answer is left behind); the persistence core's final drain (until
// drain_by); deregister (delete the worker's row, form the next generation). At `deadline`
// the process exits whatever runs (cmd/stop_signals.h). docs/operations.md describes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/common/logging.h"

namespace projd {

// Exit codes of `projd run` after a stop signal (0 is a complete stop).
inline constexpr int kExitStopIncomplete = 3;  // stopped in time, but not drained or not deregistered
inline constexpr int kExitStopAbandoned = 4;   // SHUTDOWN_TIMEOUT passed (or a second signal): exited at once

struct ShutdownPlan {
  Clock::Monotonic::time_point stop_by;   // the threads that read and coordinate have ended
  Clock::Monotonic::time_point drain_by;  // the final drain of pending checkpoints has ended
  Clock::Monotonic::time_point deadline;  // SHUTDOWN_TIMEOUT after the signal: the process exits
};

// The plan for a stop signalled at `signalled`. The drain is kept min(PERSISTENCE_TIMEOUT,
// half of the rest) (one full batch attempt with the defaults) and deregistering
// min(1 s, SHUTDOWN_TIMEOUT/10); the stop of the threads before them gets what remains.
// Each step may use the time an earlier one left unused.
ShutdownPlan PlanShutdown(Clock::Monotonic::time_point signalled, std::chrono::milliseconds shutdown_timeout,
                          std::chrono::milliseconds persistence_timeout);

enum class ShutdownStep { kRunning, kStopping, kDraining, kLeaving, kStopped };
std::string ToString(ShutdownStep step);

struct ShutdownState {
  ShutdownStep step = ShutdownStep::kRunning;
  // Threads still running when their step's time was up ("coordinator", "runner NAME",
  // "mark follower", "generation listener", "persistence flusher", "persistence unit lane").
  std::vector<std::string> abandoned;
  bool drained = false;         // every pending checkpoint became durable (or was fenced)
  std::int64_t unflushed = 0;   // checkpoints not known durable (pending or in flight)
  bool deregistered = false;    // the worker's row is deleted
};

// 0 for a stop that drained and deregistered, kExitStopIncomplete otherwise. A stop cut at
// the deadline exits kExitStopAbandoned instead, whatever it had done.
int ExitCodeOf(const ShutdownState& state);

// The steps a stop cut short in `step` did not finish: {"stop threads", "drain",
// "deregister"} from the running one on; empty once stopped.
std::vector<std::string> UnfinishedSteps(ShutdownStep step);

// The fields of the log line that reports a stop (also an abandoned one): step,
// unfinished, abandoned, drained, unflushed, deregistered.
LogFields DescribeShutdown(const ShutdownState& state);

}  // namespace projd
