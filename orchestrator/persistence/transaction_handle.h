// TransactionHandle: an open database transaction handed to a transactional unit's
// callback, opaque to the orchestrator library. The Postgres store passes a handle whose
// pqxx::work is reachable through projd::pg::Work(handle) (orchestrator/persistence/pg/pg_transaction.h).
#pragma once

namespace projd {

class TransactionHandle {
 public:
  virtual ~TransactionHandle() = default;
};

}  // namespace projd
