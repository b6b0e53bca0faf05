// The one place where libpqxx exceptions become projd's error classes
// (orchestrator/common/errors.h). Call sites wrap Postgres work in Translate(...) or catch
// pqxx errors and call Rethrow() inside the catch block.
#pragma once

#include <exception>
#include <string_view>
#include <utility>

namespace projd::pg {

// Rethrows the exception currently being handled as a projd error class:
//   pqxx::broken_connection, 57014 (statement timeout/cancel), 57P0x -> TransientError
//   pqxx::transaction_rollback (40001 serialization, 40P01 deadlock) -> TransientError
//   pqxx::in_doubt_error, statement_completion_unknown             -> InDoubtError
//   anything else from pqxx (syntax, constraint, ...)             -> PermanentError
// `what` names the operation for the message. Must be called inside a catch block.
[[noreturn]] void Rethrow(std::string_view what);

// Sorts an exception that escaped a projection's Handle (the runtime calls this, not the
// projection). Must be called inside a catch block:
//   projd::Error, projd::HandlerError                  -> rethrown as they are
//   pqxx::sql_error of SQLSTATE class 22 (data exception: invalid input, a bad cast, numeric
//   out of range) or 23 (integrity constraint violation) -> HandlerError: the event's data
//                                                         broke the projection's own SQL
//   every other pqxx::failure (connection lost, cancel or statement timeout, lock timeout,
//   deadlock, serialization failure, admin shutdown, read-only, disk full, out of memory,
//   too many connections, insufficient privilege, an undefined table...) -> Rethrow(what):
//                                                         a database error, retried forever
//   anything else (the projection's own exceptions, pqxx::usage_error, conversion errors)
//                                                      -> HandlerError with the same text
// Every message it makes is masked like Rethrow's (MaskSecrets, database_url.h).
[[noreturn]] void RethrowFromHandler(std::string_view what);

// True for the SQLSTATE classes that RethrowFromHandler leaves to the error policy.
bool IsEventDataError(std::string_view sqlstate);

// Runs fn(), translating pqxx exceptions via Rethrow(what).
template <typename Fn>
decltype(auto) Translate(std::string_view what, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::exception&) {
    Rethrow(what);
  }
}

}  // namespace projd::pg
