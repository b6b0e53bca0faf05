// The worker's HTTP endpoints as a handler over a hand-made WorkerStatus: routing, readiness
// answers, JSON documents, and Prometheus text that `promtool check metrics` accepts.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "orchestrator/http/metrics_exporter.h"
#include "orchestrator/http/worker_endpoints.h"
#include "tests/support/process.h"

using projd::http::HttpRequest;
using projd::WorkerStatus;

namespace {

WorkerStatus Sample() {
  WorkerStatus s;
  s.worker_id = "3f0c6a9e-0000-4000-8000-000000000001";
  s.worker_name = "w1";
  s.replica_set = "rs";
  s.coordination.registered = true;
  s.coordination.healthy = true;
  s.coordination.generation = 4;
  s.coordination.owned = {0, 1, 2};
  s.coordination.live_members = 3;
  s.coordination.counters.generations_formed = 2;
  s.coordination.counters.partitions_taken = 3;
  s.high_water_mark_known = true;
  s.high_water_mark = 1000;
  projd::RunnerStatus r;
  r.projection = "stream_stats";
  r.state = projd::RunnerState::kRunning;
  r.partitions = 3;
  r.min_position = 900;
  r.events_processed = 900;
  s.runners.push_back(r);
  s.persistence.flushes.Add(projd::Trigger::kInterval, projd::FlushOutcome::kSuccess, 5);
  s.persistence_durations["interval"] = {};
  s.listeners = {{"events", true, 0, ""}, {"generations", false, 2, "connection refused"}};
  return s;
}

std::string FindOnPath(const std::string& name) {
  std::stringstream path(std::getenv("PATH") ? std::getenv("PATH") : "");
  for (std::string dir; std::getline(path, dir, ':');) {
    const auto candidate = std::filesystem::path(dir) / name;
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  return "";
}

}  // namespace

TEST_CASE("routes: 404 for unknown paths, 405 for a wrong method", "[http][endpoints]") {
  auto status = Sample();
  bool reset = false;
  const auto handle = projd::http::MakeWorkerHandler({[&] { return status; }, [&] { reset = true; }});
  CHECK(handle({"GET", "/nope", ""}).status == 404);
  CHECK(handle({"POST", "/metrics", ""}).status == 405);
  const auto wrong = handle({"GET", "/persistence/circuit-breaker/reset", ""});
  CHECK(wrong.status == 405);
  CHECK(wrong.headers == decltype(wrong.headers){{"Allow", "POST"}});
  CHECK_FALSE(reset);
  CHECK(handle({"POST", "/persistence/circuit-breaker/reset", "", {{"x-projd-action", "reset"}}}).status == 200);
  CHECK(reset);
  CHECK(handle({"GET", "/healthz", ""}).status == 200);
  CHECK(handle({"GET", "/status?pretty", ""}).status == 200);
}

TEST_CASE("the circuit-breaker reset refuses requests a browser could send cross-site", "[http][endpoints]") {
  auto status = Sample();
  int resets = 0;
  const auto handle = projd::http::MakeWorkerHandler({[&] { return status; }, [&] { ++resets; }});
  const std::string path = "/persistence/circuit-breaker/reset";
  using Headers = std::map<std::string, std::string>;

  SECTION("the operator's request: POST with X-Projd-Action: reset and no browser headers") {
    const auto r = handle({"POST", path, "", Headers{{"x-projd-action", "reset"}, {"user-agent", "curl/7.88.1"}}});
    CHECK(r.status == 200);
    CHECK(nlohmann::json::parse(r.body)["reset"] == true);
    CHECK(resets == 1);
  }
  SECTION("a browser's own navigation or same-origin fetch may pass Sec-Fetch-Site none or same-origin") {
    CHECK(handle({"POST", path, "", Headers{{"x-projd-action", "reset"}, {"sec-fetch-site", "none"}}}).status == 200);
    CHECK(handle({"POST", path, "", Headers{{"x-projd-action", "reset"}, {"sec-fetch-site", "same-origin"}}}).status ==
          200);
    CHECK(resets == 2);
  }
  SECTION("a simple request (a cross-site form or no-cors fetch) lacks the action header") {
    for (const auto& headers : {Headers{}, Headers{{"content-type", "application/x-www-form-urlencoded"}},
                                Headers{{"content-type", "text/plain"}}, Headers{{"x-projd-action", "resetx"}},
                                Headers{{"x-projd-action", "reset, reset"}}}) {
      const auto r = handle({"POST", path, "action=reset", headers});
      CHECK(r.status == 403);
      CHECK_THAT(r.body, Catch::Contains("X-Projd-Action: reset"));
    }
    CHECK(resets == 0);
  }
  SECTION("any Origin, even with the action header (a preflighted fetch, DNS rebinding)") {
    for (const auto* origin : {"https://evil.example", "null", "http://127.0.0.1:9090"}) {
      const auto r = handle({"POST", path, "", Headers{{"x-projd-action", "reset"}, {"origin", origin}}});
      CHECK(r.status == 403);
      CHECK_THAT(r.body, Catch::Contains("Origin"));
    }
    CHECK(resets == 0);
  }
  SECTION("Sec-Fetch-Site cross-site or same-site") {
    for (const auto* site : {"cross-site", "same-site"}) {
      const auto r = handle({"POST", path, "", Headers{{"x-projd-action", "reset"}, {"sec-fetch-site", site}}});
      CHECK(r.status == 403);
      CHECK_THAT(r.body, Catch::Contains(site));
    }
    CHECK(resets == 0);
  }
  SECTION("a CORS preflight is never approved") {
    const auto r = handle({"OPTIONS", path, "",
                           Headers{{"origin", "https://evil.example"}, {"access-control-request-method", "POST"},
                                   {"access-control-request-headers", "x-projd-action"}}});
    CHECK(r.status == 405);
    for (const auto& [name, value] : r.headers) CHECK_THAT(name, !Catch::StartsWith("Access-Control"));
    CHECK(resets == 0);
  }
}

TEST_CASE("/readyz is 200 when ready and 503 with the reasons when not", "[http][endpoints]") {
  auto status = Sample();
  const auto handle = projd::http::MakeWorkerHandler({[&] { return status; }, [] {}});
  CHECK(handle({"GET", "/readyz", ""}).status == 200);
  status.runners[0].stopped.push_back({2, 950, "poison"});
  const auto r = handle({"GET", "/readyz", ""});
  CHECK(r.status == 503);
  const auto body = nlohmann::json::parse(r.body);
  CHECK(body["ready"] == false);
  CHECK(body["reasons"][0] == "projection stream_stats stopped on partition 2 at position 950 by its error policy");
}

TEST_CASE("/status carries the worker, partitions, per-projection lag and persistence stats", "[http][endpoints]") {
  const auto status = Sample();
  const auto handle = projd::http::MakeWorkerHandler({[&] { return status; }, [] {}});
  const auto j = nlohmann::json::parse(handle({"GET", "/status", ""}).body);
  CHECK(j["worker"]["name"] == "w1");
  CHECK(j["coordination"]["owned_partitions"].size() == 3);
  CHECK(j["projections"][0]["lag_events"] == 100);
  CHECK(j["projections"][0]["state"] == "running");
  CHECK(j["persistence"]["circuit_breaker_state"] == "closed");
  const auto stats = nlohmann::json::parse(handle({"GET", "/persistence/stats", ""}).body);
  for (const auto* field : {"total_requests", "successful_requests", "failed_requests", "circuit_breaker_trips",
                            "circuit_breaker_state", "pending_count", "average_response_time",
                            "last_success_time", "uptime"}) {
    CHECK(stats.contains(field));
  }
}

TEST_CASE("before the worker has observed the mark, lag is unknown: null in /status, no sample in /metrics",
          "[http][endpoints][metrics]") {
  auto status = Sample();
  status.high_water_mark_known = false;
  status.high_water_mark = 0;
  status.runners[0].min_position = 0;  // a scrape during start-up: nothing read, nothing known
  const auto handle = projd::http::MakeWorkerHandler({[&] { return status; }, [] {}});
  const auto j = nlohmann::json::parse(handle({"GET", "/status", ""}).body);
  CHECK(j["projections"][0]["lag_events"].is_null());
  CHECK(j["projections"][0]["lag_seconds"].is_null());
  CHECK(j["high_water_mark"]["position"].is_null());
  const auto text = projd::http::RenderMetrics(status);
  CHECK_THAT(text, Catch::Contains("# TYPE projd_projection_lag_events gauge"));
  CHECK_THAT(text, !Catch::Contains("projd_projection_lag_events{"));
  CHECK_THAT(text, !Catch::Contains("projd_projection_lag_seconds{"));
  CHECK_THAT(text, !Catch::Contains("\nprojd_high_water_mark "));
  status.high_water_mark_known = true;  // observed, and really at 0: then 0 is the truth
  CHECK(nlohmann::json::parse(handle({"GET", "/status", ""}).body)["projections"][0]["lag_events"] == 0);
}

TEST_CASE("/metrics is valid Prometheus text with the promised families", "[http][endpoints][metrics]") {
  const auto text = projd::http::RenderMetrics(Sample());
  for (const auto* family :
       {"projd_generations_total", "projd_workers_registered_total", "projd_partition_assignments_total",
        "projd_reconfiguration_total", "projd_stale_workers_cleaned_total", "projd_events_processed_total",
        "projd_projection_errors_total", "projd_active_workers", "projd_partitions_owned", "projd_worker_state",
        "projd_coordination_duration_seconds", "projd_event_processing_duration_seconds",
        "projd_heartbeat_latency_seconds", "projd_projection_lag_events", "projd_projection_lag_seconds",
        "projd_high_water_mark_lag_seconds", "projd_open_gaps", "projd_fenced_writes_total", "projd_dead_letters_total",
        "projd_persistence_pending", "projd_persistence_oldest_pending_age_seconds",
        "projd_persistence_flush_duration_seconds", "projd_persistence_flushes_total",
        "projd_persistence_circuit_breaker_state", "projd_persistence_circuit_breaker_trips_total", "projd_build_info",
        "projd_http_connections_open", "projd_http_connections_evicted_total", "projd_listen_connection_losses_total",
        "projd_listen_connected"}) {
    INFO(family);
    CHECK_THAT(text, Catch::Contains(std::string("# TYPE ") + family + " "));
  }
  CHECK_THAT(text, Catch::Contains("projd_events_processed_total{projection=\"stream_stats\",version=\"1\"} 900"));
  CHECK_THAT(text, Catch::Contains("projd_worker_state{state=\"active\"} 1"));
  CHECK_THAT(text, Catch::Contains("projd_projection_lag_events{projection=\"stream_stats\",version=\"1\"} 100"));
  // No worker id in any label.
  CHECK_THAT(text, !Catch::Contains("3f0c6a9e"));
  const auto promtool = FindOnPath("promtool");
  REQUIRE_FALSE(promtool.empty());  // Debian package `prometheus` (installed by make test)
  const auto check = projd::testing::RunProcess({promtool, "check", "metrics"}, {}, text);
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
}

namespace {
// Every projd_* series named in a PromQL expression (histogram suffixes folded into the family).
std::vector<std::string> SeriesIn(const std::string& expr, const std::string& metrics_text) {
  std::vector<std::string> names;
  for (std::size_t at = expr.find("projd_"); at != std::string::npos; at = expr.find("projd_", at + 1)) {
    auto end = expr.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", at);
    auto name = expr.substr(at, end == std::string::npos ? std::string::npos : end - at);
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          metrics_text.find("# TYPE " + name.substr(0, name.size() - suffix.size()) + " histogram") !=
              std::string::npos) {
        name.resize(name.size() - suffix.size());
      }
    }
    names.push_back(name);
  }
  return names;
}
}  // namespace

