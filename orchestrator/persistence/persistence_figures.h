// PersistenceFigures: what the persistence core counts itself (requests, response times,
// refusals, flushes by trigger and outcome, the latest error): every PersistenceStats field
// but those the breaker and the pending checkpoints report (state, trips, pending count,
// ages), which the core adds to Snapshot() under the same lock.
// Not thread-safe: the core keeps it under its one lock, with the breaker and the pending
// checkpoints, so GetStats() is one consistent snapshot.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "orchestrator/persistence/circuit_breaker.h"
#include "orchestrator/persistence/flush_trigger.h"
#include "orchestrator/persistence/pending_checkpoints.h"
#include "orchestrator/persistence/persistence_stats.h"

namespace projd {

class PersistenceFigures {
 public:
  // A submit's code: coalesced, unchanged and refusals are counted; accepted is not.
  void CountSubmit(SubmitCode code);
  // An accepted submit found `used` keys pending or in flight: a warning at >= 80 % of
  // `max_pending`.
  void NoteCapacity(std::size_t used, int max_pending);
  void CountRejectedFull();         // also a unit refused for too many in flight
  void CountRejectedCircuitOpen();  // a unit or a barrier refused while the breaker is open

  // One transaction attempt (a checkpoint batch or a unit) that took `took` and ended at
  // `wall_ms` (epoch ms): committed (`succeeded`) or not.
  void RecordAttempt(bool succeeded, std::chrono::microseconds took, std::int64_t wall_ms);
  // The latest transaction's database error; cleared when one succeeds as far as the
  // database goes.
  void SetLastError(std::string error) { last_error_ = std::move(error); }
  void ClearLastError() { last_error_.clear(); }
  const std::string& last_error() const { return last_error_; }

  void CountFlush(Trigger trigger, FlushOutcome outcome) { stats_.flushes.Add(trigger, outcome); }
  void CountFenced(std::size_t keys) { stats_.fenced += static_cast<std::int64_t>(keys); }
  void CountUnitCommitted() { ++stats_.units_committed; }
  void CountUnitFenced() {  // a fenced unit is also a fenced write
    ++stats_.units_fenced;
    ++stats_.fenced;
  }

  // The counted fields, last_error with its secrets masked; the rest is left at its default.
  PersistenceStats Snapshot() const;

 private:
  PersistenceStats stats_;
  double total_response_ms_ = 0;
  std::string last_error_;
};

// One transaction attempt, a checkpoint batch or a unit, as the breaker and the figures see it.
struct AttemptResult {
  bool database_ok = false;  // no database error (a unit's own failure is none)
  bool committed = false;
  std::string error;         // the database's error text when !database_ok
  std::chrono::microseconds took{0};
};

// What an attempt's end does to the breaker and the figures: every attempt is counted,
// committed or failed; the breaker and the latest error follow the database alone (a unit
// whose projection code failed is a failed request but neither a breaker failure nor an
// error of the database).
void RecordAttempt(const AttemptResult& attempt, std::int64_t wall_ms, CircuitBreaker& breaker,
                   PersistenceFigures& figures);

}  // namespace projd
