// Metrics exporter: turns a WorkerStatus snapshot into Prometheus text (prefix `projd_`).
// The orchestrator counts (status structs, LatencyHistogram); this file only exports, at
// scrape time. Labels stay low-cardinality: projection, state, trigger, outcome — never a
// worker id or error text. docs/metrics.md lists every family.
#pragma once

#include <string>

#include "orchestrator/worker_status.h"

namespace projd::http {

std::string RenderMetrics(const WorkerStatus& status);

}  // namespace projd::http
