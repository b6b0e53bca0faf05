// Opening libpqxx connections the way every projd Postgres component needs them:
// search_path = DATABASE_SCHEMA and application_name given as connection parameters
// (never a session SET, which libpqxx 6.4 would lose on a silent reconnect), and a
// connect failure reported with the password masked.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/connection>

namespace projd::pg {

struct ConnectionOptions {
  std::string url;                          // DATABASE_URL
  std::string schema = "public";            // DATABASE_SCHEMA (validated identifier)
  std::string application_name = "projd";   // shows in pg_stat_activity
  // Extra server settings for this connection (-c name=value), e.g. for readers
  // max_parallel_workers_per_gather=0. Connection parameters survive silent reconnects.
  std::vector<std::pair<std::string, std::string>> settings;
};

// Opens a connection. Throws projd::TransientError (unreachable server, with the masked
// URL in the message) or projd::PermanentError (bad URL, authentication failure).
std::unique_ptr<pqxx::connection> Connect(const ConnectionOptions& options);

}  // namespace projd::pg
