// Config: every setting of a projd worker, with its documented default.
//
// Values come from defaults < environment < command-line flags; cmd/ does the reading
// (the library never calls getenv). See docs/configuration.md for each key, and
// orchestrator/config/config_loader.h for parsing and validation. Plain data; copyable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace projd {

using Duration = std::chrono::milliseconds;

enum class LogFormat { kText, kJson };

struct Config {
  // Database
  std::string database_url;                  // DATABASE_URL (required for most commands)
  std::string database_url_file;             // DATABASE_URL_FILE: a file holding DATABASE_URL
  std::string database_schema = "public";    // DATABASE_SCHEMA

  // Membership and coordination
  std::string replica_set = "default";       // REPLICA_SET
  std::string worker_name;                   // WORKER_NAME (default POD_NAME, then host name)
  Duration heartbeat_interval{5000};         // HEARTBEAT_INTERVAL (at most STALE_WORKER_TIMEOUT / 3 unless set)
  Duration stale_worker_timeout{30000};      // STALE_WORKER_TIMEOUT
  Duration coordination_timeout{60000};      // COORDINATION_TIMEOUT
  int partitions = 64;                       // PARTITIONS (power of two, <= 4096)

  // Reading
  int batch_size = 100;                      // BATCH_SIZE
  Duration poll_interval{1000};              // POLL_INTERVAL
  Duration gap_grace{2000};                  // GAP_GRACE
  std::vector<std::string> projections;      // PROJECTIONS (empty = all registered)
  // EVENTS_READ_URL: hot standbys to read events from, in order of preference (empty = the
  // primary). Checkpoints, coordination and projection transactions stay on DATABASE_URL.
  std::vector<std::string> events_read_urls;
  Duration standby_max_lag{10000};           // STANDBY_MAX_LAG: a standby further behind is skipped
  // STANDBY_FALLBACK: primary = read from DATABASE_URL while no standby can serve; wait =
  // never read events from the primary, wait for a standby.
  bool standby_fallback_primary = true;
  // VERSION_SWITCH: auto = a projection version that has caught up becomes active by itself;
  // manual = it waits, ready, for `projd versions promote`.
  bool version_switch_auto = true;
  // VERSION_RETENTION: how long a retired projection version keeps its tables before a
  // worker drops it; 0 = until `projd versions drop`.
  Duration version_retention{0};

  // Persistence core
  // PERSISTENCE_INTERVAL and PERSISTENCE_TIMEOUT default to 5s each, less when a short
  // STALE_WORKER_TIMEOUT asks for it (config_loader.h, DeriveDefaults).
  Duration persistence_interval{5000};       // PERSISTENCE_INTERVAL
  Duration persistence_timeout{5000};        // PERSISTENCE_TIMEOUT
  Duration force_persistence_timeout{30000}; // FORCE_PERSISTENCE_TIMEOUT
  Duration shutdown_timeout{15000};          // SHUTDOWN_TIMEOUT
  int max_batch_size = 100;                  // MAX_BATCH_SIZE
  int max_pending = 1000;                    // MAX_PENDING
  int circuit_breaker_failure_threshold = 5; // CIRCUIT_BREAKER_FAILURE_THRESHOLD
  Duration circuit_breaker_timeout{60000};   // CIRCUIT_BREAKER_TIMEOUT

  // Operations
  std::string http_addr = "0.0.0.0:9090";    // HTTP_ADDR
  std::string log_level = "info";            // LOG_LEVEL: trace|debug|info|warn|error|critical|off
  LogFormat log_format = LogFormat::kText;   // LOG_FORMAT: text|json
};

}  // namespace projd
