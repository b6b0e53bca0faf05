// Metrics exporter: turns a WorkerStatus snapshot into Prometheus text (prefix `projd_`).
// The orchestrator counts (status structs, LatencyHistogram); this file only exports, at
// scrape time. Labels stay low-cardinality: projection, state, trigger, outcome — never a
// worker id or error text. docs/metrics.md lists every family.
#pragma once

#include <cstdint>
#include <string>

#include "orchestrator/runtime/worker_status.h"

namespace projd::http {

// The operator HTTP server's own figures (HttpServer::open_connections and evicted).
struct HttpFigures {
  std::uint64_t open_connections = 0;
  std::uint64_t evicted = 0;  // closed to make room for a newcomer at the connection cap
};

std::string RenderMetrics(const WorkerStatus& status, const HttpFigures& http = {});

}  // namespace projd::http
