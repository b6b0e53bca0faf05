// projd::Transaction: the unit's database transaction as a transactional projection sees it
// (Handle, Setup, Reset). It runs statements inside the transaction that also commits the
// fenced checkpoint, and it cannot end that transaction:
//
// - there is no commit() or abort(): the runtime commits (read-model writes and checkpoint
//   together) or rolls back;
// - a statement that would end or restart the transaction (COMMIT, END,
//   ROLLBACK other than ROLLBACK TO a savepoint, ABORT, BEGIN, START TRANSACTION, PREPARE
//   TRANSACTION, COMMIT/ROLLBACK PREPARED) is refused with std::logic_error before it is
//   sent, also inside a script of several statements (exec() runs scripts such as a Setup's
//   DDL; they are split at semicolons outside quotes, dollar quotes and comments, and every
//   statement is checked; exec_params() runs exactly one statement): a projection bug,
//   handled by the projection's error policy like any exception from Handle. The
//   projection's own savepoints (SAVEPOINT, RELEASE, ROLLBACK TO) are fine.
//
// So a projection cannot commit its writes without the checkpoint, and a retried batch never
// applies twice. Valid only during the call it is passed to; not thread-safe.
#pragma once

#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace projd {

class Transaction {
 public:
  // For the runtime and for tests of projections: wraps an open transaction.
  explicit Transaction(pqxx::transaction_base& tx, std::stop_token stop = {}) : tx_(tx), stop_(std::move(stop)) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Statements without parameters (a script of several is fine: the last one's result).
  // A failing script ends the transaction's use (the batch fails); a failing single
  // statement can be recovered with ROLLBACK TO a savepoint of the projection's own.
  pqxx::result exec(std::string_view sql);
  void exec0(std::string_view sql) { Expect(exec(sql), 0); }
  pqxx::row exec1(std::string_view sql) { return Expect(exec(sql), 1)[0]; }

  // One statement with $1, $2, ... bound to `args` (arrays: projd/sql_array.h).
  template <typename... Args>
  pqxx::result exec_params(std::string_view sql, Args&&... args) {
    return tx_.exec_params(Checked(sql), std::forward<Args>(args)...);
  }
  template <typename... Args>
  void exec_params0(std::string_view sql, Args&&... args) {
    Expect(exec_params(sql, std::forward<Args>(args)...), 0);
  }
  template <typename... Args>
  pqxx::row exec_params1(std::string_view sql, Args&&... args) {
    return Expect(exec_params(sql, std::forward<Args>(args)...), 1)[0];
  }

  // A named statement of the unit's session, planned once and run many times. Preparing a
  // name again with the same text is harmless (every batch may call it); the text is
  // checked like exec_params'.
  void prepare(const std::string& name, std::string_view sql) { tx_.conn().prepare(name, Checked(sql)); }
  template <typename... Args>
  pqxx::result exec_prepared(const std::string& name, Args&&... args) {
    return tx_.exec_prepared(name, std::forward<Args>(args)...);
  }

  // Quoting for SQL text built by hand (prefer parameters).
  template <typename T>
  std::string quote(const T& value) const {
    return tx_.quote(value);
  }
  std::string quote_name(std::string_view identifier) const { return tx_.quote_name(std::string(identifier)); }

  // Requested when the worker stops or the batch's partitions are being handed over: a
  // long Handle may return early by throwing (the batch is retried by whoever owns it next).
  bool stop_requested() const { return stop_.stop_requested(); }
  const std::stop_token& stop_token() const { return stop_; }

  // True when a statement of `sql` would end or restart the transaction (refused above).
  static bool EndsTransaction(std::string_view sql);
  // The statements of a script (split at semicolons outside quotes and comments).
  static std::vector<std::string_view> Statements(std::string_view sql);

 private:
  std::string Checked(std::string_view sql) const;
  static bool EndsTransaction(const std::vector<std::string_view>& statements);
  [[noreturn]] static void Refuse(std::string_view sql);
  static pqxx::result Expect(pqxx::result r, std::size_t rows);

  pqxx::transaction_base& tx_;
  std::stop_token stop_;
};

}  // namespace projd
