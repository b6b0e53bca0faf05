#include "orchestrator/persistence/flush_trigger.h"

namespace projd {

std::string ToString(Trigger t) {
  switch (t) {
    case Trigger::kInterval: return "interval";
    case Trigger::kSize: return "size";
    case Trigger::kLag: return "lag";
    case Trigger::kCaughtUp: return "caught_up";
    case Trigger::kForce: return "force";
    case Trigger::kRevoke: return "revoke";
    case Trigger::kShutdown: return "shutdown";
  }
  return "unknown";
}

std::string ToString(FlushOutcome o) {
  switch (o) {
    case FlushOutcome::kNothing: return "nothing";
    case FlushOutcome::kSuccess: return "success";
    case FlushOutcome::kFailure: return "failure";
    case FlushOutcome::kSkippedOpen: return "skipped";
  }
  return "unknown";
}

}  // namespace projd
