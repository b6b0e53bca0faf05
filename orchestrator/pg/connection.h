// Opening libpqxx connections the way every projd Postgres component needs them:
// search_path = DATABASE_SCHEMA and application_name given as connection parameters
// (never a session SET, which libpqxx 6.4 would lose on a silent reconnect), and a
// connect failure reported with the password masked. A user's options= in the URL is
// kept: projd's settings are appended to it.
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

// The libpq `options` of a connection: the user's own options= from the URL, then
// -c search_path="<schema>" and each of `settings` (later -c settings win in the server).
std::string ServerOptions(const ConnectionOptions& options);

// Opens a connection. Throws projd::TransientError (unreachable server, with the masked
// URL in the message) or projd::PermanentError (bad URL, authentication failure). No
// message carries the password, in any form libpq accepts (database_url.h).
std::unique_ptr<pqxx::connection> Connect(const ConnectionOptions& options);

}  // namespace projd::pg
