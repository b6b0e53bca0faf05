// PgProgressStore: ProgressStore over projd_wait_lagging() (migrations/0011_projd_wait.sql),
// on one connection it owns and reopens after a failure. options.client_deadline bounds each
// check on the client side too (SocketDeadline: a frozen server must not hold a worker's
// stop). Not thread-safe.
#pragma once

#include <memory>

#include <pqxx/connection>

#include "orchestrator/pg/connection.h"
#include "orchestrator/pg/socket_deadline.h"
#include "orchestrator/waits/progress_store.h"

namespace projd::pg {

class PgProgressStore final : public ProgressStore {
 public:
  explicit PgProgressStore(ConnectionOptions options);
  ~PgProgressStore() override;

  WaitProgress Check(const WaitTarget& target) override;

 private:
  pqxx::connection& Conn();
  ConnectionOptions options_;
  SocketDeadline deadline_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace projd::pg
