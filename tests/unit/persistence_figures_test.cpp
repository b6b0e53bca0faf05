// The persistence core's figures (orchestrator/persistence/persistence_figures.h) and how
// /metrics and /status show the flush counts: typed in the core, the same names, labels and
// keys as ever outside.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "orchestrator/http/metrics_exporter.h"
#include "orchestrator/http/status_json.h"
#include "orchestrator/persistence/persistence_durations.h"
#include "orchestrator/persistence/persistence_figures.h"
#include "tests/support/fake_clock.h"

using namespace std::chrono_literals;
using projd::AttemptResult;
using projd::BreakerState;
using projd::CircuitBreaker;
using projd::FlushCounts;
using projd::FlushOutcome;
using projd::PersistenceFigures;
using projd::SubmitCode;
using projd::Trigger;

TEST_CASE("figures: response times and the times of the last success and failure", "[persistence][stats]") {
  PersistenceFigures f;
  CHECK(f.Snapshot().min_response_time == 0);  // before the first attempt
  f.RecordAttempt(true, 4000us, 100);
  f.RecordAttempt(false, 2000us, 200);
  f.RecordAttempt(true, 6000us, 300);
  const auto s = f.Snapshot();
  CHECK(s.total_requests == 3);
  CHECK(s.successful_requests == 2);
  CHECK(s.failed_requests == 1);
  CHECK(s.average_response_time == Approx(4.0));
  CHECK(s.min_response_time == Approx(2.0));
  CHECK(s.max_response_time == Approx(6.0));
  CHECK(s.last_success_time == 300);
  CHECK(s.last_persistence_time == 300);
  CHECK(s.last_failure_time == 200);
}

TEST_CASE("figures: submits, refusals and the capacity warning at 80 % of MAX_PENDING", "[persistence][stats]") {
  PersistenceFigures f;
  for (const auto c : {SubmitCode::kAccepted, SubmitCode::kCoalesced, SubmitCode::kCoalesced, SubmitCode::kUnchanged,
                       SubmitCode::kRejectedFull, SubmitCode::kRejectedStale}) {
    f.CountSubmit(c);
  }
  f.CountRejectedFull();
  f.CountRejectedCircuitOpen();
  f.NoteCapacity(79, 100);
  f.NoteCapacity(80, 100);
  f.NoteCapacity(100, 100);
  f.CountUnitCommitted();
  f.CountUnitFenced();
  f.CountFenced(2);
  const auto s = f.Snapshot();
  CHECK(s.coalesced == 2);
  CHECK(s.unchanged == 1);
  CHECK(s.rejected_full == 2);
  CHECK(s.rejected_stale == 1);
  CHECK(s.rejected_circuit_open == 1);
  CHECK(s.capacity_warnings == 2);
  CHECK(s.units_committed == 1);
  CHECK(s.units_fenced == 1);
  CHECK(s.fenced == 3);  // a fenced unit is a fenced write too
}

TEST_CASE("an attempt's end: the breaker and the last error follow the database, the counts every attempt",
          "[persistence][stats][breaker]") {
  projd::testing::FakeClock clock;
  CircuitBreaker breaker(clock, 2, 5s);
  PersistenceFigures f;
  RecordAttempt(AttemptResult{false, false, "connection refused", 1ms}, 10, breaker, f);
  CHECK(breaker.consecutive_failures() == 1);
  CHECK(f.last_error() == "connection refused");
  // A unit whose projection code failed: a failed request, but the database answered.
  RecordAttempt(AttemptResult{true, false, "", 1ms}, 20, breaker, f);
  CHECK(breaker.consecutive_failures() == 0);
  CHECK(f.last_error().empty());
  RecordAttempt(AttemptResult{false, false, "password=hunter2 refused", 1ms}, 30, breaker, f);
  RecordAttempt(AttemptResult{false, false, "password=hunter2 refused", 1ms}, 40, breaker, f);
  CHECK(breaker.state() == BreakerState::kOpen);
  const auto s = f.Snapshot();
  CHECK(s.failed_requests == 4);
  CHECK(s.successful_requests == 0);
  CHECK(s.last_error.find("hunter2") == std::string::npos);  // masked in the snapshot
  CHECK(f.last_error() == "password=hunter2 refused");       // kept whole for the core's LastError()
}

