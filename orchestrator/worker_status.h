// WorkerStatus: one consistent-enough snapshot of a worker for /status, /readyz and
// /metrics: coordination, every runner, the persistence core and the high-water mark.
// Plain data; copyable.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/coordinator.h"
#include "orchestrator/high_water_mark_follower.h"
#include "orchestrator/latency_histogram.h"
#include "orchestrator/listen_monitor.h"
#include "orchestrator/persistence_stats.h"
#include "orchestrator/projection_runner.h"

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
  std::int64_t high_water_mark = 0;
  HighWaterMarkStatus mark;  // as of the follower's last round (gaps, held by whom, errors)
  std::vector<ListenStatus> listeners;  // the LISTEN connections ("events", "generations")
  bool stopping = false;     // SIGTERM received: draining
};

}  // namespace projd
