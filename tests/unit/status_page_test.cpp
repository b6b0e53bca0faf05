// The status page at GET /, rendered from a hand-made WorkerStatus: the facts in the first
// response, escaping of every string from the status, the response's security headers, and
// the sentences the page's script must repeat.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/http/status_json.h"
#include "orchestrator/http/status_page.h"
#include "orchestrator/http/worker_endpoints.h"

using projd::RunnerState;
using projd::RunnerStatus;
using projd::WorkerStatus;
using projd::http::HttpRequest;

namespace {

const std::string kEvil = "<script>alert(\"x\")</script>&'";
const std::string kEvilEscaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;";

WorkerStatus Sample() {
  WorkerStatus s;
  s.worker_id = "id-w1";
  s.worker_name = "w1";
  s.replica_set = "orders";
  s.coordination.registered = true;
  s.coordination.healthy = true;
  s.coordination.generation = 7;
  s.coordination.acked_generation = 7;
  s.coordination.partition_count = 8;
  s.coordination.owned = {0, 1, 2, 5};
  s.coordination.live_members = 2;
  s.coordination.assignment = {{"id-w1", "w1", {0, 1, 2, 5}}, {"id-w2", "w2", {3, 4, 6, 7}}};
  s.high_water_mark_known = true;
  s.high_water_mark = 1000;
  RunnerStatus a;
  a.projection = "stream_stats";
  a.state = RunnerState::kCaughtUp;
  a.partitions = 4;
  a.min_position = 1000;
  a.events_processed = 1000;
  RunnerStatus b;
  b.projection = "poison_stop";
  b.state = RunnerState::kStopped;
  b.partitions = 4;
  b.min_position = 750;
  b.dead_letters = 3;
  b.parked_aggregates = 1;
  b.stopped = {{2, 751, "cannot handle poison"}};
  s.runners = {a, b};
  s.persistence.circuit_breaker_state = "closed";
  return s;
}

bool Contains(const std::string& page, const std::string& text) { return page.find(text) != std::string::npos; }

}  // namespace

TEST_CASE("the status page carries every fact in the first response, without script", "[http][status_page]") {
  const auto page = projd::http::RenderStatusPage(Sample(), "n0nce");
  CHECK(Contains(page, "<!DOCTYPE html>"));
  CHECK(Contains(page, "projd worker w1"));
  CHECK(Contains(page, "replica set <b>orders</b>"));
  CHECK(Contains(page, "<b data-f=\"generation\">7</b>"));
  CHECK(Contains(page, "<b data-f=\"mark\">1000</b>"));
  // Members with their partitions as ranges; this worker marked.
  CHECK(Contains(page, "<td>w1 (this worker)</td><td>0-2, 5</td><td>4</td>"));
  CHECK(Contains(page, "<td>w2</td><td>3-4, 6-7</td><td>4</td>"));
  // Lag in figures and as bars scaled to the largest lag.
  CHECK(Contains(page, "<td data-f=\"lag_events\">250</td>"));
  CHECK(Contains(page, "<meter data-f=\"lag_bar\" min=\"0\" max=\"250\" value=\"250\">250</meter>"));
  CHECK(Contains(page, "<meter data-f=\"lag_bar\" min=\"0\" max=\"250\" value=\"0\">0</meter>"));
  CHECK(Contains(page, "<svg id=\"lag-chart\""));
  // Runner states with their reasons; dead letters by projection; breaker; readiness.
  CHECK(Contains(page, "data-state=\"stopped\">stopped</td>"));
  CHECK(Contains(page, "<li>partition 2 stopped at position 751: cannot handle poison</li>"));
  CHECK(Contains(page, "<td data-f=\"dead_letters\">3</td><td data-f=\"parked_aggregates\">1</td>"));
  CHECK(Contains(page, "data-f=\"breaker\" data-state=\"closed\">closed</b>"));
  CHECK(Contains(page, "<li>projection poison_stop stopped on partition 2 at position 751 by its error policy</li>"));
  CHECK(Contains(page, "data-ready=\"false\">not ready</b>"));
  // The only script is the nonce'd inline one; nothing is loaded from elsewhere.
  CHECK(Contains(page, "<script nonce=\"n0nce\">"));
  CHECK(Contains(page, "<style nonce=\"n0nce\">"));
  CHECK_FALSE(Contains(page, "src="));
  CHECK_FALSE(Contains(page, "href="));
  CHECK_FALSE(Contains(page, "http://"));
  CHECK_FALSE(Contains(page, "https://"));
}

