// Read-your-writes waits without a database: the polling loop of `projd wait` (retries
// through database errors until its deadline), the WaitService behind GET /wait (its cap,
// its stop, one read per distinct target) and the /wait parameters and answers.
#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <future>
#include <mutex>

#include <nlohmann/json.hpp>

#include "orchestrator/common/errors.h"
#include "orchestrator/http/wait_endpoint.h"
#include "orchestrator/waits/progress_wait.h"
#include "orchestrator/waits/wait_service.h"
#include "tests/support/fake_clock.h"
#include "tests/support/process.h"

using namespace std::chrono_literals;
using projd::WaitProgress;
using projd::WaitResult;
using projd::WaitTarget;
using projd::testing::FakeClock;

namespace {

projd::Logger Quiet() { return projd::Logger("test", "off", projd::LogFormat::kText); }

WaitProgress Behind(int partition, std::int64_t checkpoint) {
  WaitProgress p;
  p.replica_set = "rs";
  p.lane = "p";
  p.behind.push_back({partition, checkpoint, "w1", false, ""});
  return p;
}

WaitProgress Done() {
  WaitProgress p;
  p.replica_set = "rs";
  p.lane = "p";
  return p;
}

// Answers from a script; once it runs out, the last answer again. Thread-safe.
class ScriptedStore final : public projd::ProgressStore {
 public:
  using Step = std::function<WaitProgress()>;
  explicit ScriptedStore(std::deque<Step> steps) : steps_(std::move(steps)) {}
  WaitProgress Check(const WaitTarget&) override {
    std::lock_guard lock(mu_);
    ++checks_;
    Step step = steps_.front();
    if (steps_.size() > 1) steps_.pop_front();
    return step();
  }
  int checks() const {
    std::lock_guard lock(mu_);
    return checks_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<Step> steps_;
  int checks_ = 0;
};

ScriptedStore::Step Returns(WaitProgress p) {
  return [p] { return p; };
}
ScriptedStore::Step Throws(const std::string& what) {
  return [what]() -> WaitProgress { throw projd::TransientError(what); };
}

}  // namespace

TEST_CASE("projd wait's loop retries database errors until the projection has processed the position",
          "[unit][wait]") {
  FakeClock clock;
  ScriptedStore store({Throws("connection refused"), Throws("terminating connection due to administrator command"),
                       Returns(Behind(3, 7)), Returns(Done())});
  const auto outcome = projd::WaitUntilProcessed(store, {"p", 9, "rs"}, 30s, clock,
                                                 [&](std::chrono::milliseconds d) { clock.Advance(d); }, Quiet());
  CHECK(outcome.processed);
  CHECK(outcome.last_error.empty());
  CHECK(store.checks() == 4);
}

TEST_CASE("projd wait's loop ends at its deadline with the last progress and error", "[unit][wait]") {
  FakeClock clock;
  SECTION("behind") {
    ScriptedStore store({Returns(Behind(3, 7))});
    const auto outcome = projd::WaitUntilProcessed(store, {"p", 9, "rs"}, 2s, clock,
                                                   [&](std::chrono::milliseconds d) { clock.Advance(d); }, Quiet());
    CHECK_FALSE(outcome.processed);
    REQUIRE(outcome.last.behind.size() == 1);
    CHECK(outcome.last.behind[0].partition == 3);
    CHECK(store.checks() > 2);
    const auto text = projd::DescribeBehind({"p", 9, "rs"}, outcome.last);
    CHECK_THAT(text, Catch::Contains("partition 3: checkpoint 7 (owner w1)"));
  }
  SECTION("the database down all along") {
    ScriptedStore store({Throws("connection refused")});
    const auto outcome = projd::WaitUntilProcessed(store, {"p", 9, "rs"}, 2s, clock,
                                                   [&](std::chrono::milliseconds d) { clock.Advance(d); }, Quiet());
    CHECK_FALSE(outcome.processed);
    CHECK_FALSE(outcome.any_read);
    CHECK(outcome.last_error == "connection refused");
  }
  SECTION("timeout 0 still checks once") {
    ScriptedStore store({Returns(Done())});
    CHECK(projd::WaitUntilProcessed(store, {"p", 9, "rs"}, 0s, clock, [&](auto d) { clock.Advance(d); }, Quiet())
              .processed);
  }
}

TEST_CASE("the wait service answers processed waits, times out the others and refuses beyond its cap",
          "[unit][wait]") {
  FakeClock clock;
  auto store = std::make_unique<ScriptedStore>(std::deque<ScriptedStore::Step>{Returns(Behind(1, 1))});
  auto* scripted = store.get();
  projd::WaitService service(std::move(store), clock, Quiet(), {.max_waits = 2});
  std::mutex mu;
  std::vector<WaitResult::Kind> answers;
  auto record = [&](const WaitResult& r) {
    std::lock_guard lock(mu);
    answers.push_back(r.kind);
  };
  REQUIRE(service.Submit({"p", 5, "rs"}, 10s, record));
  REQUIRE(service.Submit({"p", 5, "rs"}, 0s, record));
  CHECK_FALSE(service.Submit({"p", 6, "rs"}, 10s, record));  // the cap
  service.Start();
  // The 0 s wait times out after its first read; the other one stays.
  REQUIRE(projd::testing::WaitFor([&] { return service.pending() == 1; }, 10s));
  {
    std::lock_guard lock(mu);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0] == WaitResult::Kind::kTimedOut);
  }
  CHECK(scripted->checks() >= 1);
  service.Stop();  // the pending one is answered as stopped
  std::lock_guard lock(mu);
  REQUIRE(answers.size() == 2);
  CHECK(answers[1] == WaitResult::Kind::kStopped);
  CHECK_FALSE(service.Submit({"p", 5, "rs"}, 10s, record));
}

