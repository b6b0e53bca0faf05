#include "orchestrator/pg/error_translation.h"

#include <string>

#include <pqxx/except>

#include "orchestrator/errors.h"

namespace projd::pg {

void Rethrow(std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  try {
    throw;
  } catch (const projd::Error&) {
    throw;  // already translated
  } catch (const pqxx::in_doubt_error& e) {
    throw InDoubtError(prefix + e.what());
  } catch (const pqxx::statement_completion_unknown& e) {
    throw InDoubtError(prefix + e.what());
  } catch (const pqxx::broken_connection& e) {
    throw TransientError(prefix + e.what());
  } catch (const pqxx::transaction_rollback& e) {
    throw TransientError(prefix + e.what());
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections,
    // lock_not_available, query_canceled (statement_timeout, pg_cancel_backend).
    if (state.starts_with("57P") || state == "57014" || state == "53300" || state == "55P03" ||
        state.starts_with("08")) {
      throw TransientError(prefix + e.what());
    }
    throw PermanentError(prefix + e.what());
  } catch (const pqxx::failure& e) {
    throw TransientError(prefix + e.what());
  } catch (const std::exception& e) {
    throw PermanentError(prefix + e.what());
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
    if (IsEventDataError(e.sqlstate())) throw HandlerError(e.what());
    Rethrow(what);
  } catch (const pqxx::failure&) {
    Rethrow(what);
  } catch (const std::exception& e) {
    throw HandlerError(e.what());
  }
}

}  // namespace projd::pg
