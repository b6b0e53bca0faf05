#include "orchestrator/http/worker_endpoints.h"

#include <map>

#include "orchestrator/http/metrics_exporter.h"
#include "orchestrator/http/status_json.h"
#include "orchestrator/readiness.h"

namespace projd::http {
namespace {

constexpr const char* kJson = "application/json";

HttpResponse Json(int status, const nlohmann::json& body) { return {status, kJson, body.dump(2) + "\n"}; }

}  // namespace

HttpHandler MakeWorkerHandler(WorkerEndpoints e) {
  return [e = std::move(e)](const HttpRequest& req) -> HttpResponse {
    const auto path = req.target.substr(0, req.target.find('?'));
    static const std::map<std::string, std::string> kMethods{
        {"/metrics", "GET"},           {"/healthz", "GET"},
        {"/readyz", "GET"},            {"/status", "GET"},
        {"/persistence/stats", "GET"}, {"/persistence/circuit-breaker/reset", "POST"}};
    const auto known = kMethods.find(path);
    if (known == kMethods.end()) return {404, "text/plain; charset=utf-8", "not found: " + path + "\n"};
    if (req.method != known->second) {
      return {405, "text/plain; charset=utf-8", "method not allowed: use " + known->second + "\n"};
    }
    if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(e.status())};
    if (path == "/readyz") {
      const auto r = CheckReadiness(e.status());
      return Json(r.ready ? 200 : 503, ReadinessJson(r));
    }
    if (path == "/status") return Json(200, StatusJson(e.status()));
    if (path == "/persistence/stats") return Json(200, PersistenceStatsJson(e.status().persistence));
    e.reset_circuit_breaker();
    return Json(200, {{"reset", true}, {"stats", PersistenceStatsJson(e.status().persistence)}});
  };
}

}  // namespace projd::http
