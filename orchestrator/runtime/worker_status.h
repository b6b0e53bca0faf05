// WorkerStatus: one consistent-enough snapshot of a worker for /status, /readyz and
// /metrics: coordination, every runner, the persistence core and the high-water mark.
// Plain data; copyable.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/coordination/coordinator.h"
#include "orchestrator/reading/high_water_mark_follower.h"
#include "orchestrator/common/latency_histogram.h"
#include "orchestrator/runtime/listen_monitor.h"
#include "orchestrator/persistence/persistence_stats.h"
#include "orchestrator/runtime/operator_control.h"
#include "orchestrator/runtime/projection_runner.h"
#include "orchestrator/reading/standby_board.h"
#include "orchestrator/versions/version_steward.h"

namespace projd {

struct WorkerStatus {
  std::string worker_id;
  std::string worker_name;
  std::string replica_set;
  CoordinatorStatus coordination;
  std::vector<RunnerStatus> runners;
  PersistenceStats persistence;
  // Persistence transaction durations by trigger, and "unit" (PersistenceDurations).
  std::map<std::string, HistogramSnapshot> persistence_durations;
  // False until the worker's follower completed its first observation of the stream: the
  // mark (0) and every lag are unknown then, never "caught up".
  bool high_water_mark_known = false;
  std::int64_t high_water_mark = 0;
  HighWaterMarkStatus mark;  // as of the follower's last round (gaps, held by whom, errors)
  std::vector<ListenStatus> listeners;  // the LISTEN connections ("events", "generations")
  bool stopping = false;     // SIGTERM received: draining
  VersionsStatus versions;   // the replica set's projection versions (known = false without)
  // The standbys of EVENTS_READ_URL and the batches read from each (nullopt without).
  std::optional<StandbyReadFigures> standby_reads;
  // Operator control: the pauses as last read (nullopt without).
  std::optional<OperatorControlStatus> control;
};

// `s` with every error text masked (MaskSecrets with the password of `database_url`): texts
// that come from projections or libpq may carry the password in any form, and /status and
// /readyz are served without authentication. The passwords of `read_urls` (EVENTS_READ_URL)
// are masked the same way.
WorkerStatus MaskSecretsIn(WorkerStatus s, std::string_view database_url, const std::vector<std::string>& read_urls = {});

// A projection's lag in positions: the mark minus its lowest owned checkpoint (0 when it
// owns nothing); nullopt while the mark is unknown.
inline std::optional<std::int64_t> LagEvents(const WorkerStatus& s, const RunnerStatus& r) {
  if (!s.high_water_mark_known) return std::nullopt;
  return r.partitions == 0 ? 0 : std::max<std::int64_t>(0, s.high_water_mark - r.min_position);
}

// How long a projection has not been at the mark; nullopt while the mark is unknown.
inline std::optional<double> LagSeconds(const WorkerStatus& s, const RunnerStatus& r) {
  if (!s.high_water_mark_known) return std::nullopt;
  return std::chrono::duration<double>(r.lag_time).count();
}

}  // namespace projd
