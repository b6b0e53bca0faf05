// PgDeadLetterStore: DeadLetterStore over projd_dead_letters, plus what the
// `projd dead-letters` command needs (list, replay of one aggregate). Records go through
// the unit's transaction; reads use a connection of its own. Not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <span>

#include <pqxx/connection>
#include <pqxx/transaction>

#include "orchestrator/dead_letter_store.h"
#include "orchestrator/event.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

struct DeadLetterRow {
  std::int64_t id = 0;
  std::string projection;
  std::int64_t global_position = 0;
  std::string aggregate_id;
  std::string event_type;
  bool parked = false;
  std::string error;
  std::string created_at;
};

class PgDeadLetterStore final : public DeadLetterStore {
 public:
  explicit PgDeadLetterStore(ConnectionOptions options);
  ~PgDeadLetterStore() override;

  void Record(TransactionHandle& tx, const std::vector<DeadLetter>& letters) override;
  std::set<std::string> ParkedAggregates(const std::string& replica_set, const std::string& projection) override;

  // Dead letters not yet replayed, oldest first ("" = every projection).
  std::vector<DeadLetterRow> List(const std::string& replica_set, const std::string& projection);

  // Replays one aggregate's dead letters of a projection in position order, in one
  // transaction: `handle` gets the events and the transaction; on success they are marked
  // replayed and workers stop parking the aggregate. Returns the number replayed.
  int Replay(const std::string& replica_set, const std::string& projection, const std::string& aggregate_id,
             const std::function<void(std::span<const Event>, pqxx::work&)>& handle);

 private:
  pqxx::connection& Conn();

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace projd::pg
