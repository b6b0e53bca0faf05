// WorkerStartup (`projd run` before its worker exists) over fake steps and an injected wait:
// no database, no sleeps.
#include <catch2/catch.hpp>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include "orchestrator/runtime/worker_startup.h"

using namespace std::chrono_literals;
using projd::StartupSteps;
using projd::WorkerStartup;

namespace {

// A projection as the start-up sees it: Setup calls counted on the instance.
struct FakeProjection {
  std::string name;
  int set_ups = 0;
};

// The registry's factory, counting every instance it creates.
struct CountingFactory {
  int created = 0;
  std::vector<std::unique_ptr<FakeProjection>> Create(const std::vector<std::string>& names) {
    std::vector<std::unique_ptr<FakeProjection>> out;
    for (const auto& n : names) {
      ++created;
      out.push_back(std::make_unique<FakeProjection>(FakeProjection{n}));
    }
    return out;
  }
};

struct FakeParts {
  int connection = 0;  // which connect() call made them
};

struct FakeWorker {
  FakeParts parts;
  std::vector<std::unique_ptr<FakeProjection>> projections;
};

using Steps = StartupSteps<FakeProjection, FakeParts, FakeWorker>;

struct Fixture {
  std::ostringstream log;
  // The injected wait: every wait asked for (not the 0 ms checks), the reason /readyz showed
  // during it, and a stop that arrives during wait number `stop_during` (0-based; -1 never).
  std::vector<std::chrono::milliseconds> waits;
  std::vector<std::string> reasons;
  int stop_during = -1;
  bool stopped = false;
  WorkerStartup startup{[this](std::chrono::milliseconds timeout) {
                          if (timeout > 0ms) {
                            reasons.push_back(startup.reason());
                            if (static_cast<int>(waits.size()) == stop_during) stopped = true;
                            waits.push_back(timeout);
                          }
                          return stopped;
                        },
                        projd::Backoff(200ms, 5000ms, 42),
                        projd::Logger(std::make_shared<spdlog::logger>(
                                          "worker", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)),
                                      projd::LogFormat::kText),
                        "projd"};

  // What the steps did.
  int migration_checks = 0;
  int connects = 0;
  int builds = 0;
  std::vector<const FakeProjection*> set_up_on;

  // Steps that always succeed, with the schema current.
  Steps Succeeding() {
    Steps s;
    s.pending_migrations = [this] {
      ++migration_checks;
      return std::vector<std::string>{};
    };
    s.set_up = [this](FakeProjection& p) {
      ++p.set_ups;
      set_up_on.push_back(&p);
    };
    s.connect = [this] { return FakeParts{++connects}; };
    s.build = [this](FakeParts parts, std::vector<std::unique_ptr<FakeProjection>> projections) {
      ++builds;
      return std::make_unique<FakeWorker>(FakeWorker{parts, std::move(projections)});
    };
    return s;
  }

  int Lines(const std::string& text) const {
    int n = 0;
    const auto all = log.str();
    for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
    return n;
  }
};