TEST_CASE("the status page escapes every string it takes from the status", "[http][status_page]") {
  auto s = Sample();
  s.worker_name = kEvil;
  s.replica_set = kEvil;
  s.coordination.assignment[1].worker_name = kEvil;
  s.runners[1].projection = kEvil;
  s.runners[1].stopped[0].error = kEvil;
  s.runners[0].state = RunnerState::kFailing;
  s.runners[0].last_error = kEvil;
  s.persistence.last_error = kEvil;
  s.persistence.circuit_breaker_state = kEvil;
  const auto page = projd::http::RenderStatusPage(s, "n0nce");
  CHECK_FALSE(Contains(page, "<script>"));
  CHECK_FALSE(Contains(page, "alert(\"x\")"));
  CHECK(Contains(page, "<title>projd " + kEvilEscaped + " (" + kEvilEscaped + ")</title>"));
  CHECK(Contains(page, "<tr data-projection=\"" + kEvilEscaped + "\"><td>" + kEvilEscaped + "</td>"));
  CHECK(Contains(page, "<li>partition 2 stopped at position 751: " + kEvilEscaped + "</li>"));
  CHECK(Contains(page, "<li>last error: " + kEvilEscaped + "</li>"));
  CHECK(Contains(page, "data-state=\"" + kEvilEscaped + "\">" + kEvilEscaped + "</b>"));
  CHECK(Contains(page, "<td>" + kEvilEscaped + "</td><td>3-4, 6-7</td>"));
}

TEST_CASE("runner reasons name stopped partitions, the transaction holding the mark and the last error",
          "[http][status_page]") {
  auto s = Sample();
  auto r = s.runners[1];
  CHECK(projd::http::RunnerReasons(s, s.runners[0]).empty());
  CHECK(projd::http::RunnerReasons(s, r) ==
        std::vector<std::string>{"partition 2 stopped at position 751: cannot handle poison"});
  SECTION("held, by a named transaction") {
    r = {};
    r.state = RunnerState::kHeld;
    CHECK(projd::http::RunnerReasons(s, r) ==
          std::vector<std::string>{"the high-water mark waits on a live transaction"});
    s.mark.held_by = projd::HoldingTransaction{42, "901", "2026-01-01 10:00:00+00", "db", "idle in transaction", "psql",
                                               ""};
    CHECK(projd::http::RunnerReasons(s, r) ==
          std::vector<std::string>{"the high-water mark waits on a live transaction: pid 42, xid 901, application "
                                   "psql, idle in transaction, since 2026-01-01 10:00:00+00"});
  }
  SECTION("failing on the database, and stalled") {
    r = {};
    r.state = RunnerState::kFailing;
    r.last_error = "connection lost";
    r.database_error = true;
    CHECK(projd::http::RunnerReasons(s, r) == std::vector<std::string>{"database error, retried: connection lost"});
    r.state = RunnerState::kStalled;
    r.database_error = false;
    CHECK(projd::http::RunnerReasons(s, r) ==
          std::vector<std::string>{"events wait but nothing committed lately", "last error: connection lost"});
  }
  SECTION("paused by an operator, on every partition or on some") {
    r = {};
    r.state = RunnerState::kPaused;
    r.paused = {true, {}};
    CHECK(projd::http::RunnerReasons(s, r) == std::vector<std::string>{"paused by an operator on every partition"});
    r.paused = {false, {3, 7}};
    CHECK(projd::http::RunnerReasons(s, r) == std::vector<std::string>{"paused by an operator on partitions 3, 7"});
  }
}