TEST_CASE("flush counts are typed by trigger and outcome, and a flush with nothing to write is none",
          "[persistence][stats][flush]") {
  FlushCounts c;
  CHECK(c.Entries().empty());
  c.Add(Trigger::kSize, FlushOutcome::kSkippedOpen);
  c.Add(Trigger::kInterval, FlushOutcome::kSuccess, 2);
  c.Add(Trigger::kInterval, FlushOutcome::kNothing);
  CHECK(c.Count(Trigger::kInterval, FlushOutcome::kSuccess) == 2);
  CHECK(c.Count(Trigger::kInterval, FlushOutcome::kNothing) == 0);
  const auto entries = c.Entries();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].trigger == Trigger::kInterval);
  CHECK(entries[0].count == 2);
  CHECK(entries[1].trigger == Trigger::kSize);
  CHECK(entries[1].outcome == FlushOutcome::kSkippedOpen);
}

namespace {
projd::WorkerStatus WithFlushes() {
  projd::WorkerStatus s;
  auto& f = s.persistence.flushes;
  f.Add(Trigger::kSize, FlushOutcome::kSuccess, 4);
  f.Add(Trigger::kInterval, FlushOutcome::kSuccess, 5);
  f.Add(Trigger::kShutdown, FlushOutcome::kSuccess);
  f.Add(Trigger::kSize, FlushOutcome::kSkippedOpen);
  f.Add(Trigger::kInterval, FlushOutcome::kFailure, 2);
  f.Add(Trigger::kCaughtUp, FlushOutcome::kSuccess, 3);
  return s;
}
// The lines of one metric family's samples.
std::string Samples(const std::string& text, const std::string& family) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) == 0 || line.rfind(family + " ", 0) == 0) out += line + "\n";
  }
  return out;
}
}  // namespace

TEST_CASE("/metrics shows the typed flush counts with the trigger and outcome labels, in label order",
          "[persistence][metrics]") {
  const auto text = projd::http::RenderMetrics(WithFlushes());
  CHECK_THAT(text, Catch::Contains("# HELP projd_persistence_flushes_total Checkpoint flushes by trigger and outcome.\n"
                                   "# TYPE projd_persistence_flushes_total counter\n"));
  CHECK(Samples(text, "projd_persistence_flushes_total") ==
        "projd_persistence_flushes_total{trigger=\"caught_up\",outcome=\"success\"} 3\n"
        "projd_persistence_flushes_total{trigger=\"interval\",outcome=\"failure\"} 2\n"
        "projd_persistence_flushes_total{trigger=\"interval\",outcome=\"success\"} 5\n"
        "projd_persistence_flushes_total{trigger=\"shutdown\",outcome=\"success\"} 1\n"
        "projd_persistence_flushes_total{trigger=\"size\",outcome=\"skipped\"} 1\n"
        "projd_persistence_flushes_total{trigger=\"size\",outcome=\"success\"} 4\n");
  // Nothing counted yet: the family is declared, with no sample.
  const auto empty = projd::http::RenderMetrics(projd::WorkerStatus{});
  CHECK_THAT(empty, Catch::Contains("# TYPE projd_persistence_flushes_total counter\n"));
  CHECK(Samples(empty, "projd_persistence_flushes_total").empty());
}

TEST_CASE("/status shows the flush counts as \"trigger/outcome\" keys", "[persistence][status]") {
  const auto j = projd::http::PersistenceStatsJson(WithFlushes().persistence);
  CHECK(j["flushes"] == nlohmann::json{{"caught_up/success", 3}, {"interval/failure", 2}, {"interval/success", 5},
                                       {"shutdown/success", 1},  {"size/skipped", 1},      {"size/success", 4}});
  const auto none = projd::http::PersistenceStatsJson(projd::PersistenceStats{});
  CHECK(none["flushes"].is_object());
  CHECK(none["flushes"].empty());
  CHECK(none.dump().find("\"flushes\":{}") != std::string::npos);
}

TEST_CASE("flush durations are kept by trigger and for units, every trigger named from the start",
          "[persistence][metrics]") {
  projd::PersistenceDurations d;
  d.OnFlush(Trigger::kCaughtUp, FlushOutcome::kSuccess, 3ms, 1);
  d.OnUnit(projd::UnitResult::kCommitted, 1ms);
  d.OnUnit(projd::UnitResult::kFailed, 1ms);
  const auto s = d.Snapshot();
  std::vector<std::string> names;
  for (const auto& [name, h] : s) names.push_back(name);
  CHECK(names == std::vector<std::string>{"caught_up", "force", "interval", "lag", "revoke", "shutdown", "size", "unit"});
  CHECK(s.at("caught_up").count == 1);
  CHECK(s.at("interval").count == 0);
  CHECK(s.at("unit").count == 2);
}
