// PersistenceStats: a consistent snapshot of the persistence core's figures. Field names
// follow the ExESDB PersistenceWorker guide (see docs/persistence.md for each definition).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace projd {

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
  // "trigger/outcome" -> count, e.g. "interval/success", "force/failure", "size/skipped".
  std::map<std::string, std::int64_t> flushes;
};

}  // namespace projd
