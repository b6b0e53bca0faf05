#include "orchestrator/http/worker_endpoints.h"

#include <map>
#include <optional>
#include <string>

#include "orchestrator/http/metrics_exporter.h"
#include "orchestrator/http/status_json.h"
#include "orchestrator/http/status_page.h"
#include "orchestrator/http/wait_endpoint.h"
#include "orchestrator/runtime/readiness.h"

namespace projd::http {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kActionHeader = "x-projd-action";

HttpResponse Json(int status, const nlohmann::json& body) { return {status, kJson, body.dump(2) + "\n"}; }

// Why a mutating request is refused as one a browser could have sent cross-site, or nullopt
// when it may run. `action` is the value X-Projd-Action must carry.
std::optional<std::string> CrossSiteRefusal(const HttpRequest& req, const std::string& action) {
  if (req.Header("origin")) return "requests with an Origin header (sent by browsers) are refused";
  if (const auto* site = req.Header("sec-fetch-site"); site && *site != "same-origin" && *site != "none") {
    return "requests with Sec-Fetch-Site: " + *site + " (sent by browsers) are refused";
  }
  const auto* sent = req.Header(kActionHeader);
  if (!sent || *sent != action) return "send the header X-Projd-Action: " + action;
  return std::nullopt;
}

}  // namespace

HttpHandler MakeWorkerHandler(WorkerEndpoints e) {
  return [e = std::move(e)](const HttpRequest& req) -> HttpResponse {
    const auto path = req.target.substr(0, req.target.find('?'));
    static const std::map<std::string, std::string> kMethods{
        {"/metrics", "GET"},           {"/healthz", "GET"},
        {"/readyz", "GET"},            {"/status", "GET"},
        {"/persistence/stats", "GET"}, {"/persistence/circuit-breaker/reset", "POST"},
        {"/", "GET"},
        {"/wait", "GET"}};
    const auto known = kMethods.find(path);
    if (known == kMethods.end()) return {404, kText, "not found: " + path + "\n"};
    if (req.method != known->second) {
      // Also the answer to a CORS preflight (OPTIONS): no Access-Control-Allow-*, so refused.
      return {405, kText, "method not allowed: use " + known->second + "\n", {{"Allow", known->second}}};
    }
    if (path == "/healthz") return {200, kText, "ok\n"};
    if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(e.status(), e.http_figures ? e.http_figures() : HttpFigures{})};
    if (path == "/readyz") {
      const auto r = CheckReadiness(e.status());
      return Json(r.ready ? 200 : 503, ReadinessJson(r));
    }
    if (path == "/status") return Json(200, StatusJson(e.status()));
    if (path == "/") return StatusPageResponse(e.status());
    if (path == "/persistence/stats") return Json(200, PersistenceStatsJson(e.status().persistence));
    if (path == "/wait") {
      if (!e.waits) return {503, kText, "waits are not available on this worker\n"};
      return HandleWait(req, *e.waits, e.replica_set);
    }
    if (const auto refusal = CrossSiteRefusal(req, "reset")) {
      return {403, kText,
              "forbidden: " + *refusal +
                  "; use curl -X POST -H 'X-Projd-Action: reset' http://HOST:9090/persistence/circuit-breaker/reset\n"};
    }
    e.reset_circuit_breaker();
    return Json(200, {{"reset", true}, {"stats", PersistenceStatsJson(e.status().persistence)}});
  };
}

}  // namespace projd::http
