// JSON documents of the HTTP API: GET /status (the worker, its generation and partitions,
// per-projection positions, lag and state, the high-water mark, persistence stats) and
// GET /persistence/stats (the PersistenceWorker stats fields).
#pragma once

#include <nlohmann/json.hpp>

#include "orchestrator/runtime/readiness.h"
#include "orchestrator/runtime/worker_status.h"

namespace projd::http {

nlohmann::json PersistenceStatsJson(const PersistenceStats& stats);
nlohmann::json StatusJson(const WorkerStatus& status);
nlohmann::json ReadinessJson(const Readiness& readiness);

}  // namespace projd::http
