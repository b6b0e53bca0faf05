#include <catch2/catch.hpp>

#include "orchestrator/runtime/readiness.h"

using projd::CheckReadiness;
using projd::WorkerStatus;

namespace {
WorkerStatus Ready() {
  WorkerStatus s;
  s.replica_set = "rs";
  s.coordination.registered = true;
  s.coordination.healthy = true;
  s.coordination.owned = {0, 1};
  return s;
}
}  // namespace

TEST_CASE("a registered, healthy worker that took its partitions is ready", "[readiness]") {
  const auto r = CheckReadiness(Ready());
  CHECK(r.ready);
  CHECK(r.reasons.empty());
}

TEST_CASE("every reason a worker is not ready is reported at once", "[readiness]") {
  auto s = Ready();
  s.coordination.registered = false;
  s.coordination.healthy = false;
  s.coordination.last_error = "connection refused";
  s.coordination.waiting = {3, 4};
  projd::RunnerStatus runner;
  runner.projection = "orders";
  runner.stopped.push_back({7, 1234, "boom"});
  s.runners.push_back(runner);
  s.stopping = true;
  const auto r = CheckReadiness(s);
  CHECK_FALSE(r.ready);
  REQUIRE(r.reasons.size() == 5);
  CHECK(r.reasons[0] == "shutting down");
  CHECK(r.reasons[1] == "not registered in replica set rs");
  CHECK(r.reasons[2] == "database unreachable: connection refused");
  CHECK(r.reasons[3] == "waiting for the handover of 2 assigned partitions");
  CHECK(r.reasons[4] == "projection orders stopped on partition 7 at position 1234 by its error policy");
}

TEST_CASE("a self-fenced worker is not ready", "[readiness]") {
  auto s = Ready();
  s.coordination.self_fenced = true;
  CHECK_FALSE(CheckReadiness(s).ready);
}

TEST_CASE("a projection retrying a database error makes the worker unready with the error", "[readiness]") {
  auto s = Ready();
  projd::RunnerStatus runner;
  runner.projection = "stream_stats";
  runner.state = projd::RunnerState::kFailing;
  runner.database_error = true;
  runner.last_error = "canceling statement due to statement timeout";
  s.runners.push_back(runner);
  auto r = CheckReadiness(s);
  CHECK_FALSE(r.ready);
  REQUIRE(r.reasons.size() == 1);
  CHECK(r.reasons[0] == "projection stream_stats retrying a database error: canceling statement due to statement timeout");
  s.runners[0].state = projd::RunnerState::kCaughtUp;  // recovered
  CHECK(CheckReadiness(s).ready);
  s.runners[0].state = projd::RunnerState::kFailing;  // a handler retrying before its policy
  s.runners[0].database_error = false;
  CHECK(CheckReadiness(s).ready);
}

TEST_CASE("failing checkpoint transactions make the worker unready with the error, one blip does not",
          "[readiness]") {
  auto s = Ready();
  s.persistence.circuit_breaker_failure_count = 1;
  s.persistence.last_error = "could not extend file: No space left on device";
  CHECK(CheckReadiness(s).ready);
  s.persistence.circuit_breaker_failure_count = 2;
  auto r = CheckReadiness(s);
  REQUIRE(r.reasons.size() == 1);
  CHECK(r.reasons[0] == "persistence failing (2 transactions in a row): could not extend file: No space left on device");
  s.persistence.circuit_breaker_state = "open";
  r = CheckReadiness(s);
  REQUIRE(r.reasons.size() == 1);
  CHECK(r.reasons[0] == "persistence circuit breaker open: could not extend file: No space left on device");
  s.persistence = {};  // a transaction succeeded: breaker closed, count reset
  CHECK(CheckReadiness(s).ready);
}