// Backoff(200ms, 5000ms): wait i is within [ceiling/2, ceiling], the ceiling doubling from 200.
void CheckGrowingBackoff(const std::vector<std::chrono::milliseconds>& waits) {
  auto ceiling = 200ms;
  for (std::size_t i = 0; i < waits.size(); ++i) {
    INFO("wait " << i << ": " << waits[i].count() << " ms");
    CHECK(waits[i] >= ceiling / 2);
    CHECK(waits[i] <= ceiling);
    if (i > 0) CHECK(waits[i] >= waits[i - 1]);  // holds below the cap
    ceiling = std::min(ceiling * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace

TEST_CASE("start-up with the database up and the schema current builds the worker at once", "[startup]") {
  Fixture f;
  CountingFactory factory;
  CHECK(f.startup.reason() == "starting: waiting for the database");

  const auto worker = f.startup.Run(factory.Create({"a", "b"}), f.Succeeding());

  REQUIRE(worker);
  REQUIRE(worker->projections.size() == 2);
  CHECK(worker->projections[0]->name == "a");
  CHECK(worker->projections[0]->set_ups == 1);
  CHECK(worker->projections[1]->set_ups == 1);
  CHECK(f.waits.empty());
  CHECK(f.builds == 1);
  CHECK(f.log.str().empty());
}

TEST_CASE("start-up on a schema not migrated yet waits with growing backoff, unready, then proceeds",
          "[startup]") {
  Fixture f;
  CountingFactory factory;
  auto steps = f.Succeeding();
  steps.pending_migrations = [&f] {
    ++f.migration_checks;
    if (f.migration_checks <= 4) return std::vector<std::string>{"0007_partitions.sql", "0008_marks.sql"};
    return std::vector<std::string>{};  // `projd migrate` has run
  };

  const auto worker = f.startup.Run(factory.Create({"a"}), steps);

  REQUIRE(worker);
  CHECK(f.migration_checks == 5);
  REQUIRE(f.waits.size() == 4);
  CheckGrowingBackoff(f.waits);
  for (const auto& r : f.reasons) CHECK(r == "starting: waiting for migrations (run projd migrate)");
  CHECK(f.Lines("schema not migrated yet; waiting for projd migrate") == 4);
  CHECK(f.Lines("pending=2 first=0007_partitions.sql schema=projd retry_in_ms=" + std::to_string(f.waits[0].count())) ==
        1);
  // Nothing was set up while the schema was behind.
  CHECK(worker->projections[0]->set_ups == 1);
  CHECK(f.set_up_on.size() == 1);
}

TEST_CASE("transient errors during start-up are retried on the same projection instances", "[startup]") {
  Fixture f;
  CountingFactory factory;
  auto projections = factory.Create({"a", "b"});
  const FakeProjection* a = projections[0].get();
  const FakeProjection* b = projections[1].get();
  auto steps = f.Succeeding();
  int set_up_calls = 0;
  steps.set_up = [&](FakeProjection& p) {
    ++p.set_ups;
    f.set_up_on.push_back(&p);
    // The database goes away in the middle of the second projection's Setup, twice.
    if (++set_up_calls == 2 || set_up_calls == 4) throw projd::TransientError("connection refused");
  };
  int connect_calls = 0;
  steps.connect = [&] {
    if (++connect_calls == 1) throw projd::TransientError("the database system is starting up");
    return FakeParts{connect_calls};
  };

  const auto worker = f.startup.Run(std::move(projections), steps);

  REQUIRE(worker);
  CHECK(factory.created == 2);  // created once: no factory runs again on a retry
  REQUIRE(worker->projections.size() == 2);
  CHECK(worker->projections[0].get() == a);  // the instances whose Setup ran handle the events
  CHECK(worker->projections[1].get() == b);
  CHECK(a->set_ups == 4);  // Setup is re-run on a retry (idempotent by contract)
  CHECK(b->set_ups == 4);  // attempts 1 and 2 fail in its Setup, 3 in connect(), 4 succeeds
  for (const auto* p : f.set_up_on) CHECK((p == a || p == b));
  CHECK(worker->parts.connection == 2);
  CHECK(f.builds == 1);
  REQUIRE(f.waits.size() == 3);
  CheckGrowingBackoff(f.waits);
  CHECK(f.Lines("database unavailable at start-up; retrying") == 3);
  CHECK(f.Lines("error=\"connection refused\" retry_in_ms=") == 2);
  CHECK(f.Lines("error=\"the database system is starting up\" retry_in_ms=") == 1);
  for (const auto& r : f.reasons) CHECK(r == "starting: waiting for the database");
}

TEST_CASE("a stop during a start-up wait ends the start-up with nothing built", "[startup]") {
  Fixture f;
  CountingFactory factory;
  auto steps = f.Succeeding();

  SECTION("waiting for migrations") {
    steps.pending_migrations = [] { return std::vector<std::string>{"0008_marks.sql"}; };
    f.stop_during = 2;
    CHECK_FALSE(f.startup.Run(factory.Create({"a"}), steps));
    CHECK(f.waits.size() == 3);
    CHECK(f.set_up_on.empty());
    CHECK(f.builds == 0);
  }
  SECTION("waiting for the database") {
    steps.connect = []() -> FakeParts { throw projd::TransientError("connection refused"); };
    f.stop_during = 0;
    CHECK_FALSE(f.startup.Run(factory.Create({"a"}), steps));
    CHECK(f.waits.size() == 1);
    CHECK(f.set_up_on.size() == 1);
    CHECK(f.builds == 0);
  }
  SECTION("before the first step") {
    f.stopped = true;
    CHECK_FALSE(f.startup.Run(factory.Create({"a"}), steps));
    CHECK(f.migration_checks == 0);
    CHECK(f.waits.empty());
    CHECK(f.builds == 0);
  }
}

TEST_CASE("a stop during a start-up step drops what was built, unstarted", "[startup]") {
  Fixture f;
  CountingFactory factory;
  auto steps = f.Succeeding();
  steps.connect = [&f] {
    f.stopped = true;  // the signal arrives while the parts connect
    return FakeParts{1};
  };
  CHECK_FALSE(f.startup.Run(factory.Create({"a"}), steps));
  CHECK(f.builds == 1);
  CHECK(f.waits.empty());
}

TEST_CASE("a permanent error during start-up propagates without a retry", "[startup]") {
  Fixture f;
  CountingFactory factory;
  auto steps = f.Succeeding();

  SECTION("from the migrations check") {
    steps.pending_migrations = []() -> std::vector<std::string> {
      throw projd::PermanentError("permission denied for schema projd");
    };
    CHECK_THROWS_AS(f.startup.Run(factory.Create({"a"}), steps), projd::PermanentError);
  }
  SECTION("from a projection's Setup") {
    steps.set_up = [](FakeProjection&) { throw projd::PermanentError("syntax error at or near \"TABEL\""); };
    CHECK_THROWS_AS(f.startup.Run(factory.Create({"a"}), steps), projd::PermanentError);
  }
  SECTION("from connecting the parts") {
    steps.connect = []() -> FakeParts {
      throw projd::PermanentError("events.global_position has no sequence (run projd migrate)");
    };
    CHECK_THROWS_AS(f.startup.Run(factory.Create({"a"}), steps), projd::PermanentError);
  }
  CHECK(f.waits.empty());
  CHECK(f.builds == 0);
  CHECK(f.Lines("retrying") == 0);
}

TEST_CASE("a transient error while building the worker is not retried: the projections are given away",
          "[startup]") {
  Fixture f;
  CountingFactory factory;
  auto steps = f.Succeeding();
  steps.build = [](FakeParts, std::vector<std::unique_ptr<FakeProjection>>) -> std::unique_ptr<FakeWorker> {
    throw projd::TransientError("connection refused");
  };
  CHECK_THROWS_AS(f.startup.Run(factory.Create({"a"}), steps), projd::TransientError);
  CHECK(f.waits.empty());
  CHECK(f.set_up_on.size() == 1);
}
