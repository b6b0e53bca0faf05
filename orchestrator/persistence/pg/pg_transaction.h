// The Postgres side of TransactionHandle: projection code reaches the open pqxx::work of
// a transactional unit through Work(handle).
#pragma once

#include <pqxx/transaction>

#include "orchestrator/persistence/transaction_handle.h"

namespace projd::pg {

class PgTransactionHandle final : public TransactionHandle {
 public:
  explicit PgTransactionHandle(pqxx::work& work) : work_(work) {}
  pqxx::work& work() { return work_; }

 private:
  pqxx::work& work_;
};

// The transaction behind `handle`. Throws std::bad_cast for a handle of another store.
inline pqxx::work& Work(TransactionHandle& handle) {
  return dynamic_cast<PgTransactionHandle&>(handle).work();
}

}  // namespace projd::pg