TEST_CASE("the Grafana dashboard queries only series that /metrics emits", "[http][metrics][dashboard]") {
  std::ifstream in(std::string(PROJD_SOURCE_DIR) + "/docs/grafana-dashboard.json");
  REQUIRE(in.good());
  const auto dashboard = nlohmann::json::parse(in);
  auto status = Sample();
  const auto text = projd::http::RenderMetrics(status);
  int queried = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      for (const auto& name : SeriesIn(target["expr"], text)) {
        INFO(name);
        CHECK_THAT(text, Catch::Contains("# TYPE " + name + " "));
        ++queried;
      }
    }
  }
  CHECK(queried > 20);
}

TEST_CASE("the alert rules are valid and use only series that /metrics emits", "[http][metrics][alerts]") {
  const std::string rules = std::string(PROJD_SOURCE_DIR) + "/compose/alerts.yml";
  const auto check = projd::testing::RunProcess({"/usr/bin/promtool", "check", "rules", rules});
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
  std::ifstream in(rules);
  REQUIRE(in.good());
  auto status = Sample();
  const auto text = projd::http::RenderMetrics(status);
  int used = 0;
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("expr:");
    if (at == std::string::npos) continue;
    for (const auto& name : SeriesIn(line.substr(at + 5), text)) {
      INFO(name);
      CHECK_THAT(text, Catch::Contains("# TYPE " + name + " "));
      ++used;
    }
  }
  CHECK(used >= 8);
}
