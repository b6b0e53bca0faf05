#include <catch2/catch.hpp>

#include "orchestrator/config/config_loader.h"
#include "orchestrator/config/duration.h"

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

TEST_CASE("VERSION_SWITCH is auto or manual and VERSION_RETENTION 0 keeps retired versions", "[config][versions]") {
  const auto defaults = LoadConfig({}, {});
  CHECK(defaults.config.version_switch_auto);
  CHECK(defaults.config.version_retention.count() == 0);
  CHECK(projd::ConfigValueText(defaults.config, "VERSION_RETENTION") == "0");
  CHECK_FALSE(LoadConfig({{"VERSION_SWITCH", "manual"}}, {}).config.version_switch_auto);
  CHECK(HasProblem(LoadConfig({{"VERSION_SWITCH", "later"}}, {}), "VERSION_SWITCH=later: unknown mode"));
  CHECK(LoadConfig({{"VERSION_RETENTION", "168h"}}, {}).config.version_retention == std::chrono::hours(168));
  CHECK(LoadConfig({{"VERSION_RETENTION", "0"}}, {}).ok());
  CHECK(HasProblem(LoadConfig({{"VERSION_RETENTION", "-5s"}}, {}), "VERSION_RETENTION=-5s"));
}

TEST_CASE("EVENTS_READ_URL lists standbys, STANDBY_MAX_LAG and STANDBY_FALLBACK have documented defaults",
          "[config][standby]") {
  const auto defaults = LoadConfig({}, {});
  CHECK(defaults.config.events_read_urls.empty());
  CHECK(defaults.config.standby_max_lag == 10s);
  CHECK(defaults.config.standby_fallback_primary);
  CHECK(projd::ConfigValueText(defaults.config, "EVENTS_READ_URL") == "(the primary)");
  const auto c = LoadConfig(
      {{"EVENTS_READ_URL",
        " postgresql://r:p%2Cw@s1:5433/db,postgresql://r@s2/db postgres://u@h1:5432,h2:5432/db?target_session_attrs=any "},
       {"STANDBY_MAX_LAG", "30s"},
       {"STANDBY_FALLBACK", "wait"}},
      {});
  REQUIRE(c.ok());
  CHECK(c.config.events_read_urls == std::vector<std::string>{"postgresql://r:p%2Cw@s1:5433/db", "postgresql://r@s2/db",
                                                               "postgres://u@h1:5432,h2:5432/db?target_session_attrs=any"});
  CHECK(c.config.standby_max_lag == 30s);
  CHECK_FALSE(c.config.standby_fallback_primary);
  const auto shown = projd::ConfigValueText(c.config, "EVENTS_READ_URL");
  CHECK(shown.find("p%2Cw") == std::string::npos);
  CHECK(shown.find("s2") != std::string::npos);
  const auto bad = LoadConfig({{"EVENTS_READ_URL", "host=s1 password=hunter22"}}, {});
  CHECK(HasProblem(bad, "EVENTS_READ_URL="));
  for (const auto& p : bad.problems) CHECK(p.message.find("hunter22") == std::string::npos);
  CHECK(HasProblem(LoadConfig({{"STANDBY_FALLBACK", "never"}}, {}), "STANDBY_FALLBACK=never: unknown mode"));
  CHECK(HasProblem(LoadConfig({{"STANDBY_MAX_LAG", "0s"}}, {}), "STANDBY_MAX_LAG"));
}

TEST_CASE("the printed DATABASE_URL never shows the password", "[config]") {
  const auto c = LoadConfig({{"DATABASE_URL", "postgresql://u:hunter2@db/x"}}, {});
  CHECK(projd::ConfigValueText(c.config, "DATABASE_URL") == "postgresql://u:****@db/x");
}

