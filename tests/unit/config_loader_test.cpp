#include <catch2/catch.hpp>

#include "orchestrator/config_loader.h"

using namespace std::chrono_literals;
using projd::LoadConfig;
using projd::SettingSource;

namespace {
bool HasProblem(const projd::LoadedConfig& c, const std::string& needle) {
  for (const auto& p : c.problems) {
    if (p.message.find(needle) != std::string::npos) return true;
  }
  return false;
}
}  // namespace

TEST_CASE("defaults are the documented ones and pass validation", "[config]") {
  const auto c = LoadConfig({}, {});
  REQUIRE(c.ok());
  CHECK(c.config.heartbeat_interval == 5s);
  CHECK(c.config.stale_worker_timeout == 30s);
  CHECK(c.config.coordination_timeout == 60s);
  CHECK(c.config.batch_size == 100);
  CHECK(c.config.partitions == 64);
  CHECK(c.config.persistence_interval == 5s);
  CHECK(c.config.max_pending == 1000);
  CHECK(c.config.database_schema == "public");
  CHECK(c.sources.at("HEARTBEAT_INTERVAL") == SettingSource::kDefault);
}

TEST_CASE("flags override the environment, which overrides defaults", "[config]") {
  const auto c = LoadConfig({{"BATCH_SIZE", "500"}, {"REPLICA_SET", "env-set"}},
                            {{"BATCH_SIZE", "1000"}});
  REQUIRE(c.ok());
  CHECK(c.config.batch_size == 1000);
  CHECK(c.sources.at("BATCH_SIZE") == SettingSource::kFlag);
  CHECK(c.config.replica_set == "env-set");
  CHECK(c.sources.at("REPLICA_SET") == SettingSource::kEnvironment);
}

TEST_CASE("WORKER_NAME defaults to POD_NAME, then the host name", "[config]") {
  CHECK(LoadConfig({{"HOSTNAME", "host-1"}}, {}).config.worker_name == "host-1");
  CHECK(LoadConfig({{"HOSTNAME", "host-1"}, {"POD_NAME", "pod-7"}}, {}).config.worker_name == "pod-7");
  CHECK(LoadConfig({{"POD_NAME", "pod-7"}, {"WORKER_NAME", "w"}}, {}).config.worker_name == "w");
}

TEST_CASE("malformed values name the variable and the value", "[config]") {
  const auto c = LoadConfig({{"HEARTBEAT_INTERVAL", "abc"}, {"BATCH_SIZE", "-1"}, {"PARTITIONS", "12"},
                             {"LOG_LEVEL", "loud"}, {"DATABASE_SCHEMA", "a;b"}, {"REPLICA_SET", ""},
                             {"HTTP_ADDR", "nowhere"}, {"MAX_PENDING", "10x"}},
                            {});
  CHECK_FALSE(c.ok());
  CHECK(HasProblem(c, "HEARTBEAT_INTERVAL=abc"));
  CHECK(HasProblem(c, "BATCH_SIZE=-1: must be positive"));
  CHECK(HasProblem(c, "PARTITIONS=12: must be a power of two"));
  CHECK(HasProblem(c, "LOG_LEVEL=loud"));
  CHECK(HasProblem(c, "DATABASE_SCHEMA=a;b"));
  CHECK(HasProblem(c, "REPLICA_SET=: must not be empty"));
  CHECK(HasProblem(c, "HTTP_ADDR=nowhere"));
  CHECK(HasProblem(c, "MAX_PENDING=10x"));
  CHECK(c.problems.size() == 8);
}

TEST_CASE("sizes and durations must be positive and bounded", "[config]") {
  CHECK(HasProblem(LoadConfig({{"POLL_INTERVAL", "0"}}, {}), "POLL_INTERVAL=0: must be positive"));
  CHECK(HasProblem(LoadConfig({{"PARTITIONS", "8192"}}, {}), "at most 4096"));
  CHECK(HasProblem(LoadConfig({{"BATCH_SIZE", "99999999999999999999"}}, {}), "out of range"));
}

TEST_CASE("cross-field rules are enforced", "[config]") {
  SECTION("stale timeout must exceed the heartbeat") {
    const auto c = LoadConfig({{"HEARTBEAT_INTERVAL", "10s"}, {"STALE_WORKER_TIMEOUT", "10s"}}, {});
    CHECK(HasProblem(c, "STALE_WORKER_TIMEOUT (10s) must be greater than HEARTBEAT_INTERVAL (10s)"));
  }
  SECTION("a stale timeout below three heartbeats is a warning") {
    const auto c = LoadConfig({{"HEARTBEAT_INTERVAL", "12s"}}, {});
    CHECK(c.ok());
    REQUIRE(c.warnings.size() == 1);
    CHECK_THAT(c.warnings[0], Catch::Contains("3 x HEARTBEAT_INTERVAL"));
  }
  SECTION("persistence timeout below force and shutdown timeouts") {
    const auto c = LoadConfig({{"PERSISTENCE_TIMEOUT", "40s"}, {"STALE_WORKER_TIMEOUT", "10m"}}, {});
    CHECK(HasProblem(c, "must be less than FORCE_PERSISTENCE_TIMEOUT"));
    CHECK(HasProblem(c, "must be less than SHUTDOWN_TIMEOUT"));
  }
  SECTION("persistence interval plus timeout within half the stale timeout") {
    const auto c = LoadConfig({{"PERSISTENCE_INTERVAL", "20000"}}, {});
    CHECK(HasProblem(c, "PERSISTENCE_INTERVAL + PERSISTENCE_TIMEOUT (25s) must be at most STALE_WORKER_TIMEOUT / 2 (15s)"));
  }
}

TEST_CASE("PROJECTIONS is a comma-separated list, empty means all", "[config]") {
  CHECK(LoadConfig({}, {}).config.projections.empty());
  CHECK(LoadConfig({{"PROJECTIONS", " a, b ,,c "}}, {}).config.projections ==
        std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("the printed DATABASE_URL never shows the password", "[config]") {
  const auto c = LoadConfig({{"DATABASE_URL", "postgresql://u:hunter2@db/x"}}, {});
  CHECK(projd::ConfigValueText(c.config, "DATABASE_URL") == "postgresql://u:****@db/x");
}
