#include "orchestrator/runtime/readiness.h"

namespace projd {

Readiness CheckReadiness(const WorkerStatus& s) {
  Readiness r;
  const auto& c = s.coordination;
  if (s.stopping) r.reasons.push_back("shutting down");
  if (!c.registered) r.reasons.push_back("not registered in replica set " + s.replica_set);
  if (!c.healthy) {
    r.reasons.push_back("database unreachable" + (c.last_error.empty() ? std::string() : ": " + c.last_error));
  }
  if (c.self_fenced) r.reasons.push_back("self-fenced: no successful heartbeat within the threshold");
  if (!c.waiting.empty()) {
    r.reasons.push_back("waiting for the handover of " + std::to_string(c.waiting.size()) + " assigned partitions");
  }
  const auto& ps = s.persistence;
  const auto why = ps.last_error.empty() ? std::string() : ": " + ps.last_error;
  if (ps.circuit_breaker_state != "closed") {
    r.reasons.push_back("persistence circuit breaker " + ps.circuit_breaker_state + why);
  } else if (ps.circuit_breaker_failure_count >= kFailedPersistenceUnready) {
    r.reasons.push_back("persistence failing (" + std::to_string(ps.circuit_breaker_failure_count) +
                        " transactions in a row)" + why);
  }
  for (const auto& runner : s.runners) {
    if (!runner.paused.Empty() && !(s.control && !s.control->pauses_known)) {
      r.paused.push_back("projection " + runner.projection + " paused by an operator on " + Describe(runner.paused));
    }
    if (runner.state == RunnerState::kFailing && runner.database_error) {
      r.reasons.push_back("projection " + runner.projection + " retrying a database error: " + runner.last_error);
    }
    for (const auto& p : runner.stopped) {
      r.reasons.push_back("projection " + runner.projection + " stopped on partition " + std::to_string(p.partition) +
                          " at position " + std::to_string(p.position) + " by its error policy");
    }
  }
  if (s.control && !s.control->pauses_known) {
    r.reasons.push_back("operator pauses not read yet (projections wait for them)" +
                        (s.control->last_error.empty() ? std::string() : ": " + s.control->last_error));
  }
  if (s.standby_reads) {
    for (const auto& sb : s.standby_reads->standbys) {
      if (sb.condition == StandbyCondition::kUsable) continue;
      auto why = std::string("standby ") + sb.name + " not used for reading events: " + ConditionName(sb.condition);
      if (sb.condition == StandbyCondition::kDown && !sb.last_error.empty()) why += ": " + sb.last_error;
      r.degraded.push_back(why);
    }
  }
  r.ready = r.reasons.empty();
  return r;
}

}  // namespace projd
