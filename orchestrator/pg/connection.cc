#include "orchestrator/pg/connection.h"

#include <pqxx/except>

#include "orchestrator/database_url.h"
#include "orchestrator/errors.h"

namespace projd::pg {

std::unique_ptr<pqxx::connection> Connect(const ConnectionOptions& options) {
  if (options.url.empty()) {
    throw PermanentError("DATABASE_URL is not set");
  }
  if (!IsValidSchemaName(options.schema)) {
    throw PermanentError("DATABASE_SCHEMA '" + options.schema + "' is not a plain identifier");
  }
  std::string server_options = "-c search_path=\"" + options.schema + "\"";
  for (const auto& [name, value] : options.settings) server_options += " -c " + name + "=" + value;
  std::string conninfo = WithConnectionParameter(options.url, "options", server_options);
  conninfo = WithConnectionParameter(conninfo, "application_name", options.application_name);
  try {
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const pqxx::broken_connection& e) {
    std::string msg = e.what();
    // libpq may echo parts of the conninfo; never let a password through.
    throw TransientError("cannot connect to " + MaskDatabaseUrl(options.url) + ": " +
                         MaskDatabaseUrl(msg));
  } catch (const std::exception& e) {
    throw PermanentError("cannot connect to " + MaskDatabaseUrl(options.url) + ": " +
                         MaskDatabaseUrl(e.what()));
  }
}

}  // namespace projd::pg
