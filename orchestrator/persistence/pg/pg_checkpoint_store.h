// PgCheckpointStore: CheckpointStore over projd_checkpoints on one connection it owns.
//
// Every batch is one transaction and one multi-row statement; its deadline is enforced
// twice: `SET LOCAL statement_timeout` on the server and a client-side cancel
// (PQcancel) when the deadline passes. A cancelled or broken batch is reported as
// InDoubtError (outcome unknown) and the connection is replaced on the next call.
// Not thread-safe (the persistence core serialises its calls).
#pragma once

#include <memory>

#include <pqxx/connection>

#include "orchestrator/persistence/checkpoint_store.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

class PgCheckpointStore final : public CheckpointStore {
 public:
  explicit PgCheckpointStore(ConnectionOptions options);
  // A store whose transactions normally get `usual_timeout` (PERSISTENCE_TIMEOUT): the
  // server-side backstop (statement_timeout, a little after the client's cancel) is then a
  // setting of the session, instead of a SET LOCAL round trip in every transaction; a call
  // with a shorter timeout (the final drain) still sets its own.
  PgCheckpointStore(ConnectionOptions options, std::chrono::milliseconds usual_timeout);
  ~PgCheckpointStore() override;

  WriteOutcome WriteBatch(std::span<const Checkpoint> batch, std::chrono::milliseconds timeout) override;
  UnitOutcome CommitUnit(const TransactionalUnit& unit, std::chrono::milliseconds timeout) override;
  StampResult Stamp(const std::string& replica_set, const std::vector<std::string>& projections,
                    const std::vector<int>& partitions, std::int64_t generation, const std::string& writer) override;
  std::vector<Checkpoint> Read(const std::string& replica_set, const std::string& projection) override;

  // Per projection of a replica set: how many partitions have a row, and the lowest and
  // highest checkpoint (for `projd status`).
  struct Progress {
    std::string projection;
    int partitions = 0;
    std::int64_t min_position = 0;
    std::int64_t max_position = 0;
  };
  std::vector<Progress> Summaries(const std::string& replica_set);

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::chrono::milliseconds session_deadline_{0};  // the session's statement_timeout backstop covers this
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace projd::pg
