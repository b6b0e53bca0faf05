// Opening libpqxx connections the way every projd Postgres component needs them:
// search_path = DATABASE_SCHEMA and application_name given as connection parameters
// (never a session SET, which libpqxx 6.4 would lose on a silent reconnect), bounded
// waits on the network and the server (connect_timeout, TCP keepalives, tcp_user_timeout,
// statement_timeout: ConnectionTimeouts), and a connect failure reported with the password
// masked. A user's options= in the URL is kept: projd's settings are appended to it. A
// timeout the user set in the URL (connect_timeout=, keepalives...=, tcp_user_timeout=, or
// -c statement_timeout in options=) wins over projd's.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/connection>

#include "orchestrator/config/connection_timeouts.h"

namespace projd::pg {

struct ConnectionOptions {
  std::string url;                          // DATABASE_URL
  std::string schema = "public";            // DATABASE_SCHEMA (validated identifier)
  std::string application_name = "projd";   // shows in pg_stat_activity
  // Extra server settings for this connection (-c name=value), e.g. for readers
  // max_parallel_workers_per_gather=0. Connection parameters survive silent reconnects.
  // These win over the same settings in the user's options=.
  std::vector<std::pair<std::string, std::string>> settings;
  // Network and server timeouts; the defaults suit STALE_WORKER_TIMEOUT=30s and set no
  // statement timeout (`projd run` derives them per role from the configuration).
  ConnectionTimeouts timeouts;
  // A projection version's schema, searched before `schema` (unqualified names of its
  // read model land there); empty = none.
  std::string read_model_schema;
  // A client-side bound for each statement of readers that use it (SocketDeadline: for
  // servers that may hang rather than refuse, the standbys of EVENTS_READ_URL); 0 = none.
  std::chrono::milliseconds client_deadline{0};
};

// The libpq `options` of a connection: the user's own options= from the URL, then
// -c search_path="<read_model_schema>","<schema>" (or just "<schema>") and each of `settings` (later -c settings win in the server),
// then -c statement_timeout=<ms> when timeouts.statement is set and the user's options= do
// not set statement_timeout.
std::string ServerOptions(const ConnectionOptions& options);

// The connection string Connect() hands to libpq: the URL with options= (ServerOptions),
// application_name, and each parameter of timeouts.LibpqParameters() the URL does not set.
// It carries the password: never log it (MaskDatabaseUrl first).
std::string ConnInfo(const ConnectionOptions& options);

// Opens a connection. Throws projd::TransientError (unreachable server, with the masked
// URL in the message) or projd::PermanentError (bad URL, authentication failure). No
// message carries the password, in any form libpq accepts (database_url.h).
std::unique_ptr<pqxx::connection> Connect(const ConnectionOptions& options);

}  // namespace projd::pg