namespace {

projd::SettingMap Settings(const std::string& assignments) {
  projd::SettingMap out;
  std::size_t pos = 0;
  while (pos < assignments.size()) {
    auto end = assignments.find(' ', pos);
    if (end == std::string::npos) end = assignments.size();
    const auto item = assignments.substr(pos, end - pos);
    if (const auto eq = item.find('='); eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("every preset and tuning row of the configuration references starts", "[config]") {
  // docs/configuration.md "Tuning presets", then pupsourcing's configuration reference:
  // its presets and each row of its tuning tables (ranges at both ends), set alone.
  const std::vector<std::pair<std::string, std::string>> presets = {
      {"defaults", ""},
      {"low latency", "POLL_INTERVAL=250ms GAP_GRACE=500ms PERSISTENCE_INTERVAL=1s"},
      {"fast failover", "HEARTBEAT_INTERVAL=1s STALE_WORKER_TIMEOUT=5s COORDINATION_TIMEOUT=15s "
                        "PERSISTENCE_INTERVAL=1s PERSISTENCE_TIMEOUT=1s"},
      {"bulk catch-up", "BATCH_SIZE=1000 MAX_BATCH_SIZE=1000 MAX_PENDING=10000"},
      {"many workers", "HEARTBEAT_INTERVAL=10s STALE_WORKER_TIMEOUT=60s POLL_INTERVAL=2s"},
      {"busy, shared database", "BATCH_SIZE=200 PERSISTENCE_INTERVAL=10s PERSISTENCE_TIMEOUT=10s "
                                "STALE_WORKER_TIMEOUT=60s"},
      {"pupsourcing Development", "HEARTBEAT_INTERVAL=2s STALE_WORKER_TIMEOUT=10s COORDINATION_TIMEOUT=30s BATCH_SIZE=50"},
      {"pupsourcing Standard Production", "HEARTBEAT_INTERVAL=5s STALE_WORKER_TIMEOUT=30s COORDINATION_TIMEOUT=60s BATCH_SIZE=100"},
      {"pupsourcing High Throughput", "HEARTBEAT_INTERVAL=10s STALE_WORKER_TIMEOUT=45s COORDINATION_TIMEOUT=90s BATCH_SIZE=1000"},
      {"pupsourcing Stable with Few Workers", "HEARTBEAT_INTERVAL=15s STALE_WORKER_TIMEOUT=90s COORDINATION_TIMEOUT=120s BATCH_SIZE=200"},
      {"pupsourcing environment example", "HEARTBEAT_INTERVAL=5s STALE_WORKER_TIMEOUT=30s COORDINATION_TIMEOUT=60s BATCH_SIZE=100"},
      {"heartbeat: stable production", "HEARTBEAT_INTERVAL=10s"},
      {"heartbeat: stable production (upper)", "HEARTBEAT_INTERVAL=15s"},
      {"heartbeat: standard", "HEARTBEAT_INTERVAL=5s"},
      {"heartbeat: development, churn", "HEARTBEAT_INTERVAL=2s"},
      {"heartbeat: development, churn (upper)", "HEARTBEAT_INTERVAL=3s"},
      {"stale: stable production", "STALE_WORKER_TIMEOUT=60s"},
      {"stale: standard", "STALE_WORKER_TIMEOUT=30s"},
      {"stale: fast failover required", "STALE_WORKER_TIMEOUT=15s"},
      {"stale: fast failover required (upper)", "STALE_WORKER_TIMEOUT=20s"},
      {"stale: network issues", "STALE_WORKER_TIMEOUT=90s"},
      {"stale: network issues (upper)", "STALE_WORKER_TIMEOUT=120s"},
      {"coordination: small clusters", "COORDINATION_TIMEOUT=60s"},
      {"coordination: large clusters, slow database", "COORDINATION_TIMEOUT=120s"},
      {"coordination: large clusters, slow database (upper)", "COORDINATION_TIMEOUT=180s"},
      {"coordination: fast network", "COORDINATION_TIMEOUT=30s"},
      {"coordination: fast network (upper)", "COORDINATION_TIMEOUT=45s"},
      {"batch: low volume, large events", "BATCH_SIZE=50"},
      {"batch: high volume, small events", "BATCH_SIZE=500"},
      {"batch: high volume, small events (upper)", "BATCH_SIZE=1000"},
      {"batch: complex projections (upper)", "BATCH_SIZE=200"},
  };
  for (const auto& [name, assignments] : presets) {
    for (const bool as_flags : {false, true}) {
      const auto settings = Settings(assignments);
      const auto c = as_flags ? LoadConfig({}, settings) : LoadConfig(settings, {});
      INFO(name << (as_flags ? " (flags)" : " (environment)"));
      std::string problems;
      for (const auto& p : c.problems) problems += p.message + "\n";
      INFO(problems);
      CHECK(c.ok());
      // What the user set is what runs; the derived values satisfy every rule.
      if (settings.count("STALE_WORKER_TIMEOUT")) {
        CHECK(projd::ParseDuration(settings.at("STALE_WORKER_TIMEOUT")) == c.config.stale_worker_timeout);
      }
      CHECK((c.config.persistence_interval + c.config.persistence_timeout) * 2 <= c.config.stale_worker_timeout);
      CHECK(c.config.heartbeat_interval < c.config.stale_worker_timeout);
    }
  }
}

TEST_CASE("unset persistence values follow a short STALE_WORKER_TIMEOUT", "[config]") {
  SECTION("both unset share a third of the budget each") {
    const auto c = LoadConfig({{"STALE_WORKER_TIMEOUT", "12s"}}, {});
    REQUIRE(c.ok());
    CHECK(c.config.persistence_interval == 2s);
    CHECK(c.config.persistence_timeout == 2s);
    CHECK(c.sources.at("PERSISTENCE_INTERVAL") == SettingSource::kDerived);
    CHECK(c.sources.at("PERSISTENCE_TIMEOUT") == SettingSource::kDerived);
    CHECK(c.config.heartbeat_interval == 4s);
    CHECK(c.sources.at("HEARTBEAT_INTERVAL") == SettingSource::kDerived);
  }
  SECTION("one set, the other takes what is left") {
    const auto c = LoadConfig({{"STALE_WORKER_TIMEOUT", "10s"}, {"PERSISTENCE_INTERVAL", "3s"}}, {});
    REQUIRE(c.ok());
    CHECK(c.config.persistence_interval == 3s);
    CHECK(c.config.persistence_timeout == 2s);
  }
  SECTION("a short SHUTDOWN_TIMEOUT shortens the persistence timeout") {
    const auto c = LoadConfig({{"SHUTDOWN_TIMEOUT", "4s"}}, {});
    REQUIRE(c.ok());
    CHECK(c.config.persistence_timeout == 2s);
  }
  SECTION("defaults stay defaults") {
    const auto c = LoadConfig({{"STALE_WORKER_TIMEOUT", "30s"}}, {});
    CHECK(c.config.persistence_interval == 5s);
    CHECK(c.sources.at("PERSISTENCE_INTERVAL") == SettingSource::kDefault);
    CHECK(c.config.heartbeat_interval == 5s);
  }
  SECTION("an explicit contradiction is still a problem naming the variables") {
    const auto c = LoadConfig({{"STALE_WORKER_TIMEOUT", "10s"}, {"PERSISTENCE_TIMEOUT", "5s"}}, {});
    CHECK_FALSE(c.ok());
    CHECK(HasProblem(c, "PERSISTENCE_INTERVAL + PERSISTENCE_TIMEOUT"));
    CHECK(HasProblem(c, "STALE_WORKER_TIMEOUT"));
    const auto d = LoadConfig({{"STALE_WORKER_TIMEOUT", "10s"}, {"HEARTBEAT_INTERVAL", "10s"}}, {});
    CHECK(HasProblem(d, "STALE_WORKER_TIMEOUT (10s) must be greater than HEARTBEAT_INTERVAL (10s)"));
  }
}

TEST_CASE("durations have an upper bound", "[config]") {
  const auto c = LoadConfig({{"POLL_INTERVAL", "9999999h"}, {"GAP_GRACE", "25h"}}, {});
  CHECK(HasProblem(c, "POLL_INTERVAL=9999999h: must be at most 24h0m0s"));
  CHECK(HasProblem(c, "GAP_GRACE=25h: must be at most 24h0m0s"));
  CHECK(LoadConfig({{"CIRCUIT_BREAKER_TIMEOUT", "24h"}}, {}).ok());
}

TEST_CASE("DATABASE_URL can come from a file", "[config]") {
  std::string asked;
  const projd::FileReader reader = [&asked](const std::string& path, std::string* error) -> std::optional<std::string> {
    asked = path;
    if (path == "/secrets/url") return std::string("postgresql://u:from-file@db/x\n");
    if (path == "/secrets/empty") return std::string("\n");
    *error = "Permission denied";
    return std::nullopt;
  };
  SECTION("its trailing newline is stripped") {
    const auto c = LoadConfig({{"DATABASE_URL_FILE", "/secrets/url"}}, {}, reader);
    REQUIRE(c.ok());
    CHECK(asked == "/secrets/url");
    CHECK(c.config.database_url == "postgresql://u:from-file@db/x");
    CHECK(c.sources.at("DATABASE_URL") == SettingSource::kFile);
    CHECK(projd::ConfigValueText(c.config, "DATABASE_URL") == "postgresql://u:****@db/x");
  }
  SECTION("both set is a problem naming both") {
    for (const bool flag : {false, true}) {
      const auto c = flag ? LoadConfig({{"DATABASE_URL_FILE", "/secrets/url"}}, {{"DATABASE_URL", "postgresql://db/x"}}, reader)
                          : LoadConfig({{"DATABASE_URL_FILE", "/secrets/url"}, {"DATABASE_URL", "postgresql://db/x"}}, {}, reader);
      CHECK(HasProblem(c, "DATABASE_URL and DATABASE_URL_FILE are both set"));
    }
  }
  SECTION("an unreadable or empty file is a problem naming the variable") {
    CHECK(HasProblem(LoadConfig({{"DATABASE_URL_FILE", "/secrets/none"}}, {}, reader),
                     "DATABASE_URL_FILE=/secrets/none: cannot read: Permission denied"));
    CHECK(HasProblem(LoadConfig({{"DATABASE_URL_FILE", "/secrets/empty"}}, {}, reader),
                     "DATABASE_URL_FILE=/secrets/empty: the file is empty"));
  }
}
