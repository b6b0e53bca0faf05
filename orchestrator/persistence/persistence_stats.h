// PersistenceStats: a consistent snapshot of the persistence core's figures. Field names
// follow the ExESDB PersistenceWorker guide (see docs/persistence.md for each definition).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "orchestrator/persistence/flush_trigger.h"

namespace projd {

// Checkpoint flushes counted by trigger and outcome (enum-indexed: no string keys). A flush
// with nothing to write (FlushOutcome::kNothing) is no flush and is never counted.
class FlushCounts {
 public:
  struct Entry {
    Trigger trigger;
    FlushOutcome outcome;
    std::int64_t count;
  };

  void Add(Trigger t, FlushOutcome o, std::int64_t n = 1) {
    if (o != FlushOutcome::kNothing) counts_[Index(t)][Index(o)] += n;
  }
  std::int64_t Count(Trigger t, FlushOutcome o) const { return counts_[Index(t)][Index(o)]; }
  // The pairs counted at least once, in enum order.
  std::vector<Entry> Entries() const {
    std::vector<Entry> out;
    for (const auto t : kTriggers) {
      for (const auto o : kFlushOutcomes) {
        if (const auto n = Count(t, o); n != 0) out.push_back({t, o, n});
      }
    }
    return out;
  }
  bool operator==(const FlushCounts&) const = default;

 private:
  std::array<std::array<std::int64_t, kFlushOutcomes.size()>, kTriggers.size()> counts_{};
};

struct PersistenceStats {
  std::int64_t total_requests = 0;       // batch and unit transactions attempted
  std::int64_t successful_requests = 0;  // committed (fenced keys inside a committed batch count as success)
  std::int64_t failed_requests = 0;      // transient error, timeout, or outcome unknown
  std::int64_t circuit_breaker_trips = 0;
  std::string circuit_breaker_state = "closed";  // closed | open | half_open
  int circuit_breaker_failure_count = 0;         // consecutive failures now
  std::int64_t pending_count = 0;                // keys waiting to be written (excludes in flight)
  double average_response_time = 0;              // ms, over all attempts
  double max_response_time = 0;                  // ms
  double min_response_time = 0;                  // ms (0 before the first attempt)
  std::int64_t last_success_time = 0;            // epoch ms, 0 = never
  std::int64_t last_failure_time = 0;            // epoch ms, 0 = never
  std::int64_t last_persistence_time = 0;        // epoch ms of the last committed write, 0 = never
  std::int64_t uptime = 0;                       // ms since the core was created
  std::string last_error;  // of the last failed transaction (secrets masked); empty after a success

  std::int64_t coalesced = 0;        // submits merged into a pending key
  std::int64_t unchanged = 0;        // submits equal to what is already durable (not written again)
  std::int64_t rejected_full = 0;    // refused: MAX_PENDING reached
  std::int64_t rejected_stale = 0;   // refused: generation older than pending or fenced
  std::int64_t rejected_circuit_open = 0;  // units and forced flushes refused while open
  std::int64_t fenced = 0;           // keys rejected by a newer generation in the database
  std::int64_t capacity_warnings = 0;  // submits seen at >= 80% of MAX_PENDING
  std::int64_t units_committed = 0;
  std::int64_t units_fenced = 0;
  std::int64_t oldest_pending_age = 0;  // ms
  // By trigger and outcome; /status shows them as "trigger/outcome" keys (e.g.
  // "interval/success", "size/skipped"), /metrics as projd_persistence_flushes_total labels.
  FlushCounts flushes;
};

}  // namespace projd