TEST_CASE("the wait service answers a wait once its target is processed", "[unit][wait]") {
  FakeClock clock;
  projd::WaitService service(
      std::make_unique<ScriptedStore>(std::deque<ScriptedStore::Step>{
          Throws("connection refused"), Returns(Behind(0, 1)), Returns(Done())}),
      clock, Quiet(), {.max_waits = 4, .error_backoff_max = 200ms});
  service.Start();
  std::promise<WaitResult> answer;
  REQUIRE(service.Submit({"p", 5, "rs"}, 1h, [&](const WaitResult& r) { answer.set_value(r); }));
  auto result = answer.get_future();
  REQUIRE(result.wait_for(30s) == std::future_status::ready);
  CHECK(result.get().kind == WaitResult::Kind::kProcessed);
}

TEST_CASE("GET /wait parameters: projection, position and a bounded timeout", "[unit][wait][http]") {
  std::string error;
  auto q = projd::http::ParseWaitQuery("/wait?projection=stream_stats%402&position=42&timeout=1m30s", "rs", &error);
  REQUIRE(q);
  CHECK(q->target.projection == "stream_stats@2");
  CHECK(q->target.position == 42);
  CHECK(q->target.replica_set == "rs");
  CHECK(q->timeout == 90s);
  q = projd::http::ParseWaitQuery("/wait?position=1&projection=p", "rs", &error);
  REQUIRE(q);
  CHECK(q->timeout == projd::http::kDefaultWaitTimeout);
  for (const std::string bad : {"/wait?position=1", "/wait?projection=p", "/wait?projection=p&position=-1",
                                "/wait?projection=p&position=1x", "/wait?projection=p@0&position=1",
                                "/wait?projection=p&position=1&timeout=6m", "/wait?projection=p&position=1&timeout=x",
                                "/wait?projection=%zz&position=1"}) {
    INFO(bad);
    CHECK_FALSE(projd::http::ParseWaitQuery(bad, "rs", &error));
  }
  projd::http::ParseWaitQuery("/wait?projection=p&position=1&timeout=x", "rs", &error);
  CHECK_THAT(error, Catch::StartsWith("timeout:"));
}

TEST_CASE("GET /wait answers: 200 processed, 504 with the partitions behind, 503 stopping", "[unit][wait][http]") {
  projd::http::WaitQuery q{{"p", 9, "rs"}, 5s};
  CHECK(projd::http::WaitAnswer(q, {WaitResult::Kind::kProcessed, Done(), ""}).status == 200);
  auto paused = Behind(2, 4);
  paused.behind[0].paused = true;
  paused.behind[0].state = "paused";
  const auto timed_out = projd::http::WaitAnswer(q, {WaitResult::Kind::kTimedOut, paused, ""});
  CHECK(timed_out.status == 504);
  const auto body = nlohmann::json::parse(timed_out.body);
  CHECK(body["behind"][0]["partition"] == 2);
  CHECK(body["behind"][0]["paused"] == true);
  CHECK(body["behind"][0]["state"] == "paused");
  CHECK_THAT(body["message"].get<std::string>(), Catch::Contains("partition 2: checkpoint 4 (owner w1, state paused, paused)"));
  CHECK_THAT(body["message"].get<std::string>(), Catch::Contains("projd projections resume p"));
  CHECK(projd::http::WaitAnswer(q, {WaitResult::Kind::kStopped, {}, ""}).status == 503);
  CHECK(projd::http::WaitAnswer(q, {WaitResult::Kind::kFailed, {}, "no function"}).status == 500);
}