TEST_CASE("partitions read as ranges", "[http][status_page]") {
  using projd::http::PartitionRanges;
  CHECK(PartitionRanges({}).empty());
  CHECK(PartitionRanges({4}) == "4");
  CHECK(PartitionRanges({0, 1, 2, 5, 7, 8}) == "0-2, 5, 7-8");
}

TEST_CASE("GET / answers the page with a CSP nonce and nosniff and no-store headers and other methods get 405",
          "[http][status_page][endpoints]") {
  const auto status = Sample();
  const auto handle = projd::http::MakeWorkerHandler({[&] { return status; }, [] {}});
  const auto page = handle({"GET", "/", ""});
  REQUIRE(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  std::map<std::string, std::string> headers(page.headers.begin(), page.headers.end());
  CHECK(headers["X-Content-Type-Options"] == "nosniff");
  CHECK(headers["Cache-Control"] == "no-store");
  const auto& csp = headers["Content-Security-Policy"];
  CHECK_THAT(csp, Catch::StartsWith("default-src 'none'; script-src 'nonce-"));
  CHECK_THAT(csp, Catch::Contains("connect-src 'self'"));
  CHECK_THAT(csp, !Catch::Contains("unsafe"));
  // The nonce in the policy is the one on the page's script, and a new one each time.
  const auto begin = csp.find("'nonce-") + 7;
  const auto nonce = csp.substr(begin, csp.find('\'', begin) - begin);
  CHECK(nonce.size() == 32);
  CHECK(Contains(page.body, "<script nonce=\"" + nonce + "\">"));
  const auto second = handle({"GET", "/", ""});
  std::map<std::string, std::string> again(second.headers.begin(), second.headers.end());
  CHECK(again["Content-Security-Policy"] != csp);
  CHECK(handle({"GET", "/?refresh=1", ""}).status == 200);
  const auto post = handle({"POST", "/", ""});
  CHECK(post.status == 405);
  CHECK(post.headers == decltype(post.headers){{"Allow", "GET"}});
}

TEST_CASE("/status carries every field the page's script reads", "[http][status_page]") {
  auto s = Sample();
  s.mark.held_by = projd::HoldingTransaction{42, "901", "", "db", "active", "psql", ""};
  const auto j = projd::http::StatusJson(s);
  CHECK(j["worker"]["id"] == "id-w1");
  const auto& c = j["coordination"];
  for (const auto* f : {"generation", "acked_generation", "live_members", "partition_count", "owned_partitions",
                        "waiting_partitions", "releasing_partitions", "members"}) {
    CHECK(c.contains(f));
  }
  REQUIRE(c["members"].size() == 2);
  CHECK(c["members"][1] == nlohmann::json{{"id", "id-w2"}, {"name", "w2"}, {"partitions", {3, 4, 6, 7}}});
  for (const auto* f : {"pid", "xid", "application_name", "state", "xact_start"}) {
    CHECK(j["high_water_mark"]["held_by"].contains(f));
  }
  CHECK(j["high_water_mark"].contains("position"));
  for (const auto& p : j["projections"]) {
    for (const auto* f : {"name", "state", "partitions", "position", "lag_events", "lag_seconds", "events_processed",
                          "dead_letters", "parked_aggregates", "stopped_partitions", "last_error",
                          "last_error_database", "paused"}) {
      CHECK(p.contains(f));
    }
  }
  CHECK(j["projections"][1]["stopped_partitions"][0] ==
        nlohmann::json{{"partition", 2}, {"position", 751}, {"error", "cannot handle poison"}});
  for (const auto* f : {"circuit_breaker_state", "circuit_breaker_failure_count", "circuit_breaker_trips",
                        "pending_count", "last_error"}) {
    CHECK(j["persistence"].contains(f));
  }
  for (const auto* f : {"ready", "reasons", "degraded", "paused"}) CHECK(j["ready"].contains(f));
}
