// The operator endpoints of a worker, as an HttpHandler:
//   GET  /                                    the status page, HTML (status_page)
//   GET  /metrics                             Prometheus text (metrics_exporter)
//   GET  /healthz                             200 while the process and its HTTP loop answer
//   GET  /readyz                              200, or 503 with {"ready":false,"reasons":[...]}
//   GET  /status                              the worker as JSON (status_json)
//   GET  /persistence/stats                   the persistence core's stats as JSON
//   POST /persistence/circuit-breaker/reset   closes the breaker; returns the stats
//   GET  /wait?projection=&position=&timeout= read-your-writes (wait_endpoint.h), answered later
// A known path with another method gets 405 (with Allow), anything else 404.
//
// A mutating endpoint must not be reachable from a web page an operator happens to open (a
// cross-site form or fetch, or DNS rebinding to the pod address): it answers 403 unless the
// request carries `X-Projd-Action: <action>` (a custom header makes a browser send a CORS
// preflight, which this server never approves: OPTIONS gets 405 and no Access-Control-*), and
// it refuses any request with an `Origin` header (browsers send one with every POST) or a
// `Sec-Fetch-Site` other than `same-origin` or `none`.
#pragma once

#include <functional>

#include "orchestrator/http/http_server.h"
#include "orchestrator/http/metrics_exporter.h"
#include "orchestrator/runtime/worker_status.h"
#include "orchestrator/waits/wait_service.h"

namespace projd::http {

struct WorkerEndpoints {
  std::function<WorkerStatus()> status;
  std::function<void()> reset_circuit_breaker;
  std::function<HttpFigures()> http_figures = {};  // optional: the serving HttpServer's figures
  // GET /wait runs its waits here, for `replica_set`; none: /wait answers 503.
  WaitService* waits = nullptr;
  std::string replica_set = {};
};

HttpHandler MakeWorkerHandler(WorkerEndpoints endpoints);

}  // namespace projd::http
