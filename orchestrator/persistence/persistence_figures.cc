#include "orchestrator/persistence/persistence_figures.h"

#include <algorithm>

#include "orchestrator/config/database_url.h"

namespace projd {

void PersistenceFigures::CountSubmit(SubmitCode code) {
  switch (code) {
    case SubmitCode::kRejectedFull: ++stats_.rejected_full; break;
    case SubmitCode::kRejectedStale: ++stats_.rejected_stale; break;
    case SubmitCode::kCoalesced: ++stats_.coalesced; break;
    case SubmitCode::kUnchanged: ++stats_.unchanged; break;
    case SubmitCode::kAccepted: break;
  }
}

void PersistenceFigures::NoteCapacity(std::size_t used, int max_pending) {
  if (static_cast<std::int64_t>(used) * 5 >= static_cast<std::int64_t>(max_pending) * 4) ++stats_.capacity_warnings;
}

void PersistenceFigures::CountRejectedFull() { ++stats_.rejected_full; }

void PersistenceFigures::CountRejectedCircuitOpen() { ++stats_.rejected_circuit_open; }

void PersistenceFigures::RecordAttempt(bool succeeded, std::chrono::microseconds took, std::int64_t wall_ms) {
  const double ms = took.count() / 1000.0;
  ++stats_.total_requests;
  total_response_ms_ += ms;
  stats_.average_response_time = total_response_ms_ / static_cast<double>(stats_.total_requests);
  stats_.max_response_time = std::max(stats_.max_response_time, ms);
  stats_.min_response_time = stats_.total_requests == 1 ? ms : std::min(stats_.min_response_time, ms);
  if (succeeded) {
    ++stats_.successful_requests;
    stats_.last_success_time = wall_ms;
    stats_.last_persistence_time = wall_ms;
  } else {
    ++stats_.failed_requests;
    stats_.last_failure_time = wall_ms;
  }
}

PersistenceStats PersistenceFigures::Snapshot() const {
  PersistenceStats s = stats_;
  s.last_error = MaskSecrets(last_error_);
  return s;
}

void RecordAttempt(const AttemptResult& attempt, std::int64_t wall_ms, CircuitBreaker& breaker,
                   PersistenceFigures& figures) {
  figures.RecordAttempt(attempt.committed, attempt.took, wall_ms);
  if (attempt.database_ok) {
    breaker.RecordSuccess();
    figures.ClearLastError();
  } else {
    breaker.RecordFailure();
    figures.SetLastError(attempt.error);
  }
}

}  // namespace projd
