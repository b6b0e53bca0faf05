#include "orchestrator/pg/error_translation.h"

#include <string>

#include <pqxx/except>

#include "orchestrator/config/database_url.h"
#include "orchestrator/common/errors.h"

namespace projd::pg {

void Rethrow(std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  // Messages reach logs, /status and /readyz: no password in any form (database_url.h).
  auto message = [&prefix](const std::exception& e) { return MaskSecrets(prefix + e.what()); };
  try {
    throw;
  } catch (const projd::Error&) {
    throw;  // already translated
  } catch (const pqxx::in_doubt_error& e) {
    throw InDoubtError(message(e));
  } catch (const pqxx::statement_completion_unknown& e) {
    throw InDoubtError(message(e));
  } catch (const pqxx::broken_connection& e) {
    throw TransientError(message(e));
  } catch (const pqxx::transaction_rollback& e) {
    throw TransientError(message(e));
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections,
    // lock_not_available, query_canceled (statement_timeout, pg_cancel_backend).
    if (state.starts_with("57P") || state == "57014" || state == "53300" || state == "55P03" ||
        state.starts_with("08")) {
      throw TransientError(message(e));
    }
    throw PermanentError(message(e));
  } catch (const pqxx::failure& e) {
    throw TransientError(message(e));
  } catch (const std::exception& e) {
    throw PermanentError(message(e));
  }
}

bool IsEventDataError(std::string_view sqlstate) {
  return sqlstate.starts_with("22") || sqlstate.starts_with("23");
}

void RethrowFromHandler(std::string_view what) {
  try {
    throw;
  } catch (const projd::Error&) {
    throw;
  } catch (const HandlerError&) {
    throw;
  } catch (const pqxx::sql_error& e) {
    if (IsEventDataError(e.sqlstate())) throw HandlerError(MaskSecrets(e.what()));
    Rethrow(what);
  } catch (const pqxx::failure&) {
    Rethrow(what);
  } catch (const std::exception& e) {
    throw HandlerError(MaskSecrets(e.what()));
  }
}

}  // namespace projd::pg
