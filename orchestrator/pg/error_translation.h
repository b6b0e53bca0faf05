// The one place where libpqxx exceptions become projd's error classes
// (orchestrator/errors.h). Call sites wrap Postgres work in Translate(...) or catch
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
